// Package conformance proves that the hubspottest emulator speaks HubSpot's
// API: it drives HubSpot's official Node.js client (@hubspot/api-client,
// pinned in package-lock.json) against the emulator.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
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
	if _, err := os.Stat("node_modules/@hubspot/api-client"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/hubspot/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := hubspottest.New(hubspottest.WithCustomObject(hubspottest.CustomObject{
		ID: "2-424242", Name: "invoices", Singular: "Invoice", Plural: "Invoices",
		Properties: []hubspottest.Property{{Name: "invoice_number", Unique: true}, {Name: "amount", Type: "number"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "HUBSPOT_BASE_URL="+s.URL(), "HUBSPOT_TOKEN="+s.Token())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("official client against the emulator: %v\n%s", err, out)
	}
	if got := s.Records("contacts", "email"); got["ann@example.com"].Properties["firstname"] != "Anna" || len(got) != 2 {
		t.Errorf("end state after the client's calls = %v", got)
	}
}
