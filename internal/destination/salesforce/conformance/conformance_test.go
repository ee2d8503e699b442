// Package conformance proves that the salesforcetest emulator speaks
// Salesforce's REST API: it drives jsforce, Salesforce's most widely used
// JavaScript client (pinned in package-lock.json), against the emulator
// for every call the salesforce destination makes.
package conformance

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
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
	if _, err := os.Stat("node_modules/jsforce"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/salesforce/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := salesforcetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "SF_URL="+s.URL(), "SF_CLIENT_ID="+s.ClientID(), "SF_CLIENT_SECRET="+s.ClientSecret(), "SF_REFRESH_TOKEN="+s.RefreshToken())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("jsforce against the emulator: %v\n%s", err, out)
	}
	got := s.Records("Contact", "Ext__c")
	// ann through collections, b1 through the bulk2 job (b2 refused).
	if len(got) != 2 || got["ann"].Fields["LastName"] != "Lee-Smith" || got["ann"].Fields["Email"] != "ann@example.com" || got["b1"].Fields["LastName"] != "One" {
		t.Errorf("end state after the client's calls = %v", got)
	}
	if g := s.Grants(); !slices.Equal(g, []string{"refresh_token", "client_credentials"}) {
		t.Errorf("token grants = %v, want refresh_token then client_credentials", g)
	}
}
