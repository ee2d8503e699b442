package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

// TestE2ESalesforce syncs a DuckDB model into the Salesforce emulator
// through the CLI in mirror mode: a refresh-token sign-in, Contacts
// upserted by external ID, an invalid email refused by Salesforce (a
// per-record error) and shown in runs show with Salesforce's code, the
// request log holding the token and collection calls, and rows removed
// from the model looked up by external ID and deleted.
func TestE2ESalesforce(t *testing.T) {
	t.Parallel()
	sf, err := salesforcetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  salesforce:
    type: salesforce
    client_id: "${SF_CLIENT_ID}"
    client_secret: "${SF_CLIENT_SECRET}"
    refresh_token: "${SF_REFRESH_TOKEN}"
    base_url: "${SF_URL}"
models:
  customers:
    source: warehouse
    primary_key: id
    sql: select id, email, last_name, ltv from customers
syncs:
  customers_to_salesforce:
    model: customers
    destination: salesforce
    object: Contact
    identifier: Ext_Id__c
    mode: mirror
    mapping:
      Ext_Id__c: id
      Email: email
      LastName: {template: "{{ .last_name | title }}"}
      Lifetime_Value__c: ltv
      LeadSource: {value: Riptide}
`)
	p.env = []string{"SF_CLIENT_ID=" + sf.ClientID(), "SF_CLIENT_SECRET=" + sf.ClientSecret(), "SF_REFRESH_TOKEN=" + sf.RefreshToken(), "SF_URL=" + sf.URL()}
	p.sql(`CREATE TABLE customers (id VARCHAR, email VARCHAR, last_name VARCHAR, ltv DOUBLE)`,
		`INSERT INTO customers SELECT 'c' || i, 'c' || i || '@example.com', 'doe', i * 1.5 FROM range(1, 251) t(i)`,
		`INSERT INTO customers VALUES ('bad', 'not-an-email', 'roe', 0)`)

	v, r := p.runJSON("customers_to_salesforce")
	if r.code != 1 || v.counts() != "partial add=251 chg=0 rem=0 rej=0 ok=250 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got := sf.Records("Contact", "Ext_Id__c")
	if len(got) != 250 {
		t.Fatalf("Salesforce holds %d contacts, want 250", len(got))
	}
	if c := got["c7"]; c.Fields["Email"] != "c7@example.com" || c.Fields["LastName"] != "Doe" || c.Fields["LeadSource"] != "Riptide" || c.Fields["Lifetime_Value__c"] != 10.5 {
		t.Errorf("contact c7: %+v", c)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-email", "POST ****/services/oauth2/token → 200", "PATCH ****/services/data/v62.0/composite/sobjects/Contact/Ext_Id__c → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.3000s", want, show.stdout)
		}
	}

	// Rows leaving the model are deleted from Salesforce; the refused row
	// is retried and, fixed, lands.
	p.sql(`DELETE FROM customers WHERE id IN ('c1', 'c2', 'c3')`, `UPDATE customers SET email = 'roe@example.com' WHERE id = 'bad'`)
	v, r = p.runJSON("customers_to_salesforce")
	if r.code != 0 || v.Failed != 0 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	got = sf.Records("Contact", "Ext_Id__c")
	if _, ok := got["c2"]; ok || len(got) != 248 || got["bad"].Fields["Email"] != "roe@example.com" {
		t.Errorf("after the mirror run Salesforce holds %d contacts (c2 present: %v, bad: %+v)", len(got), ok, got["bad"])
	}
}

// TestE2ESalesforceBulk runs the same kind of sync with `api: bulk` and a
// large batch: each batch becomes a Bulk API 2.0 ingest job (create, CSV
// upload, close, poll, failed results), the refused row is reported from
// the job's failed results, and removed rows are deleted by a delete job.
func TestE2ESalesforceBulk(t *testing.T) {
	t.Parallel()
	sf, err := salesforcetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  salesforce:
    type: salesforce
    client_id: "${SF_CLIENT_ID}"
    client_secret: "${SF_CLIENT_SECRET}"
    refresh_token: "${SF_REFRESH_TOKEN}"
    base_url: "${SF_URL}"
    api: bulk
    batch_size: 5000
    bulk_poll_interval: 10ms
models:
  customers:
    source: warehouse
    primary_key: id
    sql: select id, email from customers
syncs:
  customers_to_salesforce:
    model: customers
    destination: salesforce
    object: Contact
    identifier: Ext_Id__c
    mode: mirror
    mapping: {Ext_Id__c: id, Email: email}
`)
	p.env = []string{"SF_CLIENT_ID=" + sf.ClientID(), "SF_CLIENT_SECRET=" + sf.ClientSecret(), "SF_REFRESH_TOKEN=" + sf.RefreshToken(), "SF_URL=" + sf.URL()}
	p.sql(`CREATE TABLE customers (id VARCHAR, email VARCHAR)`,
		`INSERT INTO customers SELECT 'c' || i, 'c' || i || '@example.com' FROM range(1, 1001) t(i)`,
		`INSERT INTO customers VALUES ('bad', 'not-an-email')`)

	v, r := p.runJSON("customers_to_salesforce")
	if r.code != 1 || v.counts() != "partial add=1001 chg=0 rem=0 rej=0 ok=1000 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(sf.Records("Contact", "Ext_Id__c")); n != 1000 {
		t.Fatalf("Salesforce holds %d contacts, want 1000", n)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"/jobs/ingest", "invalid email address", "bad"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.3000s", want, show.stdout)
		}
	}
	p.sql(`DELETE FROM customers WHERE id IN ('c1', 'c2')`)
	v, r = p.runJSON("customers_to_salesforce")
	if r.code != 1 || v.Removed != 2 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(sf.Records("Contact", "Ext_Id__c")); n != 998 {
		t.Errorf("after the delete job Salesforce holds %d contacts, want 998", n)
	}
}

// TestE2ESalesforceValidateConnect checks Salesforce syncs' mappings
// against sObject Describe through `validate --connect`: a misspelt field
// (with the nearest name), a read-only one, and an identifier that holds
// no unique values.
func TestE2ESalesforceValidateConnect(t *testing.T) {
	t.Parallel()
	sf, err := salesforcetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  salesforce:
    type: salesforce
    client_id: "${SF_CLIENT_ID}"
    client_secret: "${SF_CLIENT_SECRET}"
    refresh_token: "${SF_REFRESH_TOKEN}"
    base_url: "${SF_URL}"
models:
  users: {source: warehouse, primary_key: id, sql: select 1 as id}
syncs:
  good:
    model: users
    destination: salesforce
    object: Contact
    identifier: Ext_Id__c
    mapping: {Ext_Id__c: id, Email: email, LastName: last_name, Lifetime_Value__c: ltv}
  bad:
    model: users
    destination: salesforce
    object: Contact
    identifier: Email
    mapping:
      Email: email
      LastNme: last_name
      CreatedDate: created_at
`)
	p.env = []string{"SF_CLIENT_ID=" + sf.ClientID(), "SF_CLIENT_SECRET=" + sf.ClientSecret(), "SF_REFRESH_TOKEN=" + sf.RefreshToken(), "SF_URL=" + sf.URL()}
	r := p.riptide("validate", "--connect")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`sync bad: salesforce Contact has no field "LastNme" (did you mean "LastName"?)`,
		`sync bad: salesforce Contact field "CreatedDate" is read-only`,
		`sync bad: identifier "Email" of salesforce Contact does not hold unique values`,
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
