package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// fakeQueue records what a scheduler with a Queue hands it, as a shared
// queue would: the run saved queued, and one ID per sync while it waits.
type fakeQueue struct {
	store  *state.Store
	mu     sync.Mutex
	queued map[string]string // sync → waiting run
	order  []string
	added  chan string
}

func (q *fakeQueue) Enqueue(ctx context.Context, run *state.Run, opts engine.Options) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id, ok := q.queued[run.Sync]; ok {
		return id, nil
	}
	if err := q.store.SaveRun(ctx, run); err != nil {
		return "", err
	}
	q.queued[run.Sync] = run.ID
	q.order = append(q.order, run.Sync)
	q.added <- run.Sync
	return run.ID, nil
}

func TestQueueTakesTheRuns(t *testing.T) {
	p := project(nil, syncOf(t, "up", "m", "d", "every 1h"), syncOf(t, "down", "m2", "d", "", "up"), syncOf(t, "manual", "m", "d", ""))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	store, err := state.Open(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q := &fakeQueue{store: store, queued: map[string]string{}, added: make(chan string, 10)}
	runner := &fakeRunner{store: store, calls: make(chan *call, 10)}
	clock := newClock(t0)
	s, err := New(Config{Project: p, Runner: runner, Store: store, Clock: clock, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	// A process that does not lead never starts its scheduler, and its
	// triggers still reach the queue.
	id, err := s.Trigger(ctx, "manual", engine.Options{})
	if err != nil || id == "" {
		t.Fatalf("trigger before start: %q, %v", id, err)
	}
	if again, _ := s.Trigger(ctx, "manual", engine.Options{}); again != id {
		t.Errorf("a second trigger while queued got %q, want %q", again, id)
	}
	expectQueued := func(want string) {
		t.Helper()
		select {
		case got := <-q.added:
			if got != want {
				t.Fatalf("queued %s, want %s", got, want)
			}
		case <-time.After(patience):
			t.Fatalf("%s was never queued", want)
		}
	}
	expectQueued("manual")
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Never run, "up" missed its schedule: the start queues it once.
	expectQueued("up")
	if rec, err := store.GetRun(ctx, q.queued["up"]); err != nil || rec.Status != state.StatusQueued {
		t.Fatalf("queued record: %+v, %v", rec, err)
	}
	// As a worker records it: the run history is what the leader reads.
	upRun, _ := store.GetRun(ctx, q.queued["up"])
	finished := t0.Add(time.Minute)
	upRun.Status, upRun.FinishedAt = state.StatusSucceeded, &finished
	if err := store.SaveRun(ctx, upRun); err != nil {
		t.Fatal(err)
	}
	s.Finished(ctx, &engine.Result{Sync: "up", Run: upRun})
	expectQueued("down")
	select {
	case c := <-runner.calls:
		t.Fatalf("the scheduler ran %v itself", c.syncs)
	default:
	}
	if d := s.QueueDepth(); d != 0 {
		t.Errorf("local queue depth %d with a shared queue", d)
	}
	stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
}

// after: [a, b] with a succeeding on one process and b on another: the
// leader, reading the run history, queues c once; no process's own count
// of the runs it saw queues it, and later reviews do not queue it again.
func TestAfterAcrossProcesses(t *testing.T) {
	p := project(nil, syncOf(t, "a", "m", "d", ""), syncOf(t, "b", "m2", "d", ""), syncOf(t, "c", "m3", "d", "", "a", "b"))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	store, err := state.Open(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q := &fakeQueue{store: store, queued: map[string]string{}, added: make(chan string, 10)}
	clock := newClock(t0)
	newScheduler := func() *Scheduler {
		s, err := New(Config{Project: p, Runner: &fakeRunner{store: store, calls: make(chan *call, 10)}, Store: store, Clock: clock, Queue: q})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	leader, one, two := newScheduler(), newScheduler(), newScheduler()
	if err := leader.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A run of sync ends on a worker process, recorded as the engine does.
	finish := func(on *Scheduler, sync string, at time.Time) {
		t.Helper()
		id, err := on.Trigger(ctx, sync, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		<-q.added
		q.taken(sync)
		run, err := store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		run.Status, run.StartedAt, run.FinishedAt = state.StatusSucceeded, at, &at
		if err := store.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		on.Finished(ctx, &engine.Result{Sync: sync, Run: run})
	}
	finish(one, "a", t0.Add(time.Minute))
	finish(two, "b", t0.Add(2*time.Minute))
	select {
	case got := <-q.added:
		t.Fatalf("a process that does not lead queued %s", got)
	default:
	}
	clock.set(t0.Add(3 * time.Minute))
	if err := leader.ReviewAfter(ctx); err != nil {
		t.Fatal(err)
	}
	if got := drain(q.added); len(got) != 1 || got[0] != "c" {
		t.Fatalf("the leader's review queued %v, want [c]", got)
	}
	// c's job is taken (no longer deduplicated by the queue), then c runs:
	// neither the review nor a repeated Finished queues it again.
	q.taken("c")
	for range 3 {
		if err := leader.ReviewAfter(ctx); err != nil {
			t.Fatal(err)
		}
		leader.Finished(ctx, &engine.Result{Sync: "b", Run: &state.Run{Status: state.StatusSucceeded}})
	}
	if got := drain(q.added); len(got) != 0 {
		t.Fatalf("c queued again: %v", got)
	}
	// Once a and b succeed again after c was queued, c is due again.
	finish(one, "a", t0.Add(4*time.Minute))
	finish(two, "b", t0.Add(5*time.Minute))
	if err := leader.ReviewAfter(ctx); err != nil {
		t.Fatal(err)
	}
	if got := drain(q.added); len(got) != 1 || got[0] != "c" {
		t.Fatalf("second round queued %v, want [c]", got)
	}
	stop()
	if err := leader.Wait(); err != nil {
		t.Fatal(err)
	}
}

// taken forgets a sync's waiting run, as a shared queue does once a
// worker takes its job.
func (q *fakeQueue) taken(sync string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.queued, sync)
}

func drain(c chan string) []string {
	var out []string
	for {
		select {
		case s := <-c:
			out = append(out, s)
		default:
			return out
		}
	}
}
