package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
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
	db := newStreamDB(t, "live_users", "spend")
	pgURL, exec1, slots := db.url, db.exec, db.slots
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
	p.env = []string{"PG_URL=" + pgURL, "USERS_URL=" + usersHook.URL() + "/users", "SPEND_URL=" + spendHook.URL() + "/spend",
		"ALERT_URL=" + alertHook.URL() + "/alerts", "HOOK_SECRET=" + secret}
	sv := startStreamServe(t, p)
	cmd, logs, call, waitStream := sv.cmd, sv.logs, sv.call, sv.waitStream
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

// streamServe is `riptide serve` of a project with stream syncs.
type streamServe struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *lockedBuffer
	base string
	tok  string
}

// streamView is a sync's stream as the API shows it.
type streamView struct {
	State        string
	Exact        bool
	Tables       []string
	Restarts     int
	Error        string
	SlotLagBytes int64 `json:"slot_lag_bytes"`
	QueueDepth   int64 `json:"queue_depth"`
}

// startStreamServe starts serve on p with a new editor token, stream
// retries after 1 s and lag measured every 200 ms; global are flags
// before the command (--state).
func startStreamServe(t *testing.T, p *proj, global ...string) *streamServe {
	t.Helper()
	p.env = append(p.env, "RIPTIDE_SECRET_KEY="+strings.Repeat("5e", 32))
	r := p.riptide(append(global, "tokens", "create", "--role", "editor", "--name", fmt.Sprint("ci-", time.Now().UnixNano()), "--json")...)
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil {
		t.Fatalf("tokens create: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	args := append(append([]string{}, global...), "-p", p.dir, "serve", "--addr", "127.0.0.1:0")
	cmd := exec.Command(riptideBin(t), args...)
	cmd.Env = append(os.Environ(), append(p.env, "RIPTIDE_STREAM_BACKOFF=1s", "RIPTIDE_STREAM_LAG_INTERVAL=200ms")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sv := &streamServe{t: t, cmd: cmd, logs: &lockedBuffer{}, tok: created["token"]}
	cmd.Stderr = sv.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing; logs:\n%s", sv.logs.String())
	}
	_, sv.base, _ = strings.Cut(sc.Text(), "listening on ")
	go io.Copy(io.Discard, stdout)
	return sv
}

func (sv *streamServe) call(method, path string) (int, []byte) {
	sv.t.Helper()
	req, _ := http.NewRequest(method, sv.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+sv.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sv.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// stream is the sync's stream as the API shows it now.
func (sv *streamServe) stream(sync string) streamView {
	sv.t.Helper()
	code, body := sv.call("GET", "/api/v1/syncs/"+sync)
	var v struct{ Stream *streamView }
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Stream == nil {
		sv.t.Fatalf("get sync %s: %d %s", sync, code, body)
	}
	return *v.Stream
}

// waitStream waits until the sync's stream is following with at least
// restarts restarts, and returns it.
func (sv *streamServe) waitStream(sync string, restarts int) streamView {
	sv.t.Helper()
	return sv.waitState(sync, "following", restarts)
}

// waitState waits until the sync's stream is in state with at least
// restarts restarts, and returns it.
func (sv *streamServe) waitState(sync, state string, restarts int) streamView {
	sv.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := sv.stream(sync)
		if st.State == state && st.Restarts >= restarts {
			return st
		}
		if time.Now().After(deadline) {
			sv.t.Fatalf("sync %s: stream %+v; logs:\n%s", sync, st, sv.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2EStreamOutage takes the destination of a stream sync away under
// serve: the stream keeps reading and acknowledging the slot, its changes
// wait in the sync's change queue — one per key, the last —, and when the
// destination comes back the last value of every key is delivered and
// the queue empties.
func TestE2EStreamOutage(t *testing.T) {
	t.Parallel()
	db := newStreamDB(t, "live")
	pgURL, pg, ctx := db.url, db.conn, context.Background()
	if _, err := pg.Exec(ctx, `CREATE TABLE users (id int PRIMARY KEY, plan text)`); err != nil {
		t.Fatal(err)
	}
	hook := webhooktest.New()
	t.Cleanup(hook.Close)
	p := newProj(t, `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  hook: {type: webhook, url: "${HOOK_URL}"}
models:
  users: {source: pg, primary_key: id, sql: "select id, plan from users"}
syncs:
  live: {model: users, destination: hook, schedule: stream, mapping: {plan: plan}}
`)
	p.env = []string{"PG_URL=" + pgURL, "HOOK_URL=" + hook.URL() + "/users"}
	sv := startStreamServe(t, p)
	sv.waitStream("live", 0)
	if _, err := pg.Exec(ctx, `INSERT INTO users SELECT i, 'v0' FROM generate_series(1, 100) i`); err != nil {
		t.Fatal(err)
	}
	accepted := func() map[string]string {
		last := map[string]string{}
		for _, rq := range hook.Requests() {
			if rq.Status != 200 {
				continue
			}
			for _, rec := range rq.Records {
				last[rec.Key] = fmt.Sprint(rec.Data["plan"])
			}
		}
		return last
	}
	for deadline := time.Now().Add(30 * time.Second); len(accepted()) < 100; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 100 inserted rows delivered; logs:\n%s", len(accepted()), sv.logs.String())
		}
	}

	// The destination goes away; every row changes three times.
	hook.FailNext(1_000_000, webhooktest.Failure{Status: 503})
	for v := 1; v <= 3; v++ {
		if _, err := pg.Exec(ctx, `UPDATE users SET plan = $1`, fmt.Sprintf("v%d", v)); err != nil {
			t.Fatal(err)
		}
	}
	var st streamView
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st = sv.stream("live")
		if st.QueueDepth == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %d during the outage, want the 100 keys changed; logs:\n%s", st.QueueDepth, sv.logs.String())
		}
	}
	if hook.Injected() == 0 {
		t.Fatal("no request met the outage")
	}
	for k, v := range accepted() {
		if v != "v0" {
			t.Fatalf("key %s delivered as %s during the outage", k, v)
		}
	}
	if st.State != "following" {
		t.Errorf("the stream is %s during the destination's outage, want following (changes queue)", st.State)
	}

	hook.ClearFaults()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		last, done := accepted(), true
		for i := 1; i <= 100; i++ {
			if last[fmt.Sprint(i)] != "v3" {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage, delivered %v; logs:\n%s", last, sv.logs.String())
		}
	}
	for deadline := time.Now().Add(30 * time.Second); sv.stream("live").QueueDepth != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %d after the outage", sv.stream("live").QueueDepth)
		}
	}
	// The queue coalesced the three updates: past the batch that was
	// being sent when the outage began (retried by the delivery layer as
	// it is), only the last value of each key was sent, once.
	var stale, last int
	for _, rq := range hook.Requests() {
		if rq.Status != 200 {
			continue
		}
		for _, rec := range rq.Records {
			switch fmt.Sprint(rec.Data["plan"]) {
			case "v1", "v2":
				stale++
			case "v3":
				last++
			}
		}
	}
	if stale > 100 || last != 100 {
		t.Errorf("sent %d records of superseded values (want at most one batch, 100) and %d of the last (want 100, each key once)", stale, last)
	}

	// A reload with a new mapping restarts the stream, which first sends
	// every row under the new mapping, then streams on.
	sent := len(hook.Requests())
	p.write("riptide.yaml", strings.Replace(readFile(t, filepath.Join(p.dir, "riptide.yaml")), "mapping: {plan: plan}", "mapping: {plan: plan, tier: plan}", 1))
	if code, body := sv.call("POST", "/api/v1/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	tiers := func() int {
		n := 0
		for _, rq := range hook.Requests()[sent:] {
			for _, rec := range rq.Records {
				if rq.Status == 200 && rec.Data["tier"] == "v3" {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(60 * time.Second); tiers() < 100; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the reload, %d of 100 rows sent under the new mapping; logs:\n%s", tiers(), sv.logs.String())
		}
	}
	if _, err := pg.Exec(ctx, `UPDATE users SET plan = 'v4' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); accepted()["1"] != "v4"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the reload, the stream did not deliver a new change; logs:\n%s", sv.logs.String())
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestE2EStreamFailover runs two serve processes (two machines: a project
// directory each) on one PostgreSQL state store: one follows the stream
// sync, the other stands by; killed with SIGKILL, the first is replaced
// by the second, which delivers what was committed meanwhile.
func TestE2EStreamFailover(t *testing.T) {
	t.Parallel()
	db := newStreamDB(t, "live")
	pgURL, pg, ctx := db.url, db.conn, context.Background()
	if _, err := pg.Exec(ctx, `CREATE TABLE accounts (id int PRIMARY KEY, plan text)`); err != nil {
		t.Fatal(err)
	}
	hook := webhooktest.New()
	t.Cleanup(hook.Close)
	yaml := `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  hook: {type: webhook, url: "${HOOK_URL}"}
models:
  accounts: {source: pg, primary_key: id, sql: "select id, plan from accounts"}
syncs:
  live: {model: accounts, destination: hook, mode: mirror, schedule: stream, mapping: {plan: plan}}
`
	env := []string{"PG_URL=" + pgURL, "HOOK_URL=" + hook.URL() + "/accounts"}
	pa, pb := newProj(t, yaml), newProj(t, yaml)
	pa.env, pb.env = env, env
	a := startStreamServe(t, pa, "--state", pgURL)
	a.waitStream("live", 0)
	b := startStreamServe(t, pb, "--state", pgURL)
	b.waitState("live", "standby", 0)

	if _, err := pg.Exec(ctx, `INSERT INTO accounts VALUES (1, 'free'), (2, 'pro')`); err != nil {
		t.Fatal(err)
	}
	sent := waitRecords(t, hook, 0, "upsert 1 free|upsert 2 pro", a.logs)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	if _, err := pg.Exec(ctx, `UPDATE accounts SET plan = 'pro' WHERE id = 1; DELETE FROM accounts WHERE id = 2; INSERT INTO accounts VALUES (3, 'free')`); err != nil {
		t.Fatal(err)
	}
	b.waitStream("live", 0)
	// The process that died may have delivered its last batch without
	// acknowledging it: it may come again (at least once).
	want := map[string]bool{"delete 2": true, "upsert 1 pro": true, "upsert 3 free": true}
	again := map[string]bool{"upsert 1 free": true, "upsert 2 pro": true}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, seen := records(hook, sent), 0
		for _, r := range strings.Split(got, "|") {
			switch {
			case want[r]:
				seen++
			case r != "" && !again[r]:
				t.Fatalf("after the failover, sent %s: %q is neither a change made meanwhile nor the last batch again", got, r)
			}
		}
		if seen == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the failover, sent %q; logs of the standby:\n%s", got, b.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2EValidateStreams checks stream syncs with validate --connect:
// how each would be followed, and what would stop one, creating nothing.
func TestE2EValidateStreams(t *testing.T) {
	t.Parallel()
	db := newStreamDB(t)
	pgURL, pg, ctx := db.url, db.conn, context.Background()
	for _, q := range []string{
		`CREATE TABLE accounts (id int PRIMARY KEY, plan text)`,
		`CREATE TABLE events (account_id int, kind text)`,
		`CREATE TABLE seats (id int PRIMARY KEY, account_id int)`,
	} {
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	p := newProj(t, `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  hook: {type: webhook, url: "http://127.0.0.1:1/"}
models:
  accounts: {source: pg, primary_key: id, sql: "select id, plan from accounts where plan <> 'closed'"}
  seats: {source: pg, primary_key: id, sql: "select a.id, count(s.id) as seats from accounts a left join seats s on s.account_id = a.id group by a.id"}
  activity: {source: pg, primary_key: id, sql: "select a.id, count(e.kind) as events from accounts a join events e on e.account_id = a.id group by a.id"}
syncs:
  live: {model: accounts, destination: hook, schedule: stream}
  seat_counts: {model: seats, destination: hook, schedule: stream}
  activity: {model: activity, destination: hook, schedule: stream}
`)
	p.env = []string{"PG_URL=" + pgURL}
	r := p.riptide("validate", "--connect")
	if r.code != exitInvalid {
		t.Fatalf("validate --connect: exit %d, want %d (a table without a primary key)\n%s\n%s", r.code, exitInvalid, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"stream live: follows public.accounts, change by change",
		"stream seat_counts: follows public.accounts, public.seats, by incremental plans",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate --connect output lacks %q:\n%s", want, r.stdout)
		}
	}
	if want := "syncs.activity.schedule: cannot stream: stream: table public.events has no primary key"; !strings.Contains(r.stderr, want) {
		t.Errorf("validate --connect errors lack %q:\n%s", want, r.stderr)
	}
	var slots int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = current_database()`).Scan(&slots); err != nil || slots != 0 {
		t.Errorf("validate created %d replication slots (%v)", slots, err)
	}
}
