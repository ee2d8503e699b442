package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EServe creates a token, serves the example project, triggers a
// run through the API, follows it to success, finds it in /metrics, and
// stops the server with SIGTERM.
func TestE2EServe(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command(riptideBin(t), "init", dir).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	key := "RIPTIDE_SECRET_KEY=" + strings.Repeat("5e", 32)
	p := &proj{t: t, dir: dir, env: []string{key}}
	r := p.riptide("tokens", "create", "--role", "editor", "--name", "ci", "--json")
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil || len(created) != 1 || !strings.HasPrefix(created["token"], "rtk_") {
		t.Fatalf("tokens create --json: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	token := created["token"]
	if r := p.riptide("tokens", "list"); r.code != 0 || !strings.Contains(r.stdout, "ci") || strings.Contains(r.stdout, token) {
		t.Fatalf("tokens list: %d %s", r.code, r.stdout)
	}

	cmd := exec.Command(riptideBin(t), "-p", dir, "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(os.Environ(), key)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing; logs:\n%s", logs.String())
	}
	_, base, ok := strings.Cut(sc.Text(), "listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q gives no address", sc.Text())
	}
	go io.Copy(io.Discard, stdout)

	call := func(method, path, tok string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := call("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := call("GET", "/api/v1/syncs", ""); code != 401 {
		t.Fatalf("syncs without a token: %d", code)
	}
	if code, body := call("GET", "/api/v1/audit", token); code != 403 {
		t.Fatalf("audit as editor: %d %s", code, body)
	}
	code, body := call("POST", "/api/v1/syncs/customers_to_crm/runs", token)
	var queued struct{ ID, Status string }
	if err := json.Unmarshal(body, &queued); code != 202 || err != nil || queued.Status != "queued" || queued.ID == "" {
		t.Fatalf("trigger: %d %s", code, body)
	}
	var run struct {
		Status string
		Counts struct{ Added, Succeeded int }
	}
	deadline := time.Now().Add(90 * time.Second)
	for run.Status != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %q; logs:\n%s", queued.ID, run.Status, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
		code, body := call("GET", "/api/v1/runs/"+queued.ID, token)
		if code != 200 {
			t.Fatalf("get run: %d %s", code, body)
		}
		json.Unmarshal(body, &run)
		if run.Status == "failed" || run.Status == "partial" {
			t.Fatalf("run %s: %s", run.Status, body)
		}
	}
	if run.Counts.Added != 100 || run.Counts.Succeeded != 100 {
		t.Fatalf("run counts: %+v", run.Counts)
	}
	_, metrics := call("GET", "/metrics", token)
	for _, want := range []string{
		`riptide_runs_total{status="succeeded",sync="customers_to_crm"} 1`,
		`riptide_rows_total{outcome="succeeded",sync="customers_to_crm"} 100`,
		`riptide_run_duration_seconds_count{status="succeeded",sync="customers_to_crm"} 1`,
		`riptide_queue_depth`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// SIGHUP picks up a new sync; a broken file sent to reload keeps it.
	crm, err := os.ReadFile(filepath.Join(dir, "syncs", "customers_to_crm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(dir, "syncs", "copy.yaml")
	os.WriteFile(extra, []byte(strings.Replace(string(crm), "customers_to_crm:", "customers_copy:", 1)), 0o644)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if code, _ := call("GET", "/api/v1/syncs/customers_copy", token); code == 200 {
			break
		}
		if i > 100 {
			t.Fatal("SIGHUP did not load the new sync")
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.WriteFile(extra, []byte("customers_copy: {model: customerz}\n"), 0o644)
	if code, body := call("POST", "/api/v1/reload", token); code != 422 || !strings.Contains(string(body), "copy.yaml:1") {
		t.Fatalf("broken reload: %d %s", code, body)
	}
	if code, _ := call("GET", "/api/v1/syncs/customers_copy", token); code != 200 {
		t.Fatal("a broken reload dropped the running configuration")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	out := logs.String()
	if strings.Contains(out, token) {
		t.Error("the token was logged")
	}
	var sawRunLine bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", line)
		}
		if rec["run"] == queued.ID && rec["sync"] == "customers_to_crm" {
			sawRunLine = true
		}
	}
	if !sawRunLine {
		t.Errorf("no log line names the run and its sync:\n%s", out)
	}
}
