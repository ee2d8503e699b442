package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

// TestE2EHubSpot syncs a DuckDB model into the HubSpot emulator through
// the CLI: contacts upserted by email, an invalid email refused by HubSpot
// (a 207 partial success) and shown in runs show with HubSpot's message,
// the request log holding HubSpot's endpoints.
func TestE2EHubSpot(t *testing.T) {
	t.Parallel()
	hs, err := hubspottest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  crm: {type: hubspot, access_token: "${HUBSPOT_TOKEN}", base_url: "${HUBSPOT_URL}"}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, first_name from users
syncs:
  users_to_hubspot:
    model: users
    destination: crm
    object: contacts
    identifier: email
    mapping:
      email: email
      firstname: {template: "{{ .first_name | title }}"}
      lifecyclestage: {value: customer}
`)
	p.env = []string{"HUBSPOT_TOKEN=" + hs.Token(), "HUBSPOT_URL=" + hs.URL()}
	p.sql(`CREATE TABLE users (id INTEGER, email VARCHAR, first_name VARCHAR)`,
		`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'ada' FROM range(1, 251) t(i)`,
		`INSERT INTO users VALUES (999, 'not-an-email', 'bob')`)

	v, r := p.runJSON("users_to_hubspot")
	if r.code != 1 || v.counts() != "partial add=251 chg=0 rem=0 rej=0 ok=250 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := hs.Records("contacts", "email")
	if len(got) != 250 {
		t.Fatalf("HubSpot holds %d contacts, want 250", len(got))
	}
	if c := got["u7@example.com"]; c.Properties["firstname"]+" "+c.Properties["lifecyclestage"] != "Ada customer" {
		t.Errorf("contact u7: %+v", c)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"Email address not-an-email is invalid", "POST ****/crm/v3/objects/contacts/batch/upsert → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}
	// The next run retries only the refused row.
	v, r = p.runJSON("users_to_hubspot")
	if v.Planned != 1 || v.Failed != 1 {
		t.Errorf("second run: %s planned %d", v.counts(), v.Planned)
	}
}

// TestE2EValidateConnect checks mappings against HubSpot's properties API
// (the emulator's): an unknown property gets a suggestion, a read-only one
// is refused, with the positions of the mapping lines.
func TestE2EValidateConnect(t *testing.T) {
	t.Parallel()
	hs, err := hubspottest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  crm: {type: hubspot, access_token: "${HUBSPOT_TOKEN}", base_url: "${HUBSPOT_URL}"}
  hook: {type: webhook, url: "http://127.0.0.1:1/x"}
models:
  users: {source: warehouse, primary_key: id, sql: select 1 as id}
syncs:
  good:
    model: users
    destination: crm
    object: contacts
    mapping: {email: email, firstname: first_name}
  bad:
    model: users
    destination: crm
    object: contacts
    mapping:
      email: email
      firstnme: first_name
      hs_object_id: id
  other:
    model: users
    destination: hook
`)
	p.env = []string{"HUBSPOT_TOKEN=" + hs.Token(), "HUBSPOT_URL=" + hs.URL()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`riptide.yaml:21:7: sync bad: hubspot contacts has no field "firstnme" (did you mean "firstname"?)`,
		`riptide.yaml:22:7: sync bad: hubspot contacts field "hs_object_id" is read-only`,
		"connected: 2 syncs checked against their destination's schema (1 skipped: their destination lists no schema: other)",
	} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("validate --connect lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "sync good") {
		t.Errorf("the good sync was reported:\n%s", r.stderr)
	}
	// Without --connect nothing is checked against the destination.
	if r := p.riptide("validate"); r.code != 0 {
		t.Errorf("validate without --connect: exit %d\n%s", r.code, r.stderr)
	}
}
