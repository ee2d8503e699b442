package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/google_ads/googleadstest"
)

// TestE2EGoogleAds syncs a DuckDB model into the Google Ads Customer Match
// emulator through the CLI: members added by offline user data jobs with
// normalised, hashed identifiers, a malformed pre-hashed value refused by
// Google's partial failure and shown in `runs show`, removed rows taken
// out of the list by a mirror sync, and no secret in any output.
func TestE2EGoogleAds(t *testing.T) {
	t.Parallel()
	s, err := googleadstest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  google:
    type: google_ads
    client_id: `+googleadstest.ClientID+`
    client_secret: "${GADS_SECRET}"
    refresh_token: "${GADS_REFRESH}"
    developer_token: "${GADS_DEV}"
    customer_id: 123-456-7890
    base_url: "${GADS_URL}"
    token_url: "${GADS_URL}/token"
models:
  buyers:
    source: warehouse
    primary_key: email
    sql: select email, phone, hashed from buyers
syncs:
  buyers_list:
    model: buyers
    destination: google
    object: `+s.UserList()+`
    identifier: email
    mode: mirror
    mapping: {email: email, phone: phone, hashed_email: hashed}
`)
	p.env = []string{"GADS_SECRET=" + googleadstest.ClientSecret, "GADS_REFRESH=" + googleadstest.RefreshToken,
		"GADS_DEV=" + googleadstest.DeveloperToken, "GADS_URL=" + s.URL()}
	p.sql(`CREATE TABLE buyers (email VARCHAR, phone VARCHAR, hashed VARCHAR)`,
		`INSERT INTO buyers SELECT ' Buyer' || i || '@Example.COM', '+1 (555) 010-' || lpad(i::VARCHAR, 4, '0'), NULL FROM range(1, 51) t(i)`,
		`INSERT INTO buyers VALUES ('odd@example.com', NULL, 'not-a-sha256-digest')`)

	v, r := p.runJSON("buyers_list")
	if r.code != 1 || v.counts() != "partial add=51 chg=0 rem=0 rej=0 ok=50 fail=1" {
		t.Fatalf("first run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(s.Members(s.UserList())); n != 50 {
		t.Fatalf("the user list holds %d members, want 50", n)
	}
	if !hasEmail(s, "buyer7@example.com") {
		t.Error("member 7's email is not held as the SHA-256 of its normalised form")
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"The SHA256 encoded value is malformed", ":addOperations", ":run"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	p.sql(`DELETE FROM buyers WHERE email IN (' Buyer3@Example.COM', ' Buyer4@Example.COM')`)
	v, r = p.runJSON("buyers_list")
	if v.Removed != 2 {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := len(s.Members(s.UserList())); n != 48 || hasEmail(s, "buyer3@example.com") {
		t.Errorf("after removing 2 the user list holds %d members", n)
	}
	out := show.stdout + r.stdout + r.stderr + p.riptide("runs", "show", "--requests", v.ID).stdout
	for _, secret := range []string{googleadstest.ClientSecret, googleadstest.RefreshToken, googleadstest.DeveloperToken, "ya29."} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret (%.12s…) appears in the output", secret)
		}
	}
}

func hasEmail(s *googleadstest.Server, email string) bool {
	sum := sha256.Sum256([]byte(email))
	for _, m := range s.Members(s.UserList()) {
		if m["hashedEmail"] == hex.EncodeToString(sum[:]) {
			return true
		}
	}
	return false
}
