// Package conformance proves that the iterabletest emulator speaks
// Iterable's API as the official @iterable/api client (pinned in
// package-lock.json) expects: the client drives every call the iterable
// destination makes and validates each answer against its schemas.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
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
	if _, err := os.Stat("node_modules/@iterable/api"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/iterable/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := iterabletest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const list = 4242
	s.AddList(iterabletest.List{ID: list, Name: "Newsletter"})
	s.AddList(iterabletest.List{ID: 7, Name: "Engaged", Type: "Dynamic"})
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "ITERABLE_URL="+s.URL(), "ITERABLE_KEY="+s.APIKey(), "LIST_ID=4242")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("@iterable/api client against the emulator: %v\n%s", err, out)
	}
	users := s.Users()
	if len(users) != 2 || users["ann@example.com"].DataFields["firstName"] != "Anna" {
		t.Errorf("users after the client's calls = %v, want ann (Anna) and cy", users)
	}
	if m := s.Members(list); len(m) != 1 || !m["ann@example.com"] {
		t.Errorf("list members = %v, want ann only", m)
	}
}
