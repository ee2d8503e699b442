package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios against the local
// MariaDB: a row violating NOT NULL is refused alone, a table locked past
// lock_wait_timeout is the 429 storm, connections lost with their server
// (through a proxy) the 5xx, and a wrong password for a user of the
// test's own the bad credentials.
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(i int, email any) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: id(i), KeyParts: []string{id(i)},
			Fields: []connector.FieldValue{{Name: "id", Value: int64(i + 1)}, {Name: "email", Value: email}, {Name: "plan", Value: "pro"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			f := setup(t, `CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL, plan VARCHAR(10))`)
			u, err := url.Parse(f.url)
			if err != nil {
				t.Fatal(err)
			}
			dbName := u.Path[1:]
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			user, password, wrong := "riptide_suite_"+hex.EncodeToString(b), "right-"+hex.EncodeToString(b), "wr0ng-"+hex.EncodeToString(b)
			for _, s := range []string{
				fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
				fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", dbName, user),
			} {
				if _, err := f.db.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			t.Cleanup(func() { f.db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
			proxy := destinationtest.NewProxy(t, u.Host)
			u.Host = proxy.Addr()
			// A table lock is waited for a second (the least MariaDB
			// allows) before the statement fails with ER_LOCK_WAIT_TIMEOUT,
			// which is retried.
			u.RawQuery = "lock_wait_timeout=1"
			good, bad := *u, *u
			good.User, bad.User = url.UserPassword(user, password), url.UserPassword(user, wrong)
			locks := &tableLock{db: f.db, schema: dbName}
			return destinationtest.Emulator{
				Settings:       connector.Settings{"url": good.String()},
				BadCredentials: connector.Settings{"url": bad.String()},
				BadSecret:      wrong,
				Refusal:        "Access denied for user",
				FailNext: func(statuses ...int) {
					if statuses[0] == 429 {
						locks.hold(t, len(statuses))
						return
					}
					proxy.Cut(len(statuses))
				},
				Injected: func() int { return proxy.Failures() + locks.timeouts() },
				Held: func() map[string]bool {
					held := map[string]bool{}
					for _, row := range f.dump(t, `SELECT id FROM users`) {
						held[row[0]] = true
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
			"oversized batch": "mysql: statements stay under the 65535-placeholder limit and values too long for one packet are streamed ahead of the statement, so no batch is too large (TestBatchOverMaxAllowedPacket)",
		},
	})
}

// tableLock holds LOCK TABLES users WRITE on a connection of its own until
// the destination's statements have timed out waiting for it n times,
// then unlocks.
type tableLock struct {
	db     *sql.DB
	schema string
	mu     sync.Mutex
	n      int
}

func (l *tableLock) timeouts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *tableLock) hold(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES users WRITE"); err != nil {
		t.Fatalf("lock users: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		defer conn.Close()
		defer conn.ExecContext(context.Background(), "UNLOCK TABLES")
		// A statement (connection and query id) that stops waiting for the
		// lock while it is still held has timed out.
		waiting := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for l.timeouts() < n && time.Now().Before(deadline) {
			rows, err := l.db.QueryContext(ctx, `SELECT CONCAT(ID, ' ', QUERY_ID) FROM information_schema.PROCESSLIST
				WHERE DB = ? AND STATE LIKE 'Waiting for table%lock'`, l.schema)
			if err != nil {
				return
			}
			now := map[string]bool{}
			for rows.Next() {
				var s string
				if rows.Scan(&s) == nil {
					now[s] = true
				}
			}
			rows.Close()
			l.mu.Lock()
			for s := range waiting {
				if !now[s] {
					l.n++
				}
			}
			l.mu.Unlock()
			waiting = now
			time.Sleep(20 * time.Millisecond)
		}
	}()
}
