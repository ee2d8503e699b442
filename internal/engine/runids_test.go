package engine

import (
	"context"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

// A run queued earlier (by the scheduler) keeps its ID through the run:
// the queued record becomes the finished one, with the time it started
// rather than the time it was queued; a sync without a queued ID gets a
// new record.
func TestRunIDsTakeOverQueuedRecords(t *testing.T) {
	b := setup(t, sync1("a", config.ModeUpsert), sync1("b", config.ModeUpsert))
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"))
	ctx := context.Background()
	queuedAt := time.Now().UTC().Add(-time.Hour)
	queued := &state.Run{ID: "queued-run-a", Sync: "a", Model: "users", Destination: "crm",
		Status: state.StatusQueued, StartedAt: queuedAt}
	if err := b.store.SaveRun(ctx, queued); err != nil {
		t.Fatal(err)
	}

	res := b.run(Options{RunIDs: map[string]string{"a": queued.ID}}, "a", "b")
	if res[0].Run.ID != queued.ID {
		t.Errorf("sync a ran as %q, want the queued run %q", res[0].Run.ID, queued.ID)
	}
	if res[1].Run.ID == "" || res[1].Run.ID == queued.ID {
		t.Errorf("sync b ran as %q, want a new run ID", res[1].Run.ID)
	}
	got, err := b.store.GetRun(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != state.StatusSucceeded || got.Counts.Succeeded != 2 || got.FinishedAt == nil {
		t.Errorf("queued record after the run: status %s, %d succeeded, finished %v; want succeeded, 2, set",
			got.Status, got.Counts.Succeeded, got.FinishedAt)
	}
	if !got.StartedAt.After(queuedAt.Add(30 * time.Minute)) {
		t.Errorf("started_at %v is still the queue time %v", got.StartedAt, queuedAt)
	}
	runs, err := b.store.ListRuns(ctx, "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Errorf("sync a has %d run records, want the queued one only", len(runs))
	}
}
