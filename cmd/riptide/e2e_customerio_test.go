package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/customerio/customeriotest"
)

// TestE2ECustomerIO syncs a DuckDB model into the Customer.io emulator
// through the CLI in mirror mode: people identified by id through
// /api/v2/batch, an over-long attribute value refused by Customer.io (a
// 207 error naming its batch_index) and shown in runs show with the
// emulator's message, the request log holding the batch requests, and rows
// removed from the model deleted with delete entries.
func TestE2ECustomerIO(t *testing.T) {
	t.Parallel()
	cio, err := customeriotest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer cio.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  cio: {type: customerio, site_id: "${CIO_SITE_ID}", api_key: "${CIO_API_KEY}", base_url: "${CIO_URL}"}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, first_name, bio, ltv from users
syncs:
  users_to_cio:
    model: users
    destination: cio
    identifier: id
    mode: mirror
    mapping:
      id: id
      email: email
      first_name: {template: "{{ .first_name | title }}"}
      bio: bio
      lifetime_value: ltv
      plan: {value: pro}
`)
	p.env = []string{"CIO_SITE_ID=" + cio.SiteID(), "CIO_API_KEY=" + cio.APIKey(), "CIO_URL=" + cio.URL()}
	p.sql(`CREATE TABLE users (id VARCHAR, email VARCHAR, first_name VARCHAR, bio VARCHAR, ltv DOUBLE)`,
		`INSERT INTO users SELECT 'u' || i, 'u' || i || '@example.com', 'ada', 'short', i * 1.5 FROM range(1, 201) t(i)`,
		`INSERT INTO users VALUES ('bad', 'bad@example.com', 'bob', repeat('x', 1200), 0)`)

	v, r := p.runJSON("users_to_cio")
	if r.code != 1 || v.counts() != "partial add=201 chg=0 rem=0 rej=0 ok=200 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := cio.People()
	if len(got) != 200 {
		t.Fatalf("Customer.io holds %d people, want 200", len(got))
	}
	if u := got["u7"]; u.Email != "u7@example.com" || u.Attributes["first_name"] != "Ada" || u.Attributes["plan"] != "pro" || u.Attributes["lifetime_value"] != 10.5 {
		t.Errorf("person u7: %+v", u)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"value for attribute 'bio' cannot be longer than 1000 bytes", "POST ****/api/v2/batch → 207"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// Rows leaving the model are deleted from Customer.io; the refused row
	// is retried and, fixed, lands.
	p.sql(`DELETE FROM users WHERE id IN ('u1', 'u2', 'u3')`, `UPDATE users SET bio = 'fixed' WHERE id = 'bad'`)
	v, r = p.runJSON("users_to_cio")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got = cio.People()
	if _, ok := got["u2"]; ok || len(got) != 198 || got["bad"].Attributes["bio"] != "fixed" {
		t.Errorf("after the mirror run Customer.io holds %d people (u2 present: %v, bad: %+v)", len(got), ok, got["bad"])
	}
}
