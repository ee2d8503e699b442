package state_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// A process whose lock session ends while it lives on (its connection
// dropped, its backend terminated) cannot write the snapshot once another
// process has taken the sync, even on the same generation; the new
// holder's writes go through.
func TestLockLossFencesTheOldHolder(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	a, b := newMachine(t, url), newMachine(t, url)
	ssA := a.store.SnapshotStorage("users")
	releaseA, ok, err := ssA.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock as A: %v, %v", ok, err)
	}
	defer releaseA()
	if err := ssA.Publish(ctx, 0, []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := ssA.AppendDelta(ctx, 0, []byte("a1")); err != nil {
		t.Fatalf("A's write while it holds the lock: %v", err)
	}

	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The timeout makes pg_terminate_backend wait until the backend is
	// gone and its locks with it: without it, B's attempt could come
	// first (it did, once, in CI).
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 30000)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate A's lock session: %d sessions, %v", killed, err)
	}

	ssB := b.store.SnapshotStorage("users")
	releaseB, ok, err := ssB.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock as B after A's session ended: %v, %v", ok, err)
	}
	defer releaseB()

	err = ssA.AppendDelta(ctx, 0, []byte("a2"))
	if !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "users") {
		t.Fatalf("A's write after B took the sync: %v", err)
	}
	if err := ssA.Publish(ctx, 1, []byte(`{"generation":1}`), strings.NewReader("base")); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("A's compaction after B took the sync: %v", err)
	}
	if err := ssB.AppendDelta(ctx, 0, []byte("b1")); err != nil {
		t.Fatalf("B's write: %v", err)
	}
	var groups []string
	if err := ssB.Deltas(ctx, 0, func(g []byte) error { groups = append(groups, string(g)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(groups, ",") != "a1,b1" {
		t.Errorf("stored groups: %q", groups)
	}
}

// A storage whose lock was never taken writes nothing.
func TestWriteWithoutTheLockIsRefused(t *testing.T) {
	m := newMachine(t, testsvc.PostgresURL(t))
	err := m.store.SnapshotStorage("users").Publish(context.Background(), 0, []byte(`{}`), nil)
	if !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "never taken") {
		t.Fatalf("publish without the lock: %v", err)
	}
}
