// Package conformance proves that the slacktest emulator speaks Slack's
// Web API: it drives Slack's official Node.js client (@slack/web-api,
// pinned in package-lock.json) against the emulator.
package conformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
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
	if _, err := os.Stat("node_modules/@slack/web-api"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/slack/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := slacktest.New(slacktest.WithPrivateChannel("G0SECRET", "secret"), slacktest.WithChannel("C0OLD", "old"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Archive("C0OLD")
	unscoped, err := slacktest.New(slacktest.WithScopes("chat:write"))
	if err != nil {
		t.Fatal(err)
	}
	defer unscoped.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "SLACK_API_URL="+s.URL()+"/api/", "SLACK_TOKEN="+s.Token(),
		"SLACK_API_URL_NO_SCOPE="+unscoped.URL()+"/api/")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("official client against the emulator: %v\n%s", err, out)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].Channel != "C0GENERAL" || msgs[0].Text != "New signup: ann@example.com" ||
		msgs[1].Channel != "C0ALERTS" || len(msgs[1].Blocks) != 1 || msgs[1].Blocks[0]["type"] != "section" {
		t.Errorf("messages after the client's calls = %+v", msgs)
	}
	// 5 chat.postMessage calls, 2 + 3 pages of conversations.list (the
	// paginator stops on the page without next_cursor) and one refused list.
	if s.RateLimited() != 1 || s.Requests() != 11 {
		t.Errorf("rate limited %d of %d requests; want 1 of 11", s.RateLimited(), s.Requests())
	}
	if unscoped.Requests() != 1 {
		t.Errorf("the unscoped emulator saw %d requests, want 1", unscoped.Requests())
	}
}
