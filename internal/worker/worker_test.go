package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// runnerFunc is a Runner made of a function.
type runnerFunc func(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error)

func (f runnerFunc) Run(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
	return f(ctx, syncs, opts)
}

type bundle struct {
	ctx   context.Context
	store *state.Store
	queue *Queue
	done  chan *engine.Result
}

var workerIDs atomic.Int32

func setup(t *testing.T, url string, r Runner) *bundle {
	t.Helper()
	ctx := context.Background()
	store, err := state.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := &bundle{ctx: ctx, store: store, done: make(chan *engine.Result, 10)}
	b.queue, err = New(ctx, Config{Store: store, Runner: func() Runner { return r },
		ID:     fmt.Sprintf("test-worker-%d", workerIDs.Add(1)),
		Snooze: 50 * time.Millisecond, SweepEvery: 50 * time.Millisecond,
		OnFinish: func(res *engine.Result) { b.done <- res }})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func queuedRun(id, sync string) *state.Run {
	return &state.Run{ID: id, Sync: sync, Model: "m", Destination: "d", Status: state.StatusQueued, StartedAt: time.Now().UTC()}
}

// finishRunner records each run succeeded, as the engine does.
func finishRunner(store *state.Store) runnerFunc {
	return func(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
		now := time.Now().UTC()
		run := &state.Run{ID: opts.RunIDs[syncs[0]], Sync: syncs[0], Model: "m", Destination: "d",
			Status: state.StatusSucceeded, StartedAt: now, FinishedAt: &now}
		if err := store.StartRun(ctx, run); err != nil {
			return nil, err
		}
		return []*engine.Result{{Sync: syncs[0], Run: run}}, nil
	}
}

func TestNewNeedsPostgres(t *testing.T) {
	store, err := state.Open(context.Background(), t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := New(context.Background(), Config{Store: store, Runner: func() Runner { return nil }}); err == nil {
		t.Fatal("a queue on the embedded store")
	}
}

// Processes starting at once each apply River's migrations, once.
func TestConcurrentStarts(t *testing.T) {
	url := testsvc.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store, err := state.Open(context.Background(), url)
			if err != nil {
				errs[i] = err
				return
			}
			defer store.Close()
			_, errs[i] = New(context.Background(), Config{Store: store, Runner: func() Runner { return nil }})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("start %d: %v", i, err)
		}
	}
}

func TestEnqueueOnceWhileWaiting(t *testing.T) {
	b := setup(t, testsvc.PostgresURL(t), nil)
	first, err := b.queue.Enqueue(b.ctx, queuedRun("r1", "s"), engine.Options{FullResync: true})
	if err != nil || first != "r1" {
		t.Fatalf("enqueue: %q, %v", first, err)
	}
	if again, err := b.queue.Enqueue(b.ctx, queuedRun("r2", "s"), engine.Options{}); err != nil || again != "r1" {
		t.Fatalf("second enqueue while r1 waits: %q, %v", again, err)
	}
	if other, err := b.queue.Enqueue(b.ctx, queuedRun("r3", "t"), engine.Options{}); err != nil || other != "r3" {
		t.Fatalf("another sync: %q, %v", other, err)
	}
	var n int
	var args string
	if err := b.store.DB().QueryRowContext(b.ctx, `SELECT count(*), min(args::text) FROM river_job WHERE args->>'sync' = 's'`).Scan(&n, &args); err != nil {
		t.Fatal(err)
	}
	if n != 1 || args != `{"sync": "s", "run_id": "r1", "full_resync": true}` {
		t.Errorf("%d jobs of s, args %s", n, args)
	}
	if _, err := b.store.GetRun(b.ctx, "r2"); err == nil {
		t.Error("the deduplicated trigger left a record")
	}
}

// A job whose sync another worker holds waits for it, then runs.
func TestLockedSyncSnoozes(t *testing.T) {
	url := testsvc.PostgresURL(t)
	var tries atomic.Int32
	var store *state.Store
	r := runnerFunc(func(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
		if tries.Add(1) <= 3 {
			// As the engine reports it: diff.ErrLocked to errors.Is.
			return []*engine.Result{{Sync: syncs[0], Err: fmt.Errorf("sync s: %w", diff.ErrLocked)}}, nil
		}
		return finishRunner(store)(ctx, syncs, opts)
	})
	b := setup(t, url, r)
	store = b.store
	if _, err := b.queue.Enqueue(b.ctx, queuedRun("r1", "s"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := b.queue.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	defer b.queue.Stop(10 * time.Second)
	select {
	case res := <-b.done:
		if res.Run.Status != state.StatusSucceeded || tries.Load() != 4 {
			t.Errorf("run %s after %d tries", res.Run.Status, tries.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("run never finished (%d tries)", tries.Load())
	}
}

// A run recorded running whose sync lock is free lost its worker: the
// leader queues it again; one whose lock is held is left alone.
func TestSweepResumesOrphanedRuns(t *testing.T) {
	url := testsvc.PostgresURL(t)
	b := setup(t, url, nil)
	for _, r := range []*state.Run{queuedRun("orphan", "s"), queuedRun("alive", "busy")} {
		r.Status = state.StatusRunning
		if err := b.store.SaveRun(b.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	release, ok, err := b.store.SnapshotStorage("busy").TryLock(b.ctx)
	if err != nil || !ok {
		t.Fatalf("hold busy: %v %v", ok, err)
	}
	defer release()
	if err := b.queue.sweep(b.ctx); err != nil {
		t.Fatal(err)
	}
	if rec, _ := b.store.GetRun(b.ctx, "orphan"); rec.Status != state.StatusQueued {
		t.Errorf("orphaned run is %s, want queued again", rec.Status)
	}
	if rec, _ := b.store.GetRun(b.ctx, "alive"); rec.Status != state.StatusRunning {
		t.Errorf("held run is %s, want running", rec.Status)
	}
	var jobs []string
	rows, err := b.store.DB().QueryContext(b.ctx, `SELECT args->>'run_id' || ' ' || (args->>'resume') FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		jobs = append(jobs, s)
	}
	rows.Close()
	if len(jobs) != 1 || jobs[0] != "orphan true" {
		t.Errorf("jobs %v", jobs)
	}
	// Queued again, it is no longer running: a second sweep adds nothing.
	if err := b.queue.sweep(b.ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	b.store.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM river_job`).Scan(&n)
	if n != 1 {
		t.Errorf("%d jobs after a second sweep", n)
	}
}

// One process leads at a time; when it stops, another takes over.
func TestLeadership(t *testing.T) {
	url := testsvc.PostgresURL(t)
	a, b := setup(t, url, nil), setup(t, url, nil)
	var leaders atomic.Int32
	elected := make(chan string, 2)
	lead := func(q *Queue, name string, ctx context.Context, out chan<- error) {
		out <- q.Lead(ctx, func() error { leaders.Add(1); elected <- name; return nil })
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	endA, endB := make(chan error, 1), make(chan error, 1)
	go lead(a.queue, "a", ctxA, endA)
	if got := <-elected; got != "a" {
		t.Fatalf("elected %s", got)
	}
	go lead(b.queue, "b", ctxB, endB)
	time.Sleep(300 * time.Millisecond)
	if n := leaders.Load(); n != 1 {
		t.Fatalf("%d leaders at once", n)
	}
	stopA()
	if err := <-endA; err != nil {
		t.Fatalf("a stopped leading with %v", err)
	}
	select {
	case got := <-elected:
		if got != "b" {
			t.Fatalf("elected %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never took over")
	}
	stopB()
	if err := <-endB; err != nil {
		t.Fatal(err)
	}
}
