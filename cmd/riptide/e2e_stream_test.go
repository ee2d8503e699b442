package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/stream"
	"github.com/riptide-data/riptide/internal/streamsync"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestE2EFollow streams a PostgreSQL table into the webhook emulator with
// `run --follow`: the first batch run, then inserts, updates, a row
// leaving the model's filter and a delete as they commit; killed with
// SIGKILL, it resumes from its slot with the changes made meanwhile; after
// Ctrl-C a batch run finds nothing new to send; after a reset, and after
// a change of the mapping, --follow sends the whole model again.
func TestE2EFollow(t *testing.T) {
	t.Parallel()
	db := newStreamDB(t, "users_to_hook")
	pgURL, exec1 := db.url, db.exec
	exec1(`CREATE TABLE users (id int PRIMARY KEY, email text, plan text)`)
	exec1(`INSERT INTO users VALUES (1, 'a@example.com', 'free'), (2, 'b@example.com', 'pro'), (3, 'c@example.com', 'free')`)

	srv := webhooktest.New(webhooktest.WithSecret(secret))
	t.Cleanup(srv.Close)
	p := newProj(t, `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  hook:
    type: webhook
    url: ${HOOK_URL}
    batch_size: 50
    signing_secret: ${HOOK_SECRET}
models:
  users:
    source: pg
    primary_key: id
    sql: select id, email, plan from users where plan <> 'banned'
syncs:
  users_to_hook:
    model: users
    destination: hook
    mode: mirror
    mapping: {email: email, plan: plan}
`)
	p.env = []string{"PG_URL=" + pgURL, "HOOK_URL=" + srv.URL() + "/ingest", "HOOK_SECRET=" + secret}

	f := startFollow(t, p)
	f.waitLine("users_to_hook: following public.users")
	if got := records(srv, 0); got != "upsert 1 free|upsert 2 pro|upsert 3 free" {
		t.Fatalf("first batch run sent %s", got)
	}
	sent := len(srv.Requests())

	exec1(`INSERT INTO users VALUES (4, 'd@example.com', 'pro')`)
	exec1(`UPDATE users SET plan = 'pro' WHERE id = 1`)
	exec1(`UPDATE users SET plan = 'banned' WHERE id = 2`) // leaves the model's filter
	exec1(`DELETE FROM users WHERE id = 3`)
	sent = waitRecords(t, srv, sent, "delete 2|delete 3|upsert 1 pro|upsert 4 pro", f.logs)

	// Killed, it resumes from the slot: no batch run, nothing lost.
	if err := f.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = f.cmd.Wait()
	exec1(`INSERT INTO users VALUES (5, 'e@example.com', 'free')`)
	exec1(`UPDATE users SET plan = 'pro' WHERE id = 5`)
	f = startFollow(t, p)
	f.waitLine("users_to_hook: following public.users")
	// The batch delivered just before the kill may come again if its
	// acknowledgement had not reached the server (at least once).
	again := map[string]bool{"delete 2": true, "delete 3": true, "upsert 1 pro": true, "upsert 4 pro": true}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, ok := records(srv, sent), false
		for _, r := range strings.Split(got, "|") {
			switch {
			case r == "":
			case r == "upsert 5 pro":
				ok = true
			case !again[r]:
				t.Fatalf("after the restart, sent %s: %q is neither new nor the last batch again", got, r)
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, sent %q, want upsert 5 pro; logs:\n%s", got, f.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sent = len(srv.Requests())

	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.waitLine("users_to_hook: stopped")
	if err := f.cmd.Wait(); err != nil {
		t.Fatalf("riptide run --follow: %v; logs:\n%s", err, f.logs.String())
	}
	if got := records(srv, sent); got != "" {
		t.Errorf("sent after the stream stopped: %s", got)
	}

	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=0 chg=0 rem=0 rej=0 ok=0 fail=0" {
		t.Fatalf("batch run after the stream: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}

	// Reset, the sync forgets what it sent: the next --follow sends the
	// whole model again before streaming, though its slot exists.
	if r := p.riptide("reset", "users_to_hook"); r.code != 0 {
		t.Fatalf("reset: exit %d\n%s", r.code, r.stderr)
	}
	sent = len(srv.Requests())
	f = startFollow(t, p)
	f.waitLine("users_to_hook: following public.users")
	if got := records(srv, sent); got != "upsert 1 pro|upsert 4 pro|upsert 5 pro" {
		t.Errorf("the follow after a reset sent %q, want the whole model", got)
	}
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.waitLine("users_to_hook: stopped")
	_ = f.cmd.Wait()

	// A new mapping applies to every row: the next --follow runs the sync
	// in batch first, which sends them all under it.
	yaml, err := os.ReadFile(filepath.Join(p.dir, "riptide.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.write("riptide.yaml", strings.Replace(string(yaml), "mapping: {email: email, plan: plan}", "mapping: {email: email, plan: plan, contact: email}", 1))
	sent = len(srv.Requests())
	f = startFollow(t, p)
	f.waitLine("users_to_hook: following public.users")
	if got := records(srv, sent); got != "upsert 1 pro|upsert 4 pro|upsert 5 pro" {
		t.Errorf("the follow after a mapping change sent %q, want the whole model", got)
	}
	for _, rq := range srv.Requests()[sent:] {
		for _, rec := range rq.Records {
			if rec.Data["contact"] != rec.Data["email"] || rec.Data["contact"] == nil {
				t.Errorf("record %s after the mapping change: %v", rec.Key, rec.Data)
			}
		}
	}
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.waitLine("users_to_hook: stopped")
	_ = f.cmd.Wait()
}

type followProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	logs  *lockedBuffer
}

func startFollow(t *testing.T, p *proj) *followProc {
	t.Helper()
	cmd := exec.Command(riptideBin(t), "-p", p.dir, "run", "users_to_hook", "--follow")
	cmd.Env = append(os.Environ(), p.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &followProc{t: t, cmd: cmd, lines: make(chan string, 100), logs: &lockedBuffer{}}
	cmd.Stderr = f.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
	}()
	return f
}

func (f *followProc) waitLine(want string) {
	f.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				f.t.Fatalf("riptide exited before printing %q; logs:\n%s", want, f.logs.String())
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			f.t.Fatalf("riptide did not print %q; logs:\n%s", want, f.logs.String())
		}
	}
}

// waitRecords waits until the requests from the from-th on carry exactly
// want, and returns the count of requests then.
func waitRecords(t *testing.T, srv *webhooktest.Server, from int, want string, logs *lockedBuffer) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for records(srv, from) != want {
		if time.Now().After(deadline) {
			t.Fatalf("streamed %s, want %s; logs:\n%s", records(srv, from), want, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return len(srv.Requests())
}

// records lists the records the emulator received from the from-th
// request on, sorted: "op key [plan]".
func records(srv *webhooktest.Server, from int) string {
	var out []string
	reqs := srv.Requests()
	for _, rq := range reqs[min(from, len(reqs)):] {
		for _, rec := range rq.Records {
			s := rec.Op + " " + rec.Key
			if rec.Data != nil {
				s += fmt.Sprint(" ", rec.Data["plan"])
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "|")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// streamDB is a database of a stream test's own, on a server with logical
// replication, with a connection to it.
type streamDB struct {
	t     *testing.T
	url   string
	conn  *pgx.Conn
	slots map[string]string // sync → its slot (and publication)
}

// dropSlot drops a test's slot and publication. A follow the test
// killed can leave its replication connection open for a moment (the
// server has not seen it go), which holds the slot: the test's own
// database, so that session is ended first.
func dropSlot(url, name string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid, 30000)
		FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, name); err != nil {
		return fmt.Errorf("end the session holding the slot: %w", err)
	}
	return stream.Drop(ctx, url, name, name)
}

// newStreamDB makes the test's database; the slots of syncs are dropped
// when the test ends, as they must be before the database can be.
func newStreamDB(t *testing.T, syncs ...string) *streamDB {
	t.Helper()
	db := &streamDB{t: t, url: testsvc.PostgresURL(t), slots: map[string]string{}}
	testsvc.LogicalReplication(t, db.url)
	for _, sync := range syncs {
		name, err := streamsync.SlotName(db.url, sync)
		if err != nil {
			t.Fatal(err)
		}
		db.slots[sync] = name
	}
	t.Cleanup(func() {
		for _, name := range db.slots {
			if err := dropSlot(db.url, name); err != nil {
				t.Errorf("drop slot %s: %v", name, err)
			}
		}
	})
	conn, err := pgx.Connect(context.Background(), db.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	db.conn = conn
	return db
}

// exec runs a statement, failing the test if it fails.
func (db *streamDB) exec(q string, args ...any) {
	db.t.Helper()
	if _, err := db.conn.Exec(context.Background(), q, args...); err != nil {
		db.t.Fatalf("%s: %v", q, err)
	}
}
