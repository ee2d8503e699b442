package scheduler

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// fakeClock is moved by the test; timers fire when it passes them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*fakeTimer]bool
	// armed receives the time of every timer set in the future, so that
	// a test knows the scheduler is waiting before it moves the clock.
	armed chan time.Time
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waiters: map[*fakeTimer]bool{}, armed: make(chan time.Time, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) At(t time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeTimer{at: t, ch: make(chan time.Time, 1)}
	if !t.After(c.now) {
		w.ch <- c.now
		return w.ch, func() {}
	}
	c.waiters[w] = true
	c.armed <- t
	return w.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.waiters, w)
	}
}

// set moves the clock to t, firing every timer it passes.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	for w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
			delete(c.waiters, w)
		}
	}
}

// call is one Run of the fake runner, waiting for the test to end it.
type call struct {
	syncs []string
	opts  engine.Options
	end   chan string // the status each sync's run ends with
}

// fakeRunner records its runs as the engine does (running, then the
// status the test gives) and blocks each until the test ends it, or its
// context is cancelled.
type fakeRunner struct {
	store *state.Store
	calls chan *call
}

func (r *fakeRunner) Run(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
	c := &call{syncs: slices.Clone(syncs), opts: opts, end: make(chan string, 1)}
	var out []*engine.Result
	for _, name := range syncs {
		run := &state.Run{ID: opts.RunIDs[name], Sync: name, Model: "m", Destination: "d",
			Status: state.StatusRunning, StartedAt: time.Now().UTC()}
		if err := r.store.StartRun(ctx, run); err != nil {
			return nil, err
		}
		out = append(out, &engine.Result{Sync: name, Run: run})
	}
	r.calls <- c
	var status string
	select {
	case status = <-c.end:
	case <-ctx.Done():
		status = state.StatusFailed
	}
	for _, res := range out {
		now := time.Now().UTC()
		res.Run.Status, res.Run.FinishedAt = status, &now
		if status == state.StatusFailed {
			res.Run.Error = "failed on purpose"
			if ctx.Err() != nil {
				res.Run.Error = "cancelled"
			}
			res.Err = errString(res.Run.Error)
		}
		if err := r.store.SaveRun(context.WithoutCancel(ctx), res.Run); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// bundle is one test's scheduler and fakes.
type bundle struct {
	t        *testing.T
	ctx      context.Context
	stop     context.CancelFunc
	clock    *fakeClock
	store    *state.Store
	runner   *fakeRunner
	sched    *Scheduler
	finished chan *engine.Result
}

// t0 is a Saturday, before the 2024 spring change of US clocks.
var t0 = time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)

// project builds a project: destinations with their max_concurrent_syncs
// ("crm=2"), and syncs.
func project(dests map[string]int, syncs ...*config.Sync) *config.Project {
	p := &config.Project{Destinations: map[string]*config.Destination{}, Syncs: map[string]*config.Sync{}}
	for name, limit := range dests {
		p.Destinations[name] = &config.Destination{Name: name, Type: "webhook", MaxConcurrentSyncs: limit}
	}
	for _, s := range syncs {
		p.Syncs[s.Name] = s
	}
	return p
}

// syncOf makes a sync; sched is a schedule as written ("" for manual).
func syncOf(t *testing.T, name, model, dest, sched string, after ...string) *config.Sync {
	t.Helper()
	sc, err := config.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	return &config.Sync{Name: name, Model: model, Destination: dest, Schedule: sc, After: after}
}

func setup(t *testing.T, p *config.Project, now time.Time, seed ...*state.Run) *bundle {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	store, err := state.Open(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, r := range seed {
		if err := store.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	b := &bundle{t: t, ctx: ctx, stop: stop, clock: newClock(now), store: store,
		runner: &fakeRunner{store: store, calls: make(chan *call, 100)}, finished: make(chan *engine.Result, 100)}
	b.sched, err = New(Config{Project: p, Runner: b.runner, Store: store, Clock: b.clock,
		ShutdownTimeout: time.Minute, OnFinish: func(r *engine.Result) { b.finished <- r }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.sched.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		// Cancel the runs a failed test left blocked, so that the
		// scheduler stops without waiting for the fake clock.
		b.sched.cancelRun()
		for {
			select {
			case c := <-b.runner.calls:
				c.end <- state.StatusSucceeded
			case <-b.sched.done:
				return
			}
		}
	})
	return b
}

// patience bounds how long a test waits for something that must happen;
// reaching it is a failure, never part of the test's timing.
const patience = 10 * time.Second

// nextCall waits for the runner to be called and returns the call.
func (b *bundle) nextCall() *call {
	b.t.Helper()
	select {
	case c := <-b.runner.calls:
		return c
	case <-time.After(patience):
		b.t.Fatal("no run started")
		return nil
	}
}

// expectCall waits for a run of exactly syncs (in any order).
func (b *bundle) expectCall(syncs ...string) *call {
	b.t.Helper()
	c := b.nextCall()
	got := slices.Clone(c.syncs)
	sort.Strings(got)
	sort.Strings(syncs)
	if !slices.Equal(got, syncs) {
		b.t.Fatalf("run of %v, want %v", got, syncs)
	}
	return c
}

// end ends a call with status and waits until the scheduler has settled
// its runs.
func (b *bundle) end(c *call, status string) {
	b.t.Helper()
	c.end <- status
	for range c.syncs {
		select {
		case <-b.finished:
		case <-time.After(patience):
			b.t.Fatal("run did not finish")
		}
	}
}

// running checks which syncs run now. Runs start (and are counted) under
// the scheduler's lock in response to a clock move, a trigger or a
// finished run, all of which the test has waited for: this is exact.
func (b *bundle) running(want ...string) {
	b.t.Helper()
	b.sched.mu.Lock()
	got := sortedNames(b.sched.running)
	b.sched.mu.Unlock()
	sort.Strings(want)
	if !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
		b.t.Fatalf("running %v, want %v", got, want)
	}
}

// trigger triggers a run and returns its ID.
func (b *bundle) trigger(sync string) string {
	b.t.Helper()
	id, err := b.sched.Trigger(b.ctx, sync, engine.Options{})
	if err != nil {
		b.t.Fatalf("trigger %s: %v", sync, err)
	}
	return id
}

// status returns a run's recorded status.
func (b *bundle) status(id string) string {
	b.t.Helper()
	r, err := b.store.GetRun(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return r.Status
}

// runs counts a sync's run records.
func (b *bundle) runs(sync string) int {
	b.t.Helper()
	list, err := b.store.ListRuns(context.Background(), sync, 100)
	if err != nil {
		b.t.Fatal(err)
	}
	return len(list)
}

// waitArmed waits until the scheduler set a timer for at.
func (b *bundle) waitArmed(at time.Time) {
	b.t.Helper()
	for {
		select {
		case got := <-b.clock.armed:
			if got.Equal(at) {
				return
			}
		case <-time.After(patience):
			b.t.Fatalf("no timer set for %v", at)
		}
	}
}
