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
