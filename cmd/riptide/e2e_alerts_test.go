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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/alert"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// TestE2EAlerts serves the example project with a project-wide failure
// alert to a signed webhook, makes a sync fail, and checks that the
// webhook emulator received the alert; then a reload turns on the slow
// rule and a successful run alerts as slow.
func TestE2EAlerts(t *testing.T) {
	t.Parallel()
	const secret = "e2e-alert-signing-secret"
	hook := webhooktest.New(webhooktest.WithSecret(secret))
	defer hook.Close()

	dir := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command(riptideBin(t), "init", dir).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	env := []string{"ALERT_HOOK_URL=" + hook.URL() + "/alerts", "ALERT_SECRET=" + secret}
	p := &proj{t: t, dir: dir, env: env}
	yaml, err := os.ReadFile(filepath.Join(dir, "riptide.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := `
alerts:
  on: [failure]
  slower_than: 1ns
  to:
    - {webhook: "${ALERT_HOOK_URL}", signing_secret: "${ALERT_SECRET}"}
`
	p.write("riptide.yaml", string(yaml)+alerts)
	p.write("models/broken.yaml", "broken: {source: warehouse, primary_key: id, sql: select * from no_such_table}\n")
	p.write("syncs/broken.yaml", "broken_to_crm: {model: broken, destination: crm}\n")
	if r := p.riptide("validate"); r.code != 0 {
		t.Fatalf("validate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := p.riptide("tokens", "create", "--role", "editor", "--name", "ci", "--json")
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil {
		t.Fatalf("tokens create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	token := created["token"]

	cmd := exec.Command(riptideBin(t), "-p", dir, "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing; logs:\n%s", logs.String())
	}
	_, base, ok := strings.Cut(sc.Text(), "listening on ")
	if !ok {
		t.Fatalf("first line %q gives no address", sc.Text())
	}
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
	trigger := func(sync string) string {
		t.Helper()
		code, body := call("POST", "/api/v1/syncs/"+sync+"/runs")
		var queued struct{ ID string }
		if err := json.Unmarshal(body, &queued); code != 202 || err != nil || queued.ID == "" {
			t.Fatalf("trigger %s: %d %s", sync, code, body)
		}
		return queued.ID
	}
	// waitAlert waits for the receiver to accept an alert about run id.
	waitAlert := func(id, rule string) alert.Payload {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			for _, req := range hook.Requests() {
				var pl alert.Payload
				if req.RunID != id || json.Unmarshal(req.Body, &pl) != nil || pl.Records[0].Data.Rule != rule {
					continue
				}
				if req.Status != 200 || req.IdempotencyKey != "alert-"+id+"-"+rule {
					t.Fatalf("alert request answered %d (a bad signature is 401), Idempotency-Key %q", req.Status, req.IdempotencyKey)
				}
				return pl
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s alert for run %s; the receiver got %d requests; logs:\n%s", rule, id, hook.RequestCount(), logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	id := trigger("broken_to_crm")
	pl := waitAlert(id, "failure")
	d := pl.Records[0].Data
	if pl.Event != "alert" || pl.Sync != "broken_to_crm" || d.Status != "failed" || !strings.Contains(d.Message, "no_such_table") ||
		d.Links.Run != base+"/api/v1/runs/"+id {
		t.Errorf("failure alert: %+v", pl)
	}
	if code, body := call("GET", "/api/v1/runs/"+id); code != 200 || !strings.Contains(string(body), `"failed"`) {
		t.Errorf("the run is not recorded as failed: %d %s", code, body)
	}

	// A reload that turns on the slow rule applies to the next run.
	p.write("riptide.yaml", string(yaml)+strings.Replace(alerts, "on: [failure]", "on: [failure, slow]", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"reloaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok2 := trigger("customers_to_crm")
	slow := waitAlert(ok2, "slow")
	if d := slow.Records[0].Data; d.Status != "succeeded" || d.Counts.Succeeded != 100 || !strings.Contains(d.Message, "longer than 1ns") {
		t.Errorf("slow alert: %+v", d)
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
	for _, s := range []string{secret, token} {
		if strings.Contains(out, s) {
			t.Errorf("logs hold a secret %q", s)
		}
	}
	if !strings.Contains(out, `"msg":"alert sent"`) {
		t.Errorf("no alert sent log line:\n%s", out)
	}
}

// lockedLog collects a process's stderr while the test reads it.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
