// Package conformance proves that the mailchimptest emulator speaks
// Mailchimp's Marketing API: it drives the official
// @mailchimp/mailchimp_marketing client (pinned in package-lock.json)
// against the emulator for every call the mailchimp destination makes.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
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
	if _, err := os.Stat("node_modules/@mailchimp/mailchimp_marketing"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/mailchimp/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := mailchimptest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "MC_URL="+s.URL(), "MC_API_KEY="+s.APIKey(), "MC_LIST="+s.ListID())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("@mailchimp/mailchimp_marketing client against the emulator: %v\n%s", err, out)
	}
	got := s.Members(s.ListID())
	if len(got) != 2 || got["ann@example.com"].Status != "unsubscribed" || got["bob@example.com"].Status != "archived" {
		t.Errorf("end state after the client's calls = %+v", got)
	}
}
