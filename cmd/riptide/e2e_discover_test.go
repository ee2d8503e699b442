package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
)

// TestE2EDiscover: `riptide discover` lists a destination account's
// objects and an object's fields from the vendor's API, and
// `validate --connect` reports a sync whose object the account lacks, with
// the nearest name.
func TestE2EDiscover(t *testing.T) {
	t.Parallel()
	mc, err := mailchimptest.New(mailchimptest.WithLists("a1b2c3", "d4e5f6"),
		mailchimptest.WithListName("a1b2c3", "Newsletter"), mailchimptest.WithListName("d4e5f6", "Customers"))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: ":memory:"}
destinations:
  mc: {type: mailchimp, api_key: "${MC_API_KEY}", base_url: "${MC_URL}"}
  hook: {type: webhook, url: "http://127.0.0.1:9/"}
models:
  users:
    source: warehouse
    primary_key: email
    sql: select 'a@b.c' as email, 'Ada' as first_name
syncs:
  good:
    model: users
    destination: mc
    object: a1b2c3
    mapping: {email_address: email, FNAME: first_name}
  typo:
    model: users
    destination: mc
    object: a1b2c4
    mapping: {email_address: email, FNAME: first_name}
`)
	p.env = []string{"MC_API_KEY=" + mc.APIKey(), "MC_URL=" + mc.URL()}

	r := p.riptide("discover", "mc")
	if r.code != 0 {
		t.Fatalf("discover: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"OBJECT", "a1b2c3", "Newsletter", "d4e5f6", "Customers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("discover lacks %q:\n%s", want, r.stdout)
		}
	}

	r = p.riptide("--json", "discover", "mc", "--object", "a1b2c3")
	var fields struct {
		Object string `json:"object"`
		Fields []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Unique bool   `json:"unique"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil || r.code != 0 {
		t.Fatalf("discover --json --object: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	byName := map[string]bool{}
	for _, f := range fields.Fields {
		byName[f.Name] = true
		if f.Name == "email_address" && !f.Unique {
			t.Errorf("email_address is not unique: %+v", f)
		}
	}
	if fields.Object != "a1b2c3" || !byName["FNAME"] || !byName["email_address"] {
		t.Errorf("fields of a1b2c3: %+v", fields)
	}

	r = p.riptide("discover", "hook")
	if r.code == 0 || !strings.Contains(r.stderr, "destination hook (webhook): its vendor has no schema API") {
		t.Errorf("discover of a webhook: exit %d\n%s", r.code, r.stderr)
	}
	r = p.riptide("discover", "mcc")
	if r.code == 0 || !strings.Contains(r.stderr, `no destination named "mcc" (did you mean "mc"?)`) {
		t.Errorf("discover of an unknown destination: exit %d\n%s", r.code, r.stderr)
	}

	r = p.riptide("validate", "--connect")
	if r.code != 2 || !strings.Contains(r.stderr, `sync typo: mailchimp destination mc has no object "a1b2c4" (did you mean "a1b2c3"?)`) {
		t.Fatalf("validate --connect: exit %d, want 2 and the unknown object\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "sync good") {
		t.Errorf("validate --connect reports the good sync:\n%s", r.stderr)
	}
	if mc.APIKey() != "" && strings.Contains(r.stderr+r.stdout, mc.APIKey()) {
		t.Error("the API key appears in the output")
	}
}
