package main

import (
	"bufio"
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestE2EEmulate runs the webhook emulator standalone, posts a batch to
// the URL it prints, and stops it with Ctrl-C.
func TestE2EEmulate(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(riptideBin(t), "emulate", "webhook", "--addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("the emulator printed nothing")
	}
	first := sc.Text()
	_, url, ok := strings.Cut(first, "base_url ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("first line %q does not give the base URL", first)
	}
	body := `{"sync":"s","run_id":"r","batch":1,"records":[{"op":"upsert","key":"1","data":{"a":1}},{"op":"delete","key":"2"}]}`
	resp, err := http.Post(url+"/ingest", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(rest.String(), "1 requests, 2 records accepted, 1 keys held") {
		t.Errorf("summary:\n%s", rest.String())
	}
}

// TestE2EEmulateObjects: an emulator whose syncs name an account's object
// (a Meta audience) says which objects it holds, and `discover` against it
// lists the same.
func TestE2EEmulateObjects(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(riptideBin(t), "emulate", "meta_audiences", "--addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	lines := map[string]string{}
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Ctrl-C") {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		lines[k] = v
	}
	_, url, _ := strings.Cut(lines["meta_audiences emulator listening"], "base_url ")
	audience, what, _ := strings.Cut(lines["object"], " ")
	if url == "" || lines["token"] == "" || !strings.Contains(what, "ad account 1234567890123456") {
		t.Fatalf("the emulator's first lines: %q", lines)
	}
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: ":memory:"}
destinations:
  meta: {type: meta_audiences, access_token: "${META_TOKEN}", base_url: "${META_URL}", ad_account_id: "1234567890123456"}
models:
  m: {source: warehouse, primary_key: id, sql: "select 1 as id"}
`)
	p.env = []string{"META_TOKEN=" + lines["token"], "META_URL=" + url}
	r := p.riptide("discover", "meta")
	if r.code != 0 || !strings.Contains(r.stdout, audience) {
		t.Errorf("discover: exit %d, want audience %s listed\n%s%s", r.code, audience, r.stdout, r.stderr)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
}
