package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// The end-to-end tests build the riptide binary once and drive it as a
// user would, against a DuckDB warehouse and a recording webhook receiver
// that run in the test.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func riptideBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "riptide-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "riptide")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proj is a project directory with a DuckDB warehouse.
type proj struct {
	t   *testing.T
	dir string
	env []string
}

func newProj(t *testing.T, yaml string) *proj {
	t.Helper()
	p := &proj{t: t, dir: t.TempDir()}
	p.write("riptide.yaml", yaml)
	return p
}

func (p *proj) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// sql runs statements against the project's warehouse.duckdb.
func (p *proj) sql(stmts ...string) {
	p.t.Helper()
	db, err := sql.Open("duckdb", filepath.Join(p.dir, "warehouse.duckdb"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			p.t.Fatalf("%s: %v", s, err)
		}
	}
}

type result struct {
	code   int
	stdout string
	stderr string
}

func (p *proj) riptide(args ...string) result {
	p.t.Helper()
	cmd := exec.Command(riptideBin(p.t), append([]string{"-p", p.dir}, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// runJSON runs a sync with --json and decodes its one object.
func (p *proj) runJSON(args ...string) (resultJSONView, result) {
	p.t.Helper()
	r := p.riptide(append([]string{"run", "--json"}, args...)...)
	var v resultJSONView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		p.t.Fatalf("run --json printed no JSON object: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v, r
}

type resultJSONView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	Added     int    `json:"added"`
	Changed   int    `json:"changed"`
	Removed   int    `json:"removed"`
	Rejected  int    `json:"rejected"`
	Skipped   int    `json:"skipped"`
	Planned   int    `json:"planned"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
}

func (v resultJSONView) counts() string {
	return fmt.Sprintf("%s add=%d chg=%d rem=%d rej=%d ok=%d fail=%d", v.Status, v.Added, v.Changed, v.Removed, v.Rejected, v.Succeeded, v.Failed)
}

const hookProject = `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  hook:
    type: webhook
    url: ${HOOK_URL}
    batch_size: %d
    concurrency: 2
    timeout: 2s
    signing_secret: ${HOOK_SECRET}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, plan, amount from users
syncs:
  users_to_hook:
    model: users
    destination: hook
    mode: mirror
    mapping:
      email: email
      plan_name: plan
      amount: amount
      source: {value: riptide}
`

const secret = "s3cr3t-signing-key"

func hookSetup(t *testing.T, batch int) (*proj, *webhooktest.Server) {
	t.Helper()
	srv := webhooktest.New(webhooktest.WithSecret(secret))
	t.Cleanup(srv.Close)
	p := newProj(t, fmt.Sprintf(hookProject, batch))
	p.env = []string{"HOOK_URL=" + srv.URL() + "/ingest", "HOOK_SECRET=" + secret}
	p.sql(`CREATE TABLE users (id INTEGER, email VARCHAR, plan VARCHAR, amount DECIMAL(10,2))`,
		`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'free', i * 1.5 FROM range(1, 11) t(i)`)
	return p, srv
}

func TestE2EFirstSyncChangesAndNoop(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 4)

	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=10 chg=0 rem=0 rej=0 ok=10 fail=0" {
		t.Fatalf("first run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if v.ID == "" {
		t.Error("run --json has no id")
	}
	reqs := srv.Requests()
	if len(reqs) != 3 { // 10 records in batches of 4
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, rq := range reqs {
		if rq.IdempotencyKey == "" || rq.Sync != "users_to_hook" || rq.RunID != v.ID || rq.Path != "/ingest" {
			t.Errorf("request envelope: %+v", rq)
		}
	}
	got := srv.Latest()["3"]
	if got.Op != "upsert" || fmt.Sprint(got.Data) != "map[amount:4.5 email:u3@example.com plan_name:free source:riptide]" {
		t.Errorf("record 3: %+v", got)
	}
	var bodies []byte
	for _, rq := range reqs {
		bodies = append(bodies, rq.Body...)
	}
	if !bytes.Contains(bodies, []byte(`"data":{"email":"u1@example.com","plan_name":"free","amount":1.5,"source":"riptide"}`)) {
		t.Errorf("payload keeps mapping order and exact decimals: %s", bodies)
	}

	// Changes, inserts and deletes.
	srv.Reset()
	p.sql(`UPDATE users SET plan = 'pro' WHERE id IN (2, 3)`, `DELETE FROM users WHERE id = 10`, `INSERT INTO users VALUES (11, 'new@example.com', 'team', 0.10)`)
	v, r = p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=1 chg=2 rem=1 rej=0 ok=4 fail=0" {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	ops := map[string]string{}
	for _, rec := range srv.Records() {
		ops[rec.Key] = rec.Op
	}
	if fmt.Sprint(ops) != "map[10:delete 11:upsert 2:upsert 3:upsert]" {
		t.Errorf("ops sent: %v", ops)
	}

	// Nothing changed: nothing is sent.
	srv.Reset()
	v, r = p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=0 chg=0 rem=0 rej=0 ok=0 fail=0" || srv.RequestCount() != 0 {
		t.Fatalf("no-op run: exit %d, %s, %d requests", r.code, v.counts(), srv.RequestCount())
	}

	// History.
	r = p.riptide("runs", "users_to_hook")
	if r.code != 0 || strings.Count(r.stdout, "succeeded") != 3 {
		t.Errorf("runs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = p.riptide("runs", "show", v.ID[:13])
	if r.code != 0 || !strings.Contains(r.stdout, "status    succeeded") || !strings.Contains(r.stdout, "phases") {
		t.Errorf("runs show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// After a reset every row is sent again, and nothing is deleted.
	if r = p.riptide("reset", "users_to_hook"); r.code != 0 {
		t.Fatalf("reset: exit %d\n%s", r.code, r.stderr)
	}
	srv.Reset()
	v, r = p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=10 chg=0 rem=0 rej=0 ok=10 fail=0" {
		t.Fatalf("run after reset: exit %d, %s", r.code, v.counts())
	}
	for _, rec := range srv.Records() {
		if rec.Op == "delete" {
			t.Errorf("a run after reset deleted %s", rec.Key)
		}
	}
}

func TestE2ERetriesTimeoutsAndRowFailures(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 5)
	srv.FailNext(1, webhooktest.Failure{Status: 503})
	srv.FailNext(1, webhooktest.Failure{Status: 429, RetryAfter: "1"})
	srv.FailKey("4", "email bounced")
	srv.PoisonKey("9", "record 9 has an invalid plan")
	v, r := p.runJSON("users_to_hook")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 when rows failed", r.code)
	}
	if v.counts() != "partial add=10 chg=0 rem=0 rej=0 ok=8 fail=2" {
		t.Fatalf("run: %s\n%s", v.counts(), r.stderr)
	}
	r = p.riptide("runs", "show", v.ID)
	for _, want := range []string{"email bounced", "record 9 has an invalid plan", "status    partial"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("runs show lacks %q:\n%s", want, r.stdout)
		}
	}
	// Timeouts are retried too.
	srv.ClearFaults()
	srv.SetDelay(3 * time.Second)
	go func() { time.Sleep(500 * time.Millisecond); srv.SetDelay(0) }()
	v, r = p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=2 chg=0 rem=0 rej=0 ok=2 fail=0" {
		t.Fatalf("retry run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if _, ok := srv.Latest()["9"]; !ok {
		t.Error("the failed rows were not retried")
	}
}

func TestE2EBadKeys(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 100)
	p.sql(`INSERT INTO users VALUES (NULL, 'nokey@example.com', 'free', 1), (5, 'dup@example.com', 'free', 1)`)
	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=9 chg=0 rem=0 rej=3 ok=9 fail=0" {
		t.Fatalf("exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if _, ok := srv.Latest()["5"]; ok {
		t.Error("a duplicated key was sent")
	}
	r = p.riptide("runs", "show", v.ID)
	if !strings.Contains(r.stdout, "duplicate primary key") || !strings.Contains(r.stdout, `primary key column "id" is null`) {
		t.Errorf("runs show:\n%s", r.stdout)
	}
	// Past max_rejected_pct nothing is sent and the run fails.
	p.sql(`INSERT INTO users SELECT NULL, 'x', 'free', 1 FROM range(20)`)
	srv.Reset()
	v, r = p.runJSON("users_to_hook")
	if r.code != 1 || v.Status != "failed" || !strings.Contains(v.Error, "max_rejected_pct") || srv.RequestCount() != 0 {
		t.Errorf("exit %d, %s %q, %d requests", r.code, v.Status, v.Error, srv.RequestCount())
	}
}

func TestE2EBadConfig(t *testing.T) {
	t.Parallel()
	p := newProj(t, `sources:
  warehouse: {type: duckdb, path: w.duckdb}
destinations:
  hook: {type: webhook, url: "http://127.0.0.1:1/x", batchsize: 10}
models:
  users: {source: warehouse, primary_key: id, sql: select 1 as id}
syncs:
  s: {model: user, destination: hook}
`)
	r := p.riptide("validate")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	for _, want := range []string{"riptide.yaml:4:", `did you mean "batch_size"`, "riptide.yaml:8:", `did you mean "users"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stderr)
		}
	}
	r = p.riptide("run", "s")
	if r.code != 2 || !strings.Contains(r.stderr, "riptide.yaml:8:") {
		t.Errorf("run with bad config: exit %d\n%s", r.code, r.stderr)
	}
}

func TestE2ESecretsNeverShown(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 100)
	srv.PoisonKey("1", "bad")
	// A failing URL with the secret in it must not leak either.
	v, r := p.runJSON("users_to_hook")
	show := p.riptide("runs", "show", "--json", "--requests", v.ID)
	var shown struct {
		Requests   int `json:"requests"`
		RequestLog []struct {
			Method       string `json:"method"`
			URL          string `json:"url"`
			RequestBody  string `json:"request_body"`
			ResponseBody string `json:"response_body"`
			Status       int    `json:"status"`
		} `json:"request_log"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &shown); err != nil {
		t.Fatalf("runs show --requests --json: %v\n%s", err, show.stdout)
	}
	// The poisoned batch of 10 is split down to the bad record: 1 + 2 + 4 +
	// ... requests, every one in the log with its status and bodies.
	if shown.Requests < 2 || len(shown.RequestLog) != shown.Requests {
		t.Fatalf("request log holds %d of %d requests", len(shown.RequestLog), shown.Requests)
	}
	first := shown.RequestLog[0]
	// The URL came from ${HOOK_URL}: like every value from the environment
	// it is treated as a secret and masked.
	if first.Method != "POST" || first.URL != "****" || first.Status != 400 ||
		!strings.Contains(first.RequestBody, `"sync":"users_to_hook"`) || !strings.Contains(first.ResponseBody, "bad") {
		t.Errorf("first logged request: %+v", first)
	}
	db, _ := os.ReadFile(filepath.Join(p.dir, ".riptide", "state.db"))
	wal, _ := os.ReadFile(filepath.Join(p.dir, ".riptide", "state.db-wal"))
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "runs show": show.stdout, "state": string(db) + string(wal)} {
		if strings.Contains(text, secret) {
			t.Errorf("the signing secret appears in %s", name)
		}
	}
}

// TestE2EKillNineLosesNothing kills a run in the middle of delivery and
// checks that the next run completes it: every row arrives, and rows
// acknowledged before the kill are not sent again (beyond the batches that
// were in flight).
func TestE2EKillNineLosesNothing(t *testing.T) {
	t.Parallel()
	const rows, batch = 2000, 20
	p, srv := hookSetup(t, batch)
	p.sql(`DELETE FROM users`, fmt.Sprintf(`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'free', i FROM range(1, %d) t(i)`, rows+1))
	srv.SetDelay(20 * time.Millisecond)

	cmd := exec.Command(riptideBin(t), "-p", p.dir, "run", "users_to_hook")
	cmd.Env = append(os.Environ(), p.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for srv.Count() < rows/4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Count() >= rows {
		t.Fatal("the run finished before it could be killed")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	time.Sleep(50 * time.Millisecond) // let in-flight answers land
	beforeKill := srv.Count()
	srv.SetDelay(0)

	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.Status != "succeeded" {
		t.Fatalf("run after kill: exit %d %s\n%s", r.code, v.counts(), r.stderr)
	}
	latest := srv.Latest()
	if len(latest) != rows {
		t.Fatalf("destination holds %d keys after the second run, want %d", len(latest), rows)
	}
	seen := map[string]int{}
	for _, rec := range srv.Records() {
		seen[rec.Key]++
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	// At-least-once: only what was in flight at the kill (2 requests of
	// 20, and the batches whose answers crossed the kill) may repeat.
	if limit := 4 * batch; dups > limit {
		t.Errorf("%d records were sent twice, more than the %d that can be in flight", dups, limit)
	}
	if v.Succeeded+beforeKill-dups != rows {
		t.Errorf("second run sent %d, first %d, with %d repeats: does not add up to %d", v.Succeeded, beforeKill, dups, rows)
	}
	// The interrupted run is recorded as failed, not left running.
	r = p.riptide("runs", "--json")
	var runs []struct{ Status, Error string }
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("runs --json: %v\n%s", err, r.stdout)
	}
	if runs[1].Status != "failed" || !strings.Contains(runs[1].Error, "interrupted") {
		t.Errorf("the killed run is recorded as %q (%s)", runs[1].Status, runs[1].Error)
	}
}

func TestE2EInitExample(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(riptideBin(t), "init", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	p := &proj{t: t, dir: dir}
	r := p.riptide("run", "--all")
	if r.code != 0 {
		t.Fatalf("run --all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "customers_to_crm-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("out/ holds %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if n := strings.Count(string(b), "\n"); n != 100 {
		t.Errorf("%d lines sent, want 100", n)
	}
	if !strings.Contains(string(b), `"lifecycle_stage":"customer"`) {
		t.Errorf("mapping not applied: %.200s", b)
	}
	v, r2 := p.runJSON("--all")
	if r2.code != 0 || v.Added != 0 || v.Changed != 0 {
		t.Errorf("second run: exit %d, %+v", r2.code, v)
	}
}
