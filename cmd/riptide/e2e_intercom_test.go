package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
)

// TestE2EIntercom syncs a DuckDB model into the Intercom emulator through
// the CLI in mirror mode: contacts searched by external_id and created,
// mapped fields outside Intercom's standard ones sent as custom
// attributes, an over-long custom attribute refused by Intercom for its
// record alone and shown in runs show with the emulator's message, the
// request log holding the search and create requests, and rows removed
// from the model archived.
func TestE2EIntercom(t *testing.T) {
	t.Parallel()
	ic, err := intercomtest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  ic: {type: intercom, access_token: "${INTERCOM_TOKEN}", base_url: "${INTERCOM_URL}"}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, first_name, bio, ltv from users
syncs:
  users_to_intercom:
    model: users
    destination: ic
    identifier: external_id
    mode: mirror
    mapping:
      external_id: id
      email: email
      name: {template: "{{ .first_name | title }}"}
      bio: bio
      lifetime_value: ltv
      plan: {value: pro}
`)
	p.env = []string{"INTERCOM_TOKEN=" + ic.Token(), "INTERCOM_URL=" + ic.URL()}
	p.sql(`CREATE TABLE users (id VARCHAR, email VARCHAR, first_name VARCHAR, bio VARCHAR, ltv DOUBLE)`,
		`INSERT INTO users SELECT 'u' || i, 'u' || i || '@example.com', 'ada', 'short', i * 1.5 FROM range(1, 101) t(i)`,
		`INSERT INTO users VALUES ('bad', 'bad@example.com', 'bob', repeat('x', 300), 0)`)

	v, r := p.runJSON("users_to_intercom")
	if r.code != 1 || v.counts() != "partial add=101 chg=0 rem=0 rej=0 ok=100 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := ic.Contacts()
	if len(got) != 100 {
		t.Fatalf("Intercom holds %d contacts, want 100", len(got))
	}
	if u := got["u7"]; u.Email != "u7@example.com" || u.Name != "Ada" || u.Role != "user" || u.CustomAttributes["plan"] != "pro" || u.CustomAttributes["lifetime_value"] != 10.5 {
		t.Errorf("contact u7: %+v", u)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"Custom attribute 'bio' value is longer than 255", "POST ****/contacts/search → 200", "POST ****/contacts → 400"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// Rows leaving the model are archived in Intercom; the refused row is
	// retried and, fixed, lands.
	p.sql(`DELETE FROM users WHERE id IN ('u1', 'u2', 'u3')`, `UPDATE users SET bio = 'fixed' WHERE id = 'bad'`)
	v, r = p.runJSON("users_to_intercom")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got, archived := ic.Contacts(), ic.Archived()
	if _, ok := got["u2"]; ok || len(got) != 98 || len(archived) != 3 || got["bad"].CustomAttributes["bio"] != "fixed" {
		t.Errorf("after the mirror run Intercom holds %d contacts, %d archived (u2 live: %v, bad: %+v)", len(got), len(archived), ok, got["bad"])
	}
}

// TestE2EIntercomValidateConnect checks syncs' mappings against the
// emulator's contact data attributes through `riptide validate --connect`:
// custom attributes are known by their mapping names, an unknown field
// gets the nearest name, a field Intercom sets itself is read-only.
func TestE2EIntercomValidateConnect(t *testing.T) {
	t.Parallel()
	ic, err := intercomtest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  ic: {type: intercom, access_token: "${INTERCOM_TOKEN}", base_url: "${INTERCOM_URL}"}
models:
  users: {source: warehouse, primary_key: id, sql: "select 'u1' as id, 'a@example.com' as email, 2.5 as ltv"}
syncs:
  good:
    model: users
    destination: ic
    mapping: {external_id: id, email: email, lifetime_value: ltv, plan: {value: pro}}
  bad:
    model: users
    destination: ic
    mapping:
      external_id: id
      lifetime_valeu: ltv
      created_at: {value: "2024-01-01"}
`)
	p.env = []string{"INTERCOM_TOKEN=" + ic.Token(), "INTERCOM_URL=" + ic.URL()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`riptide.yaml:18:7: sync bad: intercom object has no field "lifetime_valeu" (did you mean "lifetime_value"?)`,
		`riptide.yaml:19:7: sync bad: intercom object field "created_at" is read-only`,
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
