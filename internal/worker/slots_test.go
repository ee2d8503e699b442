package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestDestinationSlotsAcrossWorkers: a destination's max_concurrent_syncs
// holds across processes. Two workers, three syncs to one destination
// capped at 2: never more than two runs at once, and every run ends.
func TestDestinationSlotsAcrossWorkers(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	var now, peak atomic.Int32
	release := make(chan struct{})
	done := make(chan *engine.Result, 10)
	var queues []*Queue
	for range 2 {
		store, err := state.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		finish := finishRunner(store)
		r := runnerFunc(func(ctx context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
			n := now.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			now.Add(-1)
			return finish(ctx, syncs, opts)
		})
		q, err := New(ctx, Config{Store: store, Runner: func() Runner { return r },
			ID: fmt.Sprintf("test-worker-%d", workerIDs.Add(1)), Workers: 3,
			Snooze: 50 * time.Millisecond, SweepEvery: time.Hour,
			Limit:    func(sync string) (string, int) { return "d", 2 },
			OnFinish: func(res *engine.Result) { done <- res }})
		if err != nil {
			t.Fatal(err)
		}
		queues = append(queues, q)
	}
	for i, s := range []string{"s1", "s2", "s3"} {
		if _, err := queues[i%2].Enqueue(ctx, queuedRun(fmt.Sprint("r", i), s), engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range queues {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(10 * time.Second)
	}
	// Two runs take the two slots; the third waits for one of them.
	deadline := time.After(20 * time.Second)
	for now.Load() < 2 {
		select {
		case <-deadline:
			t.Fatalf("%d runs started, want 2", now.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	for finished := 0; finished < 3; {
		select {
		case release <- struct{}{}:
		case res := <-done:
			if res.Run.Status != state.StatusSucceeded {
				t.Errorf("run %s: %s", res.Run.ID, res.Run.Status)
			}
			finished++
		case <-deadline:
			t.Fatalf("%d of 3 runs finished", finished)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("at most %d runs at once, want 2 (the destination's cap)", p)
	}
}
