package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

// TestE2EValidateConnectTypes: validate --connect reads the model's
// column types (no rows) and reports mapped columns that can never fit the
// destination field's type.
func TestE2EValidateConnectTypes(t *testing.T) {
	t.Parallel()
	hs, err := hubspottest.New(hubspottest.WithObject("contacts",
		hubspottest.Property{Name: "email", Unique: true},
		hubspottest.Property{Name: "amount", Type: "number"},
		hubspottest.Property{Name: "renewal", Type: "datetime"},
		hubspottest.Property{Name: "note"},
	))
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: ":memory:"}
destinations:
  crm: {type: hubspot, access_token: "${HUBSPOT_TOKEN}", base_url: "${HUBSPOT_URL}"}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select 1 as id, 'a@b.c' as email, 'twelve' as amount_text, 12.5 as amount, 42 as n, now() as ts
syncs:
  typed:
    model: users
    destination: crm
    object: contacts
    mapping:
      email: email
      amount: amount_text
      renewal: n
      note: n
  fine:
    model: users
    destination: crm
    object: contacts
    mapping: {email: email, amount: amount, renewal: ts}
`)
	p.env = []string{"HUBSPOT_TOKEN=" + hs.Token(), "HUBSPOT_URL=" + hs.URL()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`riptide.yaml:18:7: sync typed: column amount_text is text (VARCHAR) in the model, but hubspot contacts field "amount" holds a number`,
		`riptide.yaml:19:7: sync typed: column n is a number (INTEGER) in the model, but hubspot contacts field "renewal" holds a timestamp`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate --connect lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "sync fine") || strings.Contains(r.stderr, `field "note"`) {
		t.Errorf("a fitting mapping was reported:\n%s", r.stderr)
	}
}
