package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// The leader has after: progress reviewed after each sweep.
func TestLeaderReviews(t *testing.T) {
	b := setup(t, testsvc.PostgresURL(t), nil)
	var reviews atomic.Int32
	b.queue.cfg.Review = func(context.Context) error { reviews.Add(1); return nil }
	ctx, stop := context.WithCancel(b.ctx)
	end := make(chan error, 1)
	go func() { end <- b.queue.Lead(ctx, func() error { return nil }) }()
	deadline := time.Now().Add(10 * time.Second)
	for reviews.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-end; err != nil {
		t.Fatal(err)
	}
	if n := reviews.Load(); n < 2 {
		t.Errorf("%d reviews", n)
	}
}

// The queue depth counts the runs waiting for any process's worker.
func TestDepth(t *testing.T) {
	b := setup(t, testsvc.PostgresURL(t), nil)
	for _, r := range []struct{ run, sync string }{{"r1", "s"}, {"r2", "t"}, {"r3", "u"}} {
		if _, err := b.queue.Enqueue(b.ctx, queuedRun(r.run, r.sync), engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	takeJob(t, b, "r3", b.queue.ID())
	if _, err := b.store.DB().ExecContext(b.ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '1 minute'
		WHERE args->>'run_id' = 'r2'`); err != nil {
		t.Fatal(err)
	}
	if n, err := b.queue.Depth(b.ctx); err != nil || n != 2 {
		t.Errorf("depth %d, %v; want 2 (one available, one snoozed)", n, err)
	}
}
