package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
)

// TestE2ESlack syncs a DuckDB model into the Slack emulator through the CLI:
// a templated message per added row (a row whose text is over Slack's
// 40,000-character limit refused alone and shown in runs show), a changed
// row posting a new message in upsert mode, a digest of the same model in
// one message, and a sync to an unknown channel failing its rows with
// Slack's error code. The emulator holds the CLI to one message per second
// per channel; no request may be rate-limited.
func TestE2ESlack(t *testing.T) {
	t.Parallel()
	sl, err := slacktest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  slack: {type: slack, token: "${SLACK_BOT_TOKEN}", base_url: "${SLACK_URL}"}
  slack_digest: {type: slack, token: "${SLACK_BOT_TOKEN}", base_url: "${SLACK_URL}", digest: true, batch_size: 50}
models:
  signups:
    source: warehouse
    primary_key: id
    sql: select id, email, plan, note from signups
syncs:
  signups_to_slack:
    model: signups
    destination: slack
    object: "#general"
    mode: upsert
    mapping:
      text: {template: "New signup: {{ .email }} on {{ .plan | upper }}{{ .note }}"}
  signups_digest:
    model: signups
    destination: slack_digest
    object: C0ALERTS
    mode: insert
    mapping:
      text: {template: "{{ .email }} ({{ .plan }})"}
  signups_nowhere:
    model: signups
    destination: slack
    object: "#nowhere"
    mode: insert
    mapping:
      text: {template: "{{ .email }}"}
`)
	p.env = []string{"SLACK_BOT_TOKEN=" + sl.Token(), "SLACK_URL=" + sl.URL()}
	p.sql(`CREATE TABLE signups (id INTEGER, email VARCHAR, plan VARCHAR, note VARCHAR)`,
		`INSERT INTO signups VALUES (1, 'ann@example.com', 'pro', ''), (2, 'bob@example.com', 'free', ''),
			(3, 'big@example.com', 'pro', repeat('x', 40001))`)

	v, r := p.runJSON("signups_to_slack")
	if r.code != 1 || v.counts() != "partial add=3 chg=0 rem=0 rej=0 ok=2 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	var general []string
	for _, m := range sl.Messages() {
		if m.Channel == "C0GENERAL" {
			general = append(general, m.Text)
		}
	}
	if strings.Join(general, "|") != "New signup: ann@example.com on PRO|New signup: bob@example.com on FREE" {
		t.Errorf("messages in #general: %q", general)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"over Slack's 40000-character limit", "POST ****/api/chat.postMessage → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// A changed row posts a new message; the refused row fails again.
	p.sql(`UPDATE signups SET plan = 'enterprise' WHERE id = 2`)
	v, _ = p.runJSON("signups_to_slack")
	if v.Changed != 1 || v.Succeeded != 1 || v.Failed != 1 {
		t.Errorf("second run: %s", v.counts())
	}
	if msgs := sl.Messages(); msgs[len(msgs)-1].Text != "New signup: bob@example.com on ENTERPRISE" {
		t.Errorf("last message after the change: %q", msgs[len(msgs)-1].Text)
	}

	// A digest: the three rows in one message.
	v, r = p.runJSON("signups_digest")
	if r.code != 0 || v.Succeeded != 3 {
		t.Fatalf("digest run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	msgs := sl.Messages()
	// The rows are listed in the order they were planned, which the
	// model's SQL does not fix: compare them as a set.
	last := msgs[len(msgs)-1]
	lines := strings.Split(last.Text, "\n")
	slices.Sort(lines[1:])
	want := []string{"*signups_digest*: 3 new or changed rows", "• ann@example.com (pro)", "• big@example.com (pro)", "• bob@example.com (enterprise)"}
	if last.Channel != "C0ALERTS" || !slices.Equal(lines, want) {
		t.Errorf("digest = %q in %s, want the lines %q", last.Text, last.Channel, want)
	}

	// An unknown channel: every row fails with Slack's code.
	v, _ = p.runJSON("signups_nowhere")
	if v.Failed != 3 || v.Succeeded != 0 {
		t.Errorf("run to #nowhere: %s", v.counts())
	}
	if show := p.riptide("runs", "show", v.ID); !strings.Contains(show.stdout, "slack: channel_not_found") {
		t.Errorf("runs show lacks channel_not_found:\n%.2000s", show.stdout)
	}
	if n := sl.RateLimited(); n != 0 {
		t.Errorf("the emulator rate-limited %d requests", n)
	}
}
