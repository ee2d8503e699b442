// Package conformance proves that the customeriotest emulator speaks
// Customer.io's Track API: it drives the official customerio-node client
// (pinned in package-lock.json) against the emulator for the v1 calls the
// client makes, and checks the v2 batch call the destination makes as raw
// HTTPS from the same script.
package conformance

import (
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/customerio/customeriotest"
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
	if _, err := os.Stat("node_modules/customerio-node"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/customerio/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := customeriotest.New(customeriotest.WithTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "CIO_URL="+s.URL(), "CIO_PORT="+u.Port(), "CIO_CA="+s.CertPEM(),
		"CIO_SITE_ID="+s.SiteID(), "CIO_API_KEY="+s.APIKey())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("customerio-node client against the emulator: %v\n%s", err, out)
	}
	got := s.People()
	want := map[string]string{"ann": "Anna", "dee": "Dee", "fay": "Fay"}
	if len(got) != len(want) || got["ann"].Email != "ann@example.com" {
		t.Errorf("end state after the client's calls = %v", got)
	}
	for id, first := range want {
		if got[id].Attributes["first_name"] != first {
			t.Errorf("person %s = %+v, want first_name %s", id, got[id], first)
		}
	}
}
