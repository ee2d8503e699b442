package postgres

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestAcceptanceSuite runs the shared scenarios against the local
// PostgreSQL: a row violating NOT NULL is refused alone, a table locked
// past lock_timeout is the 429 storm, connections lost with their server
// (through a proxy) the 5xx, and a role that does not exist the bad
// credentials (the server trusts local connections, so no password is
// ever wrong).
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(i int, email any) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: id(i), KeyParts: []string{id(i)},
			Fields: []connector.FieldValue{{Name: "id", Value: int64(i + 1)}, {Name: "email", Value: email}, {Name: "plan", Value: "pro"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			admin := testsvc.PostgresURL(t)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, admin)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			if _, err := conn.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, plan text)`); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(admin)
			if err != nil {
				t.Fatal(err)
			}
			proxy := destinationtest.NewProxy(t, u.Host)
			u.Host = proxy.Addr()
			q := u.Query()
			// A lock is waited for this long before the statement fails
			// with lock_not_available (55P03), which is retried.
			q.Set("lock_timeout", "300")
			u.RawQuery = q.Encode()
			bad := *u
			bad.User = url.User("riptide_suite_no_such_role")
			locks := &tableLock{admin: admin}
			return destinationtest.Emulator{
				Settings:       connector.Settings{"url": u.String()},
				BadCredentials: connector.Settings{"url": bad.String()},
				Refusal:        `role "riptide_suite_no_such_role" does not exist`,
				FailNext: func(statuses ...int) {
					if statuses[0] == 429 {
						locks.hold(t, len(statuses))
						return
					}
					proxy.Cut(len(statuses))
				},
				Injected: func() int { return proxy.Failures() + locks.timeouts() },
				Held: func() map[string]bool {
					rows, err := conn.Query(ctx, `SELECT id::text FROM users`)
					if err != nil {
						t.Fatalf("read users back: %v", err)
					}
					ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
					if err != nil {
						t.Fatalf("read users back: %v", err)
					}
					held := map[string]bool{}
					for _, id := range ids {
						held[id] = true
					}
					return held
				},
			}
		},
		Target: connector.Target{Object: "users", Fields: []string{"id", "email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(i, fmt.Sprintf("u%d@example.com", i)) },
		Bad:    func(i int) connector.Record { return rec(i, nil) }, // email NOT NULL
		ID:     id,
		Skip: map[string]string{
			"oversized batch": "postgres: a batch is written in statements under the 65535-parameter limit, in one transaction of any size, so none is refused for its size",
		},
	})
}

// tableLock holds an exclusive lock on users in a transaction of its own
// until the destination's statements have timed out waiting for it n
// times, then releases it.
type tableLock struct {
	admin string
	mu    sync.Mutex
	n     int
}

func (l *tableLock) timeouts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *tableLock) hold(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, l.admin)
	if err != nil {
		t.Fatalf("lock: connect: %v", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("lock: begin: %v", err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatalf("lock users: %v", err)
	}
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatalf("lock: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		defer conn.Close(context.Background())
		defer tx.Rollback(context.Background())
		// A backend that stops waiting for the lock while it is still held
		// has timed out: one failure the destination met.
		waiting := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for l.timeouts() < n && time.Now().Before(deadline) {
			// Activity is read once per transaction unless cleared.
			if _, err := tx.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
				return
			}
			// A statement is its backend and its start: a backend retrying
			// at once is waiting again, in another statement.
			rows, err := tx.Query(ctx, `SELECT pid::text || ' ' || query_start::text FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`, pid)
			if err != nil {
				return
			}
			stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return
			}
			now := map[string]bool{}
			for _, s := range stmts {
				now[s] = true
			}
			l.mu.Lock()
			for p := range waiting {
				if !now[p] {
					l.n++
				}
			}
			l.mu.Unlock()
			waiting = now
			time.Sleep(10 * time.Millisecond)
		}
	}()
}
