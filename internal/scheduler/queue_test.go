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
	upRun, _ := store.GetRun(ctx, q.queued["up"])
	upRun.Status = state.StatusSucceeded
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
