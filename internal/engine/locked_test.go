package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/diff"
)

// A sync another process holds fails its run with an error that is
// diff.ErrLocked to errors.Is, still only the redacted text to read.
func TestLockedSyncErrorKeepsItsIdentity(t *testing.T) {
	b := setup(t)
	b.users(row(1, "a@x", "free"))
	held, err := diff.Open(SnapshotDir(b.engine.StateDir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r := b.run(Options{})[0]
	if !errors.Is(r.Err, diff.ErrLocked) || !strings.Contains(r.Err.Error(), diff.ErrLocked.Error()) {
		t.Fatalf("error %v (%T)", r.Err, r.Err)
	}
	if errors.Unwrap(r.Err) != nil {
		t.Errorf("the run's error unwraps to its unredacted cause")
	}
	if ops := b.crm.takeOps(); len(ops) > 0 {
		t.Errorf("a locked sync sent %v", ops)
	}
}
