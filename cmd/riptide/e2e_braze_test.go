package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
)

// TestE2EBraze syncs a DuckDB model into the Braze emulator through the
// CLI in mirror mode: users tracked by external_id, an invalid dob refused
// by Braze (a non-fatal error naming its index) and shown in runs show
// with Braze's message, the request log holding /users/track, and rows
// removed from the model deleted through /users/delete.
func TestE2EBraze(t *testing.T) {
	t.Parallel()
	bz, err := brazetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer bz.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  braze: {type: braze, api_key: "${BRAZE_API_KEY}", base_url: "${BRAZE_URL}"}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, first_name, dob, ltv from users
syncs:
  users_to_braze:
    model: users
    destination: braze
    identifier: external_id
    mode: mirror
    mapping:
      external_id: id
      email: email
      first_name: {template: "{{ .first_name | title }}"}
      dob: dob
      lifetime_value: ltv
      plan: {value: pro}
`)
	p.env = []string{"BRAZE_API_KEY=" + bz.APIKey(), "BRAZE_URL=" + bz.URL()}
	p.sql(`CREATE TABLE users (id VARCHAR, email VARCHAR, first_name VARCHAR, dob VARCHAR, ltv DOUBLE)`,
		`INSERT INTO users SELECT 'u' || i, 'u' || i || '@example.com', 'ada', '1990-01-02', i * 1.5 FROM range(1, 201) t(i)`,
		`INSERT INTO users VALUES ('bad', 'bad@example.com', 'bob', '02/01/1990', 0)`)

	v, r := p.runJSON("users_to_braze")
	if r.code != 1 || v.counts() != "partial add=201 chg=0 rem=0 rej=0 ok=200 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := bz.Users()
	if len(got) != 200 {
		t.Fatalf("Braze holds %d users, want 200", len(got))
	}
	if u := got["u7"]; u.Email != "u7@example.com" || u.Attributes["first_name"] != "Ada" || u.Attributes["plan"] != "pro" || u.Attributes["lifetime_value"] != 10.5 {
		t.Errorf("user u7: %+v", u)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"'dob' must be a date in YYYY-MM-DD format", "POST ****/users/track → 201"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// Rows leaving the model are deleted from Braze; the refused row is
	// retried and, fixed, lands.
	p.sql(`DELETE FROM users WHERE id IN ('u1', 'u2', 'u3')`, `UPDATE users SET dob = '1990-02-01' WHERE id = 'bad'`)
	v, r = p.runJSON("users_to_braze")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got = bz.Users()
	if _, ok := got["u2"]; ok || len(got) != 198 || got["bad"].Attributes["dob"] != "1990-02-01" {
		t.Errorf("after the mirror run Braze holds %d users (u2 present: %v, bad: %+v)", len(got), ok, got["bad"])
	}
}
