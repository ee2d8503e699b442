package engine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// onSharedStore points a test's engine at the PostgreSQL store at url,
// with a state directory of its own: one worker machine.
func (b *bundle) onSharedStore(url string) *bundle {
	b.t.Helper()
	store, err := state.Open(context.Background(), url)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { store.Close() })
	b.store, b.engine.Store = store, store
	b.engine.StateDir = filepath.Join(b.t.TempDir(), ".riptide")
	return b
}

// With the shared store, a sync's snapshot follows it from one worker to
// another: a second machine, whose state directory has never seen the
// sync, sends only what changed since the first one's run.
func TestSnapshotSharedBetweenWorkers(t *testing.T) {
	url := testsvc.PostgresURL(t)
	first := setup(t).onSharedStore(url)
	first.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "free"))
	res := first.run(Options{})
	if res[0].Err != nil || res[0].Run.Counts.Added != 3 {
		t.Fatalf("first worker: %+v, %v", res[0].Run.Counts, res[0].Err)
	}

	second := setup(t).onSharedStore(url)
	second.wh, second.crm = first.wh, first.crm
	second.engine.Sources["fake"] = first.wh.plugin()
	second.refreshPlugins()
	first.crm.takeOps()
	first.users(row(1, "a@x", "free"), row(2, "b@x", "enterprise"), row(3, "c@x", "free"))
	res = second.run(Options{})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if c := res[0].Run.Counts; c.Added != 0 || c.Changed != 1 || c.Unchanged != 2 || c.Succeeded != 1 {
		t.Fatalf("second worker counts %+v: want only the changed row", c)
	}
	if ops := first.crm.takeOps(); len(ops) != 1 {
		t.Fatalf("second worker sent %v", ops)
	}
}
