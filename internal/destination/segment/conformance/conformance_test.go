// Package conformance proves that the segmenttest emulator speaks Segment's
// HTTP Tracking API: it drives Segment's official Node.js client
// (@segment/analytics-node, pinned in package-lock.json) against the
// emulator.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/segment/segmenttest"
)

func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func TestOfficialClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not installed (%v); install Node.js to run the official-client test", err)
	}
	if _, err := os.Stat("node_modules/@segment/analytics-node"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/segment/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := segmenttest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "SEGMENT_HOST="+s.URL(), "SEGMENT_WRITE_KEY="+s.WriteKey())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("official client against the emulator: %v\n%s", err, out)
	}
	p := s.Profiles()
	if len(p) != 2 || p["u1"]["email"] != "ann@example.com" || p["u1"]["plan"] != "pro" || p["u1"]["logins"] != 5.0 || p["u2"]["deleted"] != true {
		t.Errorf("profiles after the client's calls = %v (the duplicate messageId m-1 must not change plan)", p)
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].UserID != "u1" || ev[0].Event != "Order Completed" || ev[0].Properties["total"] != 42.5 || ev[0].MessageID == "" {
		t.Errorf("events after the client's calls = %+v", ev)
	}
	if s.Calls() != 3 || len(s.Rejections()) != 0 {
		t.Errorf("calls accepted = %d, rejections %v; want 3 and none", s.Calls(), s.Rejections())
	}
}
