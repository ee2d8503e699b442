package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
)

// TestE2EIterable syncs a DuckDB model into the Iterable emulator through
// the CLI in mirror mode: users identified by email through
// /api/users/bulkUpdate, an invalid email refused by Iterable (named in
// failedUpdates.invalidEmails) and shown in runs show, the request log
// holding the bulk requests, and rows removed from the model deleted one
// DELETE each; then a list sync subscribing the same rows to a static list.
func TestE2EIterable(t *testing.T) {
	t.Parallel()
	it, err := iterabletest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	it.CreateList(77)
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  iterable: {type: iterable, api_key: "${ITERABLE_API_KEY}", base_url: "${ITERABLE_URL}"}
models:
  users:
    source: warehouse
    primary_key: email
    sql: select email, first_name, ltv from users
syncs:
  users_to_iterable:
    model: users
    destination: iterable
    identifier: email
    mode: mirror
    mapping:
      email: email
      firstName: {template: "{{ .first_name | title }}"}
      lifetimeValue: ltv
      plan: {value: pro}
  users_to_list:
    model: users
    destination: iterable
    object: "list:77"
    mode: mirror
    mapping: {email: email}
`)
	p.env = []string{"ITERABLE_API_KEY=" + it.APIKey(), "ITERABLE_URL=" + it.URL()}
	p.sql(`CREATE TABLE users (email VARCHAR, first_name VARCHAR, ltv DOUBLE)`,
		`INSERT INTO users SELECT 'u' || i || '@example.com', 'ada', i * 1.5 FROM range(1, 201) t(i)`,
		`INSERT INTO users VALUES ('not-an-email', 'bob', 0)`)

	v, r := p.runJSON("users_to_iterable")
	if r.code != 1 || v.counts() != "partial add=201 chg=0 rem=0 rej=0 ok=200 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := it.Users()
	if len(got) != 200 {
		t.Fatalf("Iterable holds %d users, want 200", len(got))
	}
	if u := got["u7@example.com"]; u.DataFields["firstName"] != "Ada" || u.DataFields["plan"] != "pro" || u.DataFields["lifetimeValue"] != 10.5 {
		t.Errorf("user u7: %+v", u)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{`iterable refused email "not-an-email": invalid`, "POST ****/api/users/bulkUpdate → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// Rows leaving the model are deleted from Iterable, one request each.
	p.sql(`DELETE FROM users WHERE email IN ('u1@example.com', 'u2@example.com', 'not-an-email')`)
	v, r = p.runJSON("users_to_iterable")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got = it.Users()
	if _, ok := got["u2@example.com"]; ok || len(got) != 198 {
		t.Errorf("after the mirror run Iterable holds %d users (u2 present: %v)", len(got), ok)
	}

	v, r = p.runJSON("users_to_list")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("list run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	p.sql(`DELETE FROM users WHERE email = 'u3@example.com'`)
	if v, r = p.runJSON("users_to_list"); r.code != 0 {
		t.Fatalf("second list run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if m := it.Members(77); len(m) != 197 || m["u3@example.com"] || !m["u4@example.com"] {
		t.Errorf("list 77 has %d members (u3: %v, u4: %v), want 197 without u3", len(m), m["u3@example.com"], m["u4@example.com"])
	}
}

// TestE2EIterableValidateConnect checks mappings against the emulator's
// user fields (GET /api/users/getFields): data fields are named as
// Iterable lists them, an unknown one gets a suggestion and a field
// Iterable sets itself is refused, at the mapping lines' positions.
func TestE2EIterableValidateConnect(t *testing.T) {
	t.Parallel()
	it, err := iterabletest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  iterable: {type: iterable, api_key: "${ITERABLE_API_KEY}", base_url: "${ITERABLE_URL}"}
models:
  users: {source: warehouse, primary_key: email, sql: "select 'a@example.com' as email, 'ada' as first_name, 1.5 as ltv"}
syncs:
  good:
    model: users
    destination: iterable
    identifier: email
    mapping: {email: email, firstName: first_name, lifetimeValue: ltv}
  bad:
    model: users
    destination: iterable
    identifier: email
    mapping:
      email: email
      firstNme: first_name
      signupDate: {value: "2024-01-01"}
`)
	p.env = []string{"ITERABLE_API_KEY=" + it.APIKey(), "ITERABLE_URL=" + it.URL()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`riptide.yaml:20:7: sync bad: iterable object has no field "firstNme" (did you mean "firstName"?)`,
		`riptide.yaml:21:7: sync bad: iterable object field "signupDate" is read-only`,
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
