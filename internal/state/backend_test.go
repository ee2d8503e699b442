package state_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// Processes starting together against a new database: one applies the
// migrations, the others wait for it, and all end up with the schema.
func TestPostgresConcurrentStarts(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	stores := make([]*state.Store, len(errs))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = state.Open(ctx, url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	save(t, stores[0], run("r1", "s", t0, state.StatusSucceeded))
	if r := get(t, stores[5], "r1"); r.Sync != "s" {
		t.Errorf("another process reads %+v", r)
	}
}

// An embedded store made before migrations were versioned (and before
// the request log) is brought up to date, its runs kept.
func TestSQLiteLegacyStoreMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE runs (id TEXT PRIMARY KEY, sync TEXT NOT NULL, model TEXT NOT NULL, destination TEXT NOT NULL,
			status TEXT NOT NULL, full_resync INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL, finished_at TEXT,
			counts TEXT NOT NULL DEFAULT '{}', phases TEXT NOT NULL DEFAULT '[]', error TEXT NOT NULL DEFAULT '',
			row_errors INTEGER NOT NULL DEFAULT 0)`,
		`INSERT INTO runs (id, sync, model, destination, status, started_at) VALUES ('old', 's', 'm', 'd', 'succeeded', '2024-05-06T07:08:09.000000000Z')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for range 2 { // and a second open finds nothing to do
		s, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if r := get(t, s, "old"); r.Status != state.StatusSucceeded || r.Requests != 0 {
			t.Errorf("old run: %+v", r)
		}
		r := run("new", "s", t0, state.StatusSucceeded)
		r.Requests = 3
		save(t, s, r)
		if got := get(t, s, "new"); got.Requests != 3 {
			t.Errorf("requests column: %+v", got)
		}
		s.Close()
	}
}

// A bad location is refused with what is wrong, never the password.
func TestOpenRefusals(t *testing.T) {
	ctx := context.Background()
	if _, err := state.Open(ctx, ""); err == nil || !strings.Contains(err.Error(), "no path") {
		t.Errorf("empty location: %v", err)
	}
	_, err := state.Open(ctx, "postgres://riptide:hunter2@127.0.0.1:1/riptide?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "open state store") {
		t.Errorf("unreachable PostgreSQL: %v", err)
	}
}

// A worker that dies (its session ends) frees the sync's lock, and a
// process that lost the sync cannot append to it once another has moved
// it on.
func TestSnapshotLockFollowsTheSession(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	a, b := newMachine(t, url), newMachine(t, url)
	ssA := a.store.SnapshotStorage("users")
	release, ok, err := ssA.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock: %v, %v", ok, err)
	}
	if _, ok, err := b.store.SnapshotStorage("users").TryLock(ctx); err != nil || ok {
		t.Fatalf("second lock while held: %v, %v", ok, err)
	}
	if _, ok, err := b.store.SnapshotStorage("orders").TryLock(ctx); err != nil || !ok {
		t.Fatalf("another sync's lock: %v, %v", ok, err)
	}
	// Kill A's session from outside, as a dead machine's would end.
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The timeout waits until the sessions are gone with their locks.
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid, 30000) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	ssB := b.store.SnapshotStorage("users")
	relB, ok, err := ssB.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock after the holder died: %v, %v", ok, err)
	}
	defer relB()
	if err := release(); err == nil {
		t.Error("releasing a lock whose session died reported success")
	}

	if err := ssB.Publish(ctx, 0, []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := ssB.AppendDelta(ctx, 0, []byte("group")); err != nil {
		t.Fatal(err)
	}
	if err := ssB.Publish(ctx, 1, []byte(`{"generation":1}`), strings.NewReader("base")); err != nil {
		t.Fatal(err)
	}
	if err := ssA.AppendDelta(ctx, 0, []byte("late")); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("append to a generation moved on: %v", err)
	}
}
