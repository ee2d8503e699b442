// Package worker shares the runs of syncs among several `riptide serve`
// processes that use one PostgreSQL state store. Each run is a River job
// (kind sync_run) inserted in the transaction that records the run as
// queued; every process works jobs; the sync's advisory lock (held by the
// engine for the whole run) keeps one run of a sync at a time, and a job
// whose sync another live worker holds is snoozed, not failed.
//
// One process leads (Lead): it holds a session advisory lock, runs the
// scheduler (cron, interval, after) and sweeps for runs whose worker died
// (see sweep). River elects its own leader for its maintenance; ours is
// separate because River does not expose its leadership.
package worker

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// Kind is the River job kind of a run.
const Kind = "sync_run"

// RunArgs are a run's job arguments: the run record (saved as queued
// beside the job) keeps its ID through the run.
type RunArgs struct {
	Sync       string `json:"sync"`
	RunID      string `json:"run_id"`
	FullResync bool   `json:"full_resync"`
	// Resume is set on the job of a run whose worker died, queued again
	// by the leader's sweep.
	Resume bool `json:"resume,omitempty"`
}

// Kind is the job kind River files these arguments under.
func (RunArgs) Kind() string { return Kind }

// InsertOpts gives each job one attempt: a run's failure is the run's
// outcome, recorded in its history, and retrying it is the next run's
// business. It also makes River's rescuer discard, rather than retry, the
// job of a worker that died: the sweep has queued that run again.
func (RunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// Runner carries out runs; *engine.Engine is one.
type Runner interface {
	Run(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error)
}

// Config is what a Queue needs. Store (the PostgreSQL one) and Runner are
// required.
type Config struct {
	Store *state.Store
	// Runner returns the runner of the project in use (serve rebuilds
	// its engine on reload).
	Runner func() Runner
	// ID names this process among the workers (River's client ID, kept in
	// each job it works, and the name of its liveness lock, so two
	// queues of one process need IDs of their own); default hostname-pid.
	ID string
	// Workers is how many runs this process carries out at once
	// (default 10).
	Workers int
	// Snooze is how long a job waits when another worker holds its sync
	// (default 2s).
	Snooze time.Duration
	// SweepEvery is how often the leader looks for runs whose worker died
	// (default 3s).
	SweepEvery time.Duration
	Logger     *slog.Logger
	// Review, when set, is called by the leader after each sweep: serve
	// has its scheduler read after: progress from the run history
	// (scheduler.ReviewAfter), since the upstream runs end on any process.
	Review func(ctx context.Context) error
	// Limit gives a sync's destination and its max_concurrent_syncs (0:
	// no limit), from the project in use; nil: no limits.
	Limit func(sync string) (dest string, max int)
	// OnFinish is called after each run this process carried out ends.
	OnFinish func(*engine.Result)
}

// Queue is this process's share of the work: it queues runs and works
// the jobs of every process's runs.
type Queue struct {
	cfg    Config
	db     *sql.DB
	client *river.Client[*sql.Tx]
	// unregister gives this process's liveness lock back (see alive.go).
	unregister func()
}

// New applies River's migrations and returns a queue that works no job
// until Start.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	switch {
	case cfg.Store == nil || cfg.Store.DB() == nil:
		return nil, errors.New("new worker queue: a PostgreSQL state store is required")
	case cfg.Runner == nil:
		return nil, errors.New("new worker queue: no runner")
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.Snooze <= 0 {
		cfg.Snooze = 2 * time.Second
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	q := &Queue{cfg: cfg, db: cfg.Store.DB()}
	if err := migrate(ctx, q.db); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{q: q})
	client, err := river.NewClient(riverdatabasesql.New(q.db), &river.Config{
		ID:      cfg.ID,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers: workers,
		// A run takes as long as its rows take; the engine's own
		// timeouts bound each request.
		JobTimeout:        -1,
		FetchPollInterval: 500 * time.Millisecond,
		Logger:            cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("new worker queue: %w", err)
	}
	q.client = client
	return q, nil
}

// ID is this process's worker ID.
func (q *Queue) ID() string { return q.cfg.ID }

// migrate applies River's migrations under a session advisory lock, so
// that processes starting at once apply them once. Not in one transaction:
// a River migration adds an enum value that a later one uses, which
// PostgreSQL refuses within one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	defer func() {
		// Ending the session frees the lock whatever happened.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey("river migrations")); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("apply job queue migrations: %w", err)
	}
	return nil
}

// lockKey is one of our advisory locks, in a space of its own (the
// prefix), apart from the syncs' snapshot locks.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("riptide worker\x00" + name))
	return int64(h.Sum64())
}

// Start works jobs until Stop. It first registers this process as a live
// worker, before it can take any job.
func (q *Queue) Start(ctx context.Context) error {
	unregister, err := q.holdAlive(ctx)
	if err != nil {
		return fmt.Errorf("start worker queue: %w", err)
	}
	if err := q.client.Start(ctx); err != nil {
		unregister()
		return fmt.Errorf("start worker queue: %w", err)
	}
	q.unregister = unregister
	return nil
}

// Stop stops fetching jobs and waits for the runs in flight; when they
// outlast timeout they are cancelled (the engine records what the
// destination acknowledged and the run failed).
func (q *Queue) Stop(timeout time.Duration) error {
	// Still registered while its runs end: the sweep must not queue
	// again a run this process is still finishing.
	if q.unregister != nil {
		defer q.unregister()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := q.client.Stop(ctx); err == nil {
		return nil
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := q.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("stop worker queue: %w", err)
	}
	return fmt.Errorf("stop worker queue: runs did not finish within %s and were cancelled", timeout)
}

// Enqueue records run as queued and inserts its job in one transaction,
// and returns its ID. While a run of the sync is already queued (its job
// not yet taken), that run's ID is returned and nothing new is queued.
func (q *Queue) Enqueue(ctx context.Context, run *state.Run, opts engine.Options) (string, error) {
	id := run.ID
	err := q.cfg.Store.InTx(ctx, func(tx *sql.Tx) error {
		// Serialises the processes queuing runs of this sync, so two
		// triggers at once do not both find nothing queued.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("queue "+run.Sync)); err != nil {
			return err
		}
		var queued string
		err := tx.QueryRowContext(ctx, `SELECT r.id FROM runs r JOIN river_job j ON j.args->>'run_id' = r.id
			WHERE r.sync = $1 AND r.status = $2 AND j.kind = $3 AND j.state IN ('available', 'scheduled', 'retryable', 'pending')
			LIMIT 1`, run.Sync, state.StatusQueued, Kind).Scan(&queued)
		switch {
		case err == nil:
			id = queued
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if err := q.cfg.Store.SaveRunTx(ctx, tx, run); err != nil {
			return err
		}
		_, err = q.client.InsertTx(ctx, tx, RunArgs{Sync: run.Sync, RunID: run.ID, FullResync: opts.FullResync}, nil)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("queue a run of %s: %w", run.Sync, err)
	}
	return id, nil
}

// syncWorker carries out a run's job.
type syncWorker struct {
	river.WorkerDefaults[RunArgs]
	q *Queue
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	a := job.Args
	q := w.q
	logger := q.cfg.Logger.With("sync", a.Sync, "run", a.RunID, "worker", q.cfg.ID)
	opts := engine.Options{FullResync: a.FullResync, RunIDs: map[string]string{a.Sync: a.RunID}}
	logger.Debug("run taken", "resume", a.Resume)
	if rec, err := q.cfg.Store.GetRun(ctx, a.RunID); err == nil && rec.FinishedAt != nil &&
		rec.Status != state.StatusQueued && rec.Status != state.StatusRunning {
		// A job queued again for a run that another worker finished
		// after all (one whose liveness session alone was lost): the run
		// happened once, and it must not happen twice.
		logger.Warn("job of a run already finished; nothing to do", "status", rec.Status)
		return nil
	}
	if q.cfg.Limit != nil {
		if dest, max := q.cfg.Limit(a.Sync); max > 0 {
			release, ok, err := q.takeSlot(ctx, dest, max)
			if err != nil {
				return err
			}
			if !ok {
				logger.Debug("destination at its max_concurrent_syncs; run waits", "destination", dest, "for", q.cfg.Snooze)
				return river.JobSnooze(q.cfg.Snooze)
			}
			defer release()
		}
	}
	results, err := q.cfg.Runner().Run(ctx, []string{a.Sync}, opts)
	var res *engine.Result
	if len(results) > 0 {
		res = results[0]
	}
	if res != nil && errors.Is(res.Err, diff.ErrLocked) {
		// Another live worker runs the sync (its run holds the lock):
		// this run waits for it. Snoozing does not use up the attempt.
		logger.Debug("sync busy on another worker; run waits", "for", q.cfg.Snooze)
		return river.JobSnooze(q.cfg.Snooze)
	}
	res = q.settle(ctx, a, res, err)
	logger.Info("run finished on this worker", "status", res.Run.Status, "resume", a.Resume)
	if q.cfg.OnFinish != nil {
		q.cfg.OnFinish(res)
	}
	return nil
}

// settle makes sure the run's record ends finished: a runner that failed
// as a whole leaves it queued.
func (q *Queue) settle(ctx context.Context, a RunArgs, res *engine.Result, runErr error) *engine.Result {
	ctx = context.WithoutCancel(ctx)
	if res == nil {
		if runErr == nil {
			runErr = errors.New("the runner returned no result for it")
		}
		res = &engine.Result{Sync: a.Sync, Err: fmt.Errorf("run %s: %w", a.Sync, runErr)}
	}
	rec, err := q.cfg.Store.GetRun(ctx, a.RunID)
	if err != nil {
		q.cfg.Logger.Error("read a finished run", "sync", a.Sync, "run", a.RunID, "error", err)
		if res.Run == nil {
			res.Run = &state.Run{ID: a.RunID, Sync: a.Sync, Status: state.StatusFailed}
		}
		return res
	}
	if rec.Status == state.StatusQueued || rec.Status == state.StatusRunning {
		why := "the run ended without a result"
		if res.Err != nil {
			why = res.Err.Error()
		}
		now := time.Now().UTC()
		rec.Status, rec.Error, rec.FinishedAt = state.StatusFailed, why, &now
		if err := q.cfg.Store.SaveRun(ctx, rec); err != nil {
			q.cfg.Logger.Error("record a failed run", "sync", a.Sync, "run", a.RunID, "error", err)
		}
		res.Run = rec
	}
	if res.Run == nil {
		res.Run = rec
	}
	return res
}
