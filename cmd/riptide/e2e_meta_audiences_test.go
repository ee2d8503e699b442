package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
)

// TestE2EMetaAudiences syncs a DuckDB model into the Meta Custom Audiences
// emulator through the CLI: members added with normalised, hashed
// identifiers, removed rows taken out of the audience by a mirror sync (the
// request log shows the DELETE), and the access token in no output.
func TestE2EMetaAudiences(t *testing.T) {
	t.Parallel()
	s, err := metaaudiencestest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  meta: {type: meta_audiences, access_token: "${META_TOKEN}", base_url: "${META_URL}"}
models:
  buyers:
    source: warehouse
    primary_key: id
    sql: select id, email, phone from buyers
syncs:
  buyers_audience:
    model: buyers
    destination: meta
    object: "`+s.Audience()+`"
    identifier: EXTERN_ID
    mode: mirror
    mapping: {EXTERN_ID: id, EMAIL: email, PHONE: phone}
`)
	p.env = []string{"META_TOKEN=" + s.Token(), "META_URL=" + s.URL()}
	p.sql(`CREATE TABLE buyers (id VARCHAR, email VARCHAR, phone VARCHAR)`,
		`INSERT INTO buyers SELECT 'b' || i, ' Buyer' || i || '@Example.COM', '+1 (555) 010-' || lpad(i::VARCHAR, 4, '0') FROM range(1, 51) t(i)`)

	v, r := p.runJSON("buyers_audience")
	if r.code != 0 || v.counts() != "succeeded add=50 chg=0 rem=0 rej=0 ok=50 fail=0" {
		t.Fatalf("first run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(s.Members(s.Audience())); n != 50 {
		t.Fatalf("the audience holds %d members, want 50", n)
	}
	// Meta matches on SHA-256 of the normalised email: trimmed, lower case.
	if !s.Has(s.Audience(), "EMAIL", sha256hex("buyer7@example.com")) {
		t.Error("member 7's email is not held as the SHA-256 of its normalised form")
	}

	p.sql(`DELETE FROM buyers WHERE id IN ('b3', 'b4')`)
	v, r = p.runJSON("buyers_audience")
	if r.code != 0 || v.Removed != 2 || v.Succeeded != 2 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(s.Members(s.Audience())); n != 48 {
		t.Errorf("after removing 2 the audience holds %d members", n)
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	if strings.Contains(show.stdout+r.stdout+r.stderr, s.Token()) {
		t.Error("the access token appears in the output")
	}
	if !strings.Contains(show.stdout, "DELETE ") {
		t.Errorf("the request log lacks the removal:\n%.1500s", show.stdout)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
