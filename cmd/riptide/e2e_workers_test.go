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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/testsvc"
)

// workerProc is one `riptide serve` process of TestE2EWorkers.
type workerProc struct {
	cmd  *exec.Cmd
	base string
	logs *lockedLog
}

// TestE2EWorkers starts three `riptide serve` processes on one PostgreSQL
// state store, each in a directory of its own (a machine of its own),
// triggers a 20,000-row run through one of them, kills the process
// running it with SIGKILL in the middle, and checks that another process
// finished the run: every row reached the destination, and no more were
// received twice than the batches acknowledged but not yet committed when
// it died hold.
func TestE2EWorkers(t *testing.T) {
	t.Parallel()
	const (
		rows        = 20000
		batch       = 50
		concurrency = 2 // hookProject's
	)
	url := testsvc.PostgresURL(t)
	p, srv := hookSetup(t, batch)
	p.sql(`DELETE FROM users`,
		fmt.Sprintf(`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'free', i * 1.5 FROM range(1, %d) t(i)`, rows+1))
	key := "RIPTIDE_SECRET_KEY=" + strings.Repeat("7a", 32)
	p.env = append(p.env, key)

	r := p.riptide("--state", url, "tokens", "create", "--role", "editor", "--name", "ci", "--json")
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil {
		t.Fatalf("tokens create --json: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	token := created["token"]

	// Each process has its own copy of the project and its own .riptide.
	yaml, err := os.ReadFile(filepath.Join(p.dir, "riptide.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	warehouse, err := os.ReadFile(filepath.Join(p.dir, "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	procs := make([]*workerProc, 3)
	var wg sync.WaitGroup
	for i := range procs {
		m := &proj{t: t, dir: t.TempDir(), env: p.env}
		m.write("riptide.yaml", string(yaml))
		m.write("warehouse.duckdb", string(warehouse))
		procs[i] = startWorker(t, m, url)
		wg.Add(1)
		go func() { defer wg.Done(); procs[i].cmd.Wait() }()
	}
	t.Cleanup(func() {
		for _, w := range procs {
			w.cmd.Process.Kill()
		}
		wg.Wait()
	})
	// Slow enough that the run lasts several seconds.
	srv.SetDelay(15 * time.Millisecond)

	call := func(w *workerProc, method, path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, w.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := call(procs[0], "POST", "/api/v1/syncs/users_to_hook/runs")
	var queued struct{ ID, Status string }
	if err := json.Unmarshal(body, &queued); code != 202 || err != nil || queued.ID == "" {
		t.Fatalf("trigger: %d %s", code, body)
	}

	waitFor(t, 60*time.Second, "the first batches", func() bool { return srv.Count() >= 20*batch })

	// The job says which worker runs it: River keeps the worker IDs
	// (hostname-pid) that took it.
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	var workerID string
	err = pg.QueryRow(ctx, `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
		WHERE kind = 'sync_run' AND args->>'run_id' = $1 AND state = 'running'`, queued.ID).Scan(&workerID)
	if err != nil {
		t.Fatalf("find the worker running %s: %v", queued.ID, err)
	}
	victim := -1
	for i, w := range procs {
		if strings.HasSuffix(workerID, "-"+strconv.Itoa(w.cmd.Process.Pid)) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("worker %s is none of the processes started", workerID)
	}
	if err := procs[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	atKill := srv.Count()
	if atKill >= rows {
		t.Fatalf("the run was over (%d records) before its worker was killed", atKill)
	}
	survivor := procs[(victim+1)%len(procs)]

	var run struct {
		Status string
		Error  string
	}
	waitFor(t, 120*time.Second, "the run to succeed on another worker", func() bool {
		code, body := call(survivor, "GET", "/api/v1/runs/"+queued.ID)
		if code != 200 {
			t.Fatalf("get run: %d %s", code, body)
		}
		json.Unmarshal(body, &run)
		return run.Status == "succeeded"
	}, procs...)

	// River marks a job completed a moment after it returns.
	var finisher string
	waitFor(t, 10*time.Second, "the run's job to complete", func() bool {
		err := pg.QueryRow(ctx, `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = 'sync_run' AND args->>'run_id' = $1 AND state = 'completed'`, queued.ID).Scan(&finisher)
		if err != nil && err != pgx.ErrNoRows {
			t.Fatalf("the completed job of %s: %v", queued.ID, err)
		}
		return err == nil
	})
	if finisher == workerID {
		t.Fatalf("run finished by %s, the worker that was killed", finisher)
	}

	latest := srv.Latest()
	if len(latest) != rows {
		t.Errorf("the destination holds %d records, want %d", len(latest), rows)
	}
	for i := 1; i <= rows; i++ {
		rec, ok := latest[strconv.Itoa(i)]
		if !ok || rec.Data["email"] != fmt.Sprintf("u%d@example.com", i) {
			t.Fatalf("record %d: %+v (present %v)", i, rec, ok)
		}
	}
	seen := map[string]int{}
	twice := 0
	for _, rec := range srv.Records() {
		if seen[rec.Key]++; seen[rec.Key] > 1 {
			twice++
		}
	}
	// Acknowledged but not committed when the worker died: the batch
	// being committed, and one more per worker, delivered and waiting for
	// its turn to commit (delivery.Deliver commits one batch at a time).
	if limit := (concurrency + 1) * batch; twice > limit {
		t.Errorf("%d records received twice; the batches acknowledged but not committed hold at most %d", twice, limit)
	}
	t.Logf("killed %s after %d records; run finished by %s; %d records received twice", workerID, atKill, finisher, twice)
}

// startWorker starts `riptide serve` on m's project and the store at url,
// and returns once it listens.
func startWorker(t *testing.T, m *proj, url string) *workerProc {
	t.Helper()
	cmd := exec.Command(riptideBin(t), "--state", url, "-p", m.dir, "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(os.Environ(), m.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProc{cmd: cmd, logs: &lockedLog{}}
	cmd.Stderr = w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		cmd.Process.Kill()
		t.Fatalf("serve printed nothing; logs:\n%s", w.logs.String())
	}
	_, base, ok := strings.Cut(sc.Text(), "listening on ")
	if !ok {
		cmd.Process.Kill()
		t.Fatalf("first line %q gives no address", sc.Text())
	}
	w.base = base
	go io.Copy(io.Discard, stdout)
	return w
}

// waitFor polls cond until it holds, failing the test with the workers'
// logs after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, logsOf ...*workerProc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var logs strings.Builder
			for i, w := range logsOf {
				fmt.Fprintf(&logs, "--- worker %d:\n%s\n", i, w.logs.String())
			}
			t.Fatalf("waited %s for %s\n%s", timeout, what, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
