package worker

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// takeJob marks a run's job as River does when a worker takes it.
func takeJob(t *testing.T, b *bundle, run, worker string) {
	t.Helper()
	res, err := b.store.DB().ExecContext(b.ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = now(), attempted_by = ARRAY[$2::text] WHERE args->>'run_id' = $1`, run, worker)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d jobs of run %s", n, run)
	}
}

func jobStates(t *testing.T, b *bundle, run string) []string {
	t.Helper()
	rows, err := b.store.DB().QueryContext(b.ctx, `SELECT state::text || ' ' || coalesce(args->>'resume', 'false')
		FROM river_job WHERE args->>'run_id' = $1 ORDER BY id`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// A worker that took a job and died before its run began leaves the run
// queued and the job running: the sweep queues that run again, once, and
// leaves alone a job whose worker lives or whose sync is held.
func TestSweepRequeuesJobsOfDeadWorkers(t *testing.T) {
	url := testsvc.PostgresURL(t)
	b := setup(t, url, nil)
	live := setup(t, url, nil)
	unregister, err := live.queue.holdAlive(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	for _, r := range []struct{ run, sync, worker string }{
		{"dead", "s", "gone-host-1-0000"},
		{"living", "t", live.queue.ID()},
		{"held", "u", "gone-host-2-0000"},
	} {
		if _, err := b.queue.Enqueue(b.ctx, queuedRun(r.run, r.sync), engine.Options{FullResync: r.run == "dead"}); err != nil {
			t.Fatal(err)
		}
		takeJob(t, b, r.run, r.worker)
	}
	// A worker that lost only its liveness session still holds the sync.
	release, ok, err := b.store.SnapshotStorage("u").TryLock(b.ctx)
	if err != nil || !ok {
		t.Fatalf("hold u: %v %v", ok, err)
	}
	defer release()

	for range 3 { // the second and third sweeps find nothing more to do
		if err := b.queue.sweep(b.ctx); err != nil {
			t.Fatal(err)
		}
	}
	for run, want := range map[string]string{
		"dead":   "discarded false,available true",
		"living": "running false",
		"held":   "running false",
	} {
		if got := jobStates(t, b, run); len(got) == 0 || strings.Join(got, ",") != want {
			t.Errorf("jobs of %s: %v, want %s", run, got, want)
		}
	}
	var full bool
	if err := b.store.DB().QueryRowContext(b.ctx, `SELECT (args->>'full_resync')::boolean FROM river_job
		WHERE args->>'run_id' = 'dead' AND state = 'available'`).Scan(&full); err != nil || !full {
		t.Errorf("the new job lost the run's full resync: %v, %v", full, err)
	}
	if rec, _ := b.store.GetRun(b.ctx, "dead"); rec.Status != state.StatusQueued {
		t.Errorf("run dead is %s", rec.Status)
	}
}

// A job for a run that has finished meanwhile does nothing: the run
// happened once.
func TestJobOfFinishedRunDoesNothing(t *testing.T) {
	url := testsvc.PostgresURL(t)
	var calls atomic.Int32
	b := setup(t, url, runnerFunc(nil))
	b.queue.cfg.Runner = func() Runner {
		calls.Add(1)
		return finishRunner(b.store)
	}
	run := queuedRun("r1", "s")
	if _, err := b.queue.Enqueue(b.ctx, run, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	run.Status, run.FinishedAt = state.StatusSucceeded, &now
	if err := b.store.SaveRun(b.ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := b.queue.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && strings.Join(jobStates(t, b, "r1"), ",") != "completed false" {
		time.Sleep(50 * time.Millisecond)
	}
	if err := b.queue.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(jobStates(t, b, "r1"), ","); got != "completed false" || calls.Load() != 0 {
		t.Errorf("job %s, runner called %d times", got, calls.Load())
	}
}
