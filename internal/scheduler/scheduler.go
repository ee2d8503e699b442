// Package scheduler decides when syncs run under `riptide serve`: on their
// cron or interval schedules, after the syncs they depend on succeed, and
// when triggered (the API, a dbt or Airflow job). It keeps one run of a
// sync at a time, queues a trigger that arrives meanwhile once, caps the
// syncs writing to a destination at once, runs what it missed while down
// once, and on shutdown lets in-flight runs finish within a bound.
//
// Every queued run is recorded in the state store with status queued as
// soon as it is asked for, and the run that follows keeps that record's ID
// (engine.Options.RunIDs).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// Runner carries out runs; *engine.Engine is one. Syncs given together
// share their models' extractions.
type Runner interface {
	Run(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error)
}

// Errors callers tell apart (the API maps them to 404 and 503).
var (
	ErrUnknownSync = errors.New("unknown sync")
	ErrStopped     = errors.New("scheduler stopped")
)

// DefaultShutdownTimeout bounds how long shutdown waits for in-flight runs.
const DefaultShutdownTimeout = 30 * time.Second

// Config is what a scheduler needs. Project, Runner and Store are
// required.
type Config struct {
	Project *config.Project
	Runner  Runner
	Store   *state.Store
	// Clock defaults to the wall clock.
	Clock  Clock
	Logger *slog.Logger
	// ShutdownTimeout is how long in-flight runs may take to finish once
	// the scheduler is stopped, after which their context is cancelled
	// (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Queue, when set, takes the runs the scheduler queues (a job queue
	// that several processes work, internal/worker): the scheduler then
	// decides only when runs are due and runs none itself, and Finished
	// tells it of runs that ended.
	Queue Queue
	// OnFinish is called after each run ends, with its result (the run
	// record, and the error when it failed), for metrics and alerts. It
	// is called from the run's goroutine and must not block for long.
	OnFinish func(*engine.Result)
}

// Queue records a run as queued and queues it for a worker, returning its
// ID, or the ID of a run of the sync already waiting to start.
type Queue interface {
	Enqueue(ctx context.Context, run *state.Run, opts engine.Options) (string, error)
}

// Scheduler runs a project's syncs when they are due. Create it with New,
// start it with Start, and wait for it with Wait after cancelling Start's
// context.
type Scheduler struct {
	store    *state.Store
	clock    Clock
	logger   *slog.Logger
	timeout  time.Duration
	onFinish func(*engine.Result)
	shared   Queue

	mu      sync.Mutex
	project *config.Project
	runner  Runner
	syncs   map[string]*entry
	queue   []*job          // waiting to start, oldest first
	running map[string]*job // by sync
	perDest map[string]int  // running syncs by destination
	started bool
	stopped bool

	wake      chan struct{}
	inflight  sync.WaitGroup
	runCtx    context.Context
	cancelRun context.CancelFunc
	done      chan struct{}
	err       error
}

// entry is the scheduler's view of one sync.
type entry struct {
	sync   *config.Sync
	timing *timing   // nil: manual, or run only after others
	next   time.Time // the next fire time (timing only)
	// upDone holds the upstream syncs (after:) that have succeeded since
	// this sync's last run was queued; Start derives it from the run
	// history.
	upDone map[string]bool
}

// job is one queued or running run of a sync.
type job struct {
	id   string
	sync string
	opts engine.Options
	dest string // the destination it counts against while it runs
}

// New checks cfg and returns a scheduler that has not started.
func New(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Project == nil:
		return nil, errors.New("new scheduler: no project")
	case cfg.Runner == nil:
		return nil, errors.New("new scheduler: no runner")
	case cfg.Store == nil:
		return nil, errors.New("new scheduler: no state store")
	}
	s := &Scheduler{
		store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger, timeout: cfg.ShutdownTimeout,
		onFinish: cfg.OnFinish, shared: cfg.Queue,
		running: map[string]*job{}, perDest: map[string]int{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultShutdownTimeout
	}
	syncs, err := s.entries(cfg.Project, nil)
	if err != nil {
		return nil, err
	}
	s.project, s.runner, s.syncs = cfg.Project, cfg.Runner, syncs
	return s, nil
}

// entries builds the scheduler's view of a project's syncs, keeping from
// old what still holds: the next fire time of an unchanged schedule and
// the upstream successes a sync still waits on.
func (s *Scheduler) entries(p *config.Project, old map[string]*entry) (map[string]*entry, error) {
	out := make(map[string]*entry, len(p.Syncs))
	now := s.clock.Now()
	for name, sc := range p.Syncs {
		t, err := newTiming(sc.Schedule)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", name, err)
		}
		e := &entry{sync: sc, timing: t, upDone: map[string]bool{}}
		prev := old[name]
		if prev != nil {
			for up := range prev.upDone {
				if slices.Contains(sc.After, up) {
					e.upDone[up] = true
				}
			}
		}
		if t != nil {
			if prev != nil && prev.timing != nil && prev.sync.Schedule == sc.Schedule {
				e.next = prev.next
			} else {
				e.next = t.after(time.Time{}, now)
			}
		}
		out[name] = e
	}
	return out, nil
}

// Start catches up on missed schedules (each sync whose fire time passed
// since its last recorded run is queued once) and on after: sequences
// (see restoreAfterLocked), and runs the scheduler in
// the background until ctx is cancelled; then it stops taking work and
// lets in-flight runs finish (see Wait).
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("start scheduler: already started")
	}
	s.runCtx, s.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	if s.shared == nil {
		// Runs queued in this store by a scheduler that stopped before
		// starting them (a crash) would otherwise stay queued forever.
		n, err := s.store.FailQueued(ctx, "not started: the riptide serve that queued it stopped first")
		if err != nil {
			s.cancelRun()
			return fmt.Errorf("start scheduler: %w", err)
		}
		if n > 0 {
			s.logger.Warn("runs queued by a previous process failed as not started", "runs", n)
		}
	}
	if err := s.restoreAfterLocked(ctx); err != nil {
		s.cancelRun()
		return err
	}
	if err := s.catchUpLocked(ctx); err != nil {
		s.cancelRun()
		return err
	}
	s.started = true
	s.dispatchLocked()
	go s.loop(ctx)
	return nil
}

// Wait blocks until the scheduler has stopped: its context was cancelled
// and in-flight runs ended. The error says which runs had to be cancelled
// because they outlasted the shutdown timeout.
func (s *Scheduler) Wait() error {
	<-s.done
	return s.err
}

// catchUpLocked queues, once, every scheduled sync that missed a fire time
// while no scheduler was running, and sets every sync's next fire time.
func (s *Scheduler) catchUpLocked(ctx context.Context) error {
	now := s.clock.Now()
	for _, name := range sortedNames(s.syncs) {
		e := s.syncs[name]
		if e.timing == nil {
			continue
		}
		last, err := s.store.ListRuns(ctx, name, 1)
		if err != nil {
			return fmt.Errorf("start scheduler: last run of %s: %w", name, err)
		}
		var lastAt time.Time
		if len(last) > 0 {
			lastAt = last[0].StartedAt
		}
		if e.timing.missed(lastAt, len(last) > 0, now) {
			if _, err := s.enqueueLocked(ctx, name, engine.Options{}, "missed schedule"); err != nil {
				return fmt.Errorf("start scheduler: %w", err)
			}
			e.next = e.timing.after(time.Time{}, now)
			continue
		}
		e.next = e.timing.first(lastAt, now)
	}
	return nil
}

// loop wakes at each fire time, queues what is due and starts what may
// run, until ctx is cancelled.
func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	for {
		s.mu.Lock()
		s.fireDueLocked(ctx, s.clock.Now())
		s.dispatchLocked()
		next, ok := s.earliestLocked()
		s.mu.Unlock()

		var timer <-chan time.Time
		release := func() {}
		if ok {
			timer, release = s.clock.At(next)
		}
		select {
		case <-ctx.Done():
			release()
			s.err = s.shutdown()
			return
		case <-timer:
		case <-s.wake:
		}
		release()
	}
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) fireDueLocked(ctx context.Context, now time.Time) {
	for _, name := range sortedNames(s.syncs) {
		e := s.syncs[name]
		if e.timing == nil || e.next.After(now) {
			continue
		}
		if _, err := s.enqueueLocked(ctx, name, engine.Options{}, "schedule"); err != nil {
			s.logger.Error("queue a scheduled run", "sync", name, "error", err)
		}
		e.next = e.timing.after(e.next, now)
	}
}

func (s *Scheduler) earliestLocked() (time.Time, bool) {
	var first time.Time
	for _, e := range s.syncs {
		if e.timing != nil && (first.IsZero() || e.next.Before(first)) {
			first = e.next
		}
	}
	return first, !first.IsZero()
}

// Trigger queues a run of sync and returns its run ID; the run record is
// saved with status queued. While a run of the sync is already queued,
// that run's ID is returned and nothing new is queued (it keeps the
// options it was queued with). A trigger while the sync runs queues the
// next run, which starts when this one ends.
func (s *Scheduler) Trigger(ctx context.Context, sync string, opts engine.Options) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return "", fmt.Errorf("trigger %s: %w", sync, ErrStopped)
	}
	if _, ok := s.syncs[sync]; !ok {
		return "", fmt.Errorf("trigger %s: %w", sync, ErrUnknownSync)
	}
	opts.RunIDs = nil
	id, err := s.enqueueLocked(ctx, sync, opts, "trigger")
	if err != nil {
		return "", err
	}
	if s.started {
		s.dispatchLocked()
	}
	return id, nil
}

// enqueueLocked queues a run of sync unless one is already queued, and
// returns the queued run's ID. Queuing resets the upstream successes the
// sync waits for: they count from its last queued run on.
func (s *Scheduler) enqueueLocked(ctx context.Context, sync string, opts engine.Options, reason string) (string, error) {
	if s.stopped {
		return "", fmt.Errorf("queue a run of %s: %w", sync, ErrStopped)
	}
	e := s.syncs[sync]
	clear(e.upDone)
	for _, j := range s.queue {
		if j.sync == sync {
			return j.id, nil
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("queue a run of %s: %w", sync, err)
	}
	run := &state.Run{
		ID: id.String(), Sync: sync, Model: e.sync.Model, Destination: e.sync.Destination,
		Status: state.StatusQueued, FullResync: opts.FullResync, StartedAt: s.clock.Now().UTC(),
	}
	if s.shared != nil {
		id, err := s.shared.Enqueue(context.WithoutCancel(ctx), run, opts)
		if err != nil {
			return "", err
		}
		s.logger.Info("run queued", "sync", sync, "run", id, "reason", reason)
		return id, nil
	}
	if err := s.store.SaveRun(context.WithoutCancel(ctx), run); err != nil {
		return "", fmt.Errorf("queue a run of %s: %w", sync, err)
	}
	s.queue = append(s.queue, &job{id: run.ID, sync: sync, opts: opts})
	s.logger.Info("run queued", "sync", sync, "run", run.ID, "reason", reason)
	return run.ID, nil
}

// Next returns the sync's next fire time; ok is false for a sync that
// runs only when triggered or after others, and for an unknown sync.
func (s *Scheduler) Next(sync string) (next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.syncs[sync]
	if !found || e.timing == nil {
		return time.Time{}, false
	}
	return e.next, true
}

// QueueDepth is how many runs wait to start.
func (s *Scheduler) QueueDepth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Project returns the project the scheduler currently runs.
func (s *Scheduler) Project() *config.Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.project
}

// Reload replaces the project and the runner that carries out its runs
// (an engine built for it). Runs in flight finish with the runner they
// started with; queued runs of syncs the project no longer has are
// dropped (their records fail with the reason); a schedule that did not
// change keeps its next fire time. Loading the files is the caller's
// business: when they are broken, it keeps the old project running and
// reports the error, and does not call Reload.
func (s *Scheduler) Reload(ctx context.Context, p *config.Project, r Runner) error {
	if p == nil || r == nil {
		return errors.New("reload scheduler: a project and a runner are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("reload scheduler: %w", ErrStopped)
	}
	syncs, err := s.entries(p, s.syncs)
	if err != nil {
		return fmt.Errorf("reload scheduler: %w", err)
	}
	s.project, s.runner, s.syncs = p, r, syncs
	kept := s.queue[:0]
	for _, j := range s.queue {
		if _, ok := syncs[j.sync]; ok {
			kept = append(kept, j)
			continue
		}
		s.failQueued(ctx, j, "not started: the sync was removed from the project")
	}
	s.queue = kept
	if s.started {
		s.dispatchLocked()
		s.poke()
	}
	return nil
}

// failQueued records a queued run that will never start as failed.
func (s *Scheduler) failQueued(ctx context.Context, j *job, why string) {
	ctx = context.WithoutCancel(ctx)
	run, err := s.store.GetRun(ctx, j.id)
	if err != nil {
		s.logger.Error("drop a queued run", "sync", j.sync, "run", j.id, "error", err)
		return
	}
	now := s.clock.Now().UTC()
	run.Status, run.Error, run.FinishedAt = state.StatusFailed, why, &now
	if err := s.store.SaveRun(ctx, run); err != nil {
		s.logger.Error("drop a queued run", "sync", j.sync, "run", j.id, "error", err)
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// The engine is the runner `riptide serve` uses.
var _ Runner = (*engine.Engine)(nil)
