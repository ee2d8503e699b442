// Package conformance proves that the intercomtest emulator speaks
// Intercom's REST API: it drives the official intercom-client package
// (pinned in package-lock.json) against the emulator for every call the
// intercom destination makes.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
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
	if _, err := os.Stat("node_modules/intercom-client"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/intercom/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := intercomtest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "INTERCOM_URL="+s.URL(), "INTERCOM_TOKEN="+s.Token())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("intercom-client against the emulator: %v\n%s", err, out)
	}
	live, archived := s.Contacts(), s.Archived()
	if len(live) != 2 || live["ann"].Name != "Anna" || live["ann"].CustomAttributes["seats"] != 4.0 || live["lee"].Role != "lead" {
		t.Errorf("live contacts after the client's calls = %+v", live)
	}
	if len(archived) != 1 || archived["bob"].Name != "Bob" {
		t.Errorf("archived contacts = %+v", archived)
	}
	if v := s.Versions(); len(v) != 1 || v["2.11"] == 0 {
		t.Errorf("Intercom-Version headers = %v, want only 2.11", v)
	}
}
