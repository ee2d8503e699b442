package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
)

// TestE2EMailchimp syncs a DuckDB model into the Mailchimp emulator through
// the CLI in mirror mode: members subscribed by email through batch
// subscribe with merge fields and tags, an invalid-looking address refused
// by Mailchimp (a per-member error) and shown in runs show with the
// emulator's message, the request log holding the batch calls, and rows
// removed from the model archived one DELETE each.
func TestE2EMailchimp(t *testing.T) {
	t.Parallel()
	mc, err := mailchimptest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  mc: {type: mailchimp, api_key: "${MC_API_KEY}", base_url: "${MC_URL}"}
models:
  users:
    source: warehouse
    primary_key: email
    sql: select email, first_name, plan from users
syncs:
  users_to_mc:
    model: users
    destination: mc
    object: "${MC_LIST}"
    identifier: email_address
    mode: mirror
    mapping:
      email_address: email
      FNAME: {template: "{{ .first_name | title }}"}
      PLAN: plan
      tags: {value: "riptide"}
`)
	p.env = []string{"MC_API_KEY=" + mc.APIKey(), "MC_URL=" + mc.URL(), "MC_LIST=" + mc.ListID()}
	p.sql(`CREATE TABLE users (email VARCHAR, first_name VARCHAR, plan VARCHAR)`,
		`INSERT INTO users SELECT 'u' || i || '@example.com', 'ada', 'pro' FROM range(1, 601) t(i)`,
		`INSERT INTO users VALUES ('not-an-email', 'bob', 'free')`)

	v, r := p.runJSON("users_to_mc")
	if r.code != 1 || v.counts() != "partial add=601 chg=0 rem=0 rej=0 ok=600 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := mc.Active(mc.ListID())
	if len(got) != 600 {
		t.Fatalf("Mailchimp holds %d members, want 600", len(got))
	}
	if u := got["u7@example.com"]; u.Status != "subscribed" || u.MergeFields["FNAME"] != "Ada" || u.MergeFields["PLAN"] != "pro" || len(u.Tags) != 1 || u.Tags[0] != "riptide" {
		t.Errorf("member u7: %+v", u)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"not-an-email looks fake or invalid", "POST ****/3.0/lists/**** → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// Rows leaving the model are archived; the refused row, fixed, lands.
	p.sql(`DELETE FROM users WHERE email IN ('u1@example.com', 'u2@example.com', 'u3@example.com')`,
		`UPDATE users SET email = 'bob@example.com' WHERE email = 'not-an-email'`)
	v, r = p.runJSON("users_to_mc")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got = mc.Active(mc.ListID())
	if _, ok := got["u2@example.com"]; ok || len(got) != 598 || got["bob@example.com"].MergeFields["FNAME"] != "Bob" {
		t.Errorf("after the mirror run Mailchimp holds %d active members (u2 present: %v, bob: %+v)", len(got), ok, got["bob@example.com"])
	}
	if all := mc.Members(mc.ListID()); all["u2@example.com"].Status != "archived" || mc.Archives() != 3 {
		t.Errorf("u2 = %+v, archives = %d, want archived and 3", all["u2@example.com"], mc.Archives())
	}
}

// TestE2EValidateConnectMailchimp checks mappings against the emulator's
// list merge fields: member fields and merge tags pass, a misspelt merge
// tag gets the nearest one, with the position of its mapping line.
func TestE2EValidateConnectMailchimp(t *testing.T) {
	t.Parallel()
	mc, err := mailchimptest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  mc: {type: mailchimp, api_key: "${MC_API_KEY}", base_url: "${MC_URL}"}
models:
  users: {source: warehouse, primary_key: email, sql: "select 'a@example.com' as email, 'Ada' as first_name"}
syncs:
  good:
    model: users
    destination: mc
    object: "${MC_LIST}"
    mapping: {email_address: email, FNAME: first_name, status: {value: subscribed}, tags: {value: riptide}}
  bad:
    model: users
    destination: mc
    object: "${MC_LIST}"
    mapping:
      email_address: email
      FNAM: first_name
`)
	p.env = []string{"MC_API_KEY=" + mc.APIKey(), "MC_URL=" + mc.URL(), "MC_LIST=" + mc.ListID()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`riptide.yaml:20:7: sync bad: mailchimp ` + mc.ListID() + ` has no field "FNAM" (did you mean "FNAME"?)`,
		"connected: 2 syncs checked against their destination's schema",
	} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("validate --connect lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "sync good") {
		t.Errorf("the good sync was reported:\n%s%s", r.stdout, r.stderr)
	}
}
