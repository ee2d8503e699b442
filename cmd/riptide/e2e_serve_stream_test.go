package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/stream"
	"github.com/riptide-data/riptide/internal/streamsync"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestE2EServeStream runs two stream syncs under `riptide serve`: one
// whose model the stream follows change by change, one (a join with an
// aggregate) followed by plans its tables' changes trigger. Both start
// with serve, show their stream in the API and metrics, refuse a
// triggered run, and after the replication connection of one is killed it
// is started again (with a failure alert) and loses nothing; a TRUNCATE
// of the followed table runs the sync in batch.
func TestE2EServeStream(t *testing.T) {
	t.Parallel()
	pgURL := testsvc.PostgresURL(t)
	testsvc.LogicalReplication(t, pgURL)
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	exec1 := func(q string, args ...any) {
		t.Helper()
		if _, err := pg.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	slots := map[string]string{}
	for _, sync := range []string{"live_users", "spend"} {
		name, err := streamsync.SlotName(pgURL, sync)
		if err != nil {
			t.Fatal(err)
		}
		slots[sync] = name
	}
	t.Cleanup(func() {
		for _, name := range slots {
			if err := stream.Drop(context.Background(), pgURL, name, name); err != nil {
				t.Errorf("drop slot %s: %v", name, err)
			}
		}
	})
	exec1(`CREATE TABLE users (id int PRIMARY KEY, email text, plan text, bio text)`)
	exec1(`CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, amount int NOT NULL)`)
	exec1(`INSERT INTO users VALUES (1, 'a@example.com', 'free'), (2, 'b@example.com', 'pro'), (3, 'c@example.com', 'free')`)
	exec1(`INSERT INTO orders VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7)`)

	usersHook := webhooktest.New(webhooktest.WithSecret(secret))
	t.Cleanup(usersHook.Close)
	spendHook := webhooktest.New(webhooktest.WithSecret(secret))
	t.Cleanup(spendHook.Close)
	alertHook := webhooktest.New()
	t.Cleanup(alertHook.Close)
	p := newProj(t, `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  users_hook: {type: webhook, url: "${USERS_URL}", signing_secret: "${HOOK_SECRET}"}
  spend_hook: {type: webhook, url: "${SPEND_URL}", signing_secret: "${HOOK_SECRET}"}
models:
  users:
    source: pg
    primary_key: id
    sql: select id, email, plan, bio from users where plan <> 'banned' and (bio is null or bio <> 'hidden')
  spend:
    source: pg
    primary_key: id
    sql: select u.id, sum(o.amount)::int as plan from users u join orders o on o.user_id = u.id group by u.id
alerts:
  on: [failure]
  to: [{webhook: "${ALERT_URL}"}]
syncs:
  live_users:
    model: users
    destination: users_hook
    mode: mirror
    schedule: stream
    mapping: {email: email, plan: plan}
  spend:
    model: spend
    destination: spend_hook
    mode: mirror
    schedule: stream
    mapping: {plan: plan}
`)
	key := "RIPTIDE_SECRET_KEY=" + strings.Repeat("5e", 32)
	p.env = []string{"PG_URL=" + pgURL, "USERS_URL=" + usersHook.URL() + "/users", "SPEND_URL=" + spendHook.URL() + "/spend",
		"ALERT_URL=" + alertHook.URL() + "/alerts", "HOOK_SECRET=" + secret, key}
	r := p.riptide("tokens", "create", "--role", "editor", "--name", "ci", "--json")
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil {
		t.Fatalf("tokens create: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	token := created["token"]

	cmd := exec.Command(riptideBin(t), "-p", p.dir, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), append(p.env, "RIPTIDE_STREAM_BACKOFF=1s", "RIPTIDE_STREAM_LAG_INTERVAL=200ms")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing; logs:\n%s", logs.String())
	}
	_, base, _ := strings.Cut(sc.Text(), "listening on ")
	go io.Copy(io.Discard, stdout)
	call := func(method, path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	type streamView struct {
		State        string
		Exact        bool
		Tables       []string
		Restarts     int
		Error        string
		SlotLagBytes int64 `json:"slot_lag_bytes"`
	}
	// waitStream waits until the sync's stream is following with at
	// least restarts restarts, and returns it.
	waitStream := func(sync string, restarts int) streamView {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body := call("GET", "/api/v1/syncs/"+sync)
			var v struct{ Stream *streamView }
			if code != 200 || json.Unmarshal(body, &v) != nil {
				t.Fatalf("get sync %s: %d %s", sync, code, body)
			}
			if v.Stream != nil && v.Stream.State == "following" && v.Stream.Restarts >= restarts {
				return *v.Stream
			}
			if time.Now().After(deadline) {
				t.Fatalf("sync %s: stream %s; logs:\n%s", sync, body, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	live := waitStream("live_users", 0)
	if !live.Exact || strings.Join(live.Tables, ",") != "public.users" {
		t.Errorf("live_users stream: %+v, want exact on public.users", live)
	}
	spend := waitStream("spend", 0)
	if spend.Exact || strings.Join(spend.Tables, ",") != "public.orders,public.users" {
		t.Errorf("spend stream: %+v, want plans triggered by public.orders and public.users", spend)
	}
	// Each stream's first batch run.
	usersSent := waitRecords(t, usersHook, 0, "upsert 1 free|upsert 2 pro|upsert 3 free", logs)
	spendSent := waitRecords(t, spendHook, 0, "upsert 1 15|upsert 2 7", logs)

	exec1(`INSERT INTO users VALUES (4, 'd@example.com', 'pro')`)
	exec1(`UPDATE users SET plan = 'banned' WHERE id = 3`)
	usersSent = waitRecords(t, usersHook, usersSent, "delete 3|upsert 4 pro", logs)
	exec1(`INSERT INTO orders VALUES (4, 2, 3), (5, 4, 1)`)
	spendSent = waitRecords(t, spendHook, spendSent, "upsert 2 10|upsert 4 1", logs)
	// A value stored out of line (TOAST) and left as it was is not in the
	// update's change, and the model's filter needs it: the row is read
	// again from the table.
	exec1(`INSERT INTO users VALUES (7, 'g@example.com', 'free', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i))`)
	usersSent = waitRecords(t, usersHook, usersSent, "upsert 7 free", logs)
	exec1(`UPDATE users SET plan = 'pro' WHERE id = 7`)
	usersSent = waitRecords(t, usersHook, usersSent, "upsert 7 pro", logs)
	exec1(`UPDATE users SET plan = 'banned' WHERE id = 7`)
	usersSent = waitRecords(t, usersHook, usersSent, "delete 7", logs)
	// A change to a table of the model that leaves its rows as they were
	// triggers a plan that sends nothing.
	exec1(`UPDATE users SET email = 'a2@example.com' WHERE id = 1`)
	usersSent = waitRecords(t, usersHook, usersSent, "upsert 1 free", logs)

	if code, body := call("POST", "/api/v1/syncs/live_users/runs"); code != 409 || !strings.Contains(string(body), "streams") {
		t.Errorf("trigger a stream sync: %d %s, want 409", code, body)
	}

	// The stream's replication connection dies: the supervisor starts it
	// again, and what was committed meanwhile arrives.
	exec1(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, slots["live_users"])
	exec1(`INSERT INTO users VALUES (5, 'e@example.com', 'free')`)
	live = waitStream("live_users", 1)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(records(usersHook, usersSent), "upsert 5 free") {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, sent %q; logs:\n%s", records(usersHook, usersSent), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if records(spendHook, spendSent) != "" {
		t.Errorf("spend sent %s though its model's rows did not change", records(spendHook, spendSent))
	}
	usersSent = len(usersHook.Requests())

	// A TRUNCATE says no row's change: the sync runs in batch, which
	// removes them all, and streams on.
	exec1(`TRUNCATE users`)
	usersSent = waitRecords(t, usersHook, usersSent, "delete 1|delete 2|delete 4|delete 5", logs)
	exec1(`INSERT INTO users VALUES (6, 'f@example.com', 'pro')`)
	usersSent = waitRecords(t, usersHook, usersSent, "upsert 6 pro", logs)
	// The join lost every row: its plan removes them.
	waitRecords(t, spendHook, spendSent, "delete 1|delete 2|delete 4", logs)

	var alerted bool
	for deadline := time.Now().Add(30 * time.Second); !alerted && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, rq := range alertHook.Requests() {
			for _, rec := range rq.Records {
				if rec.Data["rule"] == "failure" && rec.Data["sync"] == "live_users" && rq.RunID == "" {
					alerted = true
				}
			}
		}
	}
	if !alerted {
		t.Errorf("no failure alert for the stream's restart; alerts: %d requests", len(alertHook.Requests()))
	}
	_, metrics := call("GET", "/metrics")
	for _, want := range []string{`riptide_stream_up{sync="live_users"} 1`, `riptide_stream_up{sync="spend"} 1`,
		`riptide_stream_restarts_total{sync="live_users"} 1`, `riptide_stream_slot_lag_bytes{sync="live_users"}`,
		`riptide_stream_queue_depth{sync="live_users"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v; logs:\n%s", err, logs.String())
	}
	// What the streams sent is in their snapshots: a batch run sends nothing.
	for _, sync := range []string{"live_users", "spend"} {
		v, r := p.runJSON(sync)
		if r.code != 0 || v.counts() != "succeeded add=0 chg=0 rem=0 rej=0 ok=0 fail=0" {
			t.Errorf("batch run of %s after the streams: exit %d, %s\n%s", sync, r.code, v.counts(), r.stderr)
		}
	}
}
