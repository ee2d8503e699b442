package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

func snapEntry(key string, row uint64) diff.Entry {
	return diff.Entry{KeyHash: diff.KeyHash(key), RowHash: row, Key: key}
}

func snapEntries(t *testing.T, s *diff.Snapshot) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	if err := s.Each(func(e diff.Entry) error { out[e.Key] = e.RowHash; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func snapCommit(t *testing.T, s *diff.Snapshot, set, del []diff.Entry) {
	t.Helper()
	d, err := s.Delta("")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(set, del); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// machine is one process's view: its own connection pool to the shared
// store and its own cache directory.
type machine struct {
	store *state.Store
	dir   string
}

func newMachine(t *testing.T, url string) machine {
	t.Helper()
	s, err := state.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return machine{store: s, dir: filepath.Join(t.TempDir(), "snapshots", "users")}
}

func (m machine) open(t *testing.T) *diff.Snapshot {
	t.Helper()
	snap, err := diff.OpenWith(context.Background(), m.dir, m.store.SnapshotStorage("users"))
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// A snapshot written through one machine is the same snapshot on a second
// machine with an empty cache; a machine that lost its cache after
// committing gets back every committed batch; two machines never hold one
// sync at once.
func TestSnapshotInPostgres(t *testing.T) {
	url := testsvc.PostgresURL(t)
	a, b := newMachine(t, url), newMachine(t, url)

	snap := a.open(t)
	var set []diff.Entry
	want := map[string]uint64{}
	for i := range 3000 {
		k := fmt.Sprintf("user-%05d", i)
		set = append(set, snapEntry(k, uint64(i)))
		want[k] = uint64(i)
	}
	snapCommit(t, snap, set[:1000], nil)
	if err := snap.Compact(); err != nil {
		t.Fatal(err)
	}
	snapCommit(t, snap, set[1000:], []diff.Entry{set[0]})
	delete(want, set[0].Key)
	if _, err := diff.OpenWith(context.Background(), b.dir, b.store.SnapshotStorage("users")); !errors.Is(err, diff.ErrLocked) {
		t.Fatalf("second machine while the first holds the sync: %v", err)
	}
	// A stops without compacting: the last batches are deltas only.
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}

	snap = b.open(t)
	if got := snapEntries(t, snap); !cmp.Equal(got, want) {
		t.Fatalf("second machine: %d entries, want %d (diff %s)", len(got), len(want), cmp.Diff(want, got))
	}
	snapCommit(t, snap, []diff.Entry{snapEntry("late", 7)}, []diff.Entry{set[1]})
	snap.Close()
	want["late"] = 7
	delete(want, set[1].Key)

	// Crash: A's disk is gone, the batches B committed are in PostgreSQL.
	if err := os.RemoveAll(a.dir); err != nil {
		t.Fatal(err)
	}
	snap = a.open(t)
	if got := snapEntries(t, snap); !cmp.Equal(got, want) {
		t.Fatalf("after losing the cache: %s", cmp.Diff(want, got))
	}
	if snap.Len() != uint64(len(want)) {
		t.Errorf("Len %d, want %d", snap.Len(), len(want))
	}
	if err := snap.Reset(); err != nil {
		t.Fatal(err)
	}
	snap.Close()
	snap = b.open(t)
	defer snap.Close()
	if got := snapEntries(t, snap); len(got) != 0 {
		t.Fatalf("after Reset on another machine: %d entries", len(got))
	}
}

// The embedded store keeps snapshots in files only.
func TestSnapshotStorageEmbedded(t *testing.T) {
	s := open(t, backends[0])
	if s.SnapshotStorage("users") != nil || s.Shared() {
		t.Fatal("the embedded store offers snapshot storage")
	}
}
