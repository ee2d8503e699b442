// Package conformance proves that the brazetest emulator speaks Braze's
// REST API: it drives the braze-api Node.js client (the most widely used
// Braze REST client on npm, pinned in package-lock.json) against the
// emulator.
package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
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
	if _, err := os.Stat("node_modules/braze-api"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/braze/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	// 60 custom attributes: the export's two pages (50 a page).
	attrs := make([]brazetest.CustomAttribute, 60)
	for i := range attrs {
		attrs[i] = brazetest.CustomAttribute{Name: fmt.Sprintf("attr_%02d", i), DataType: "Number", Description: "seeded"}
	}
	s, err := brazetest.New(brazetest.WithCustomAttributes(attrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "BRAZE_BASE_URL="+s.URL(), "BRAZE_API_KEY="+s.APIKey())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("braze-api client against the emulator: %v\n%s", err, out)
	}
	got := s.Users()
	if len(got) != 1 || got["ann"].Attributes["first_name"] != "Anna" || got["ann"].Email != "ann@example.com" {
		t.Errorf("end state after the client's calls = %v", got)
	}
}
