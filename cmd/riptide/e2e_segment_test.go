package main

import (
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/segment/segmenttest"
)

// TestE2ESegment syncs a DuckDB model into the Segment emulator through the
// CLI: identify calls keyed by the primary key, a row whose call exceeds
// Segment's 32 KB limit refused alone and shown in runs show, a removed row
// marked with the delete trait in mirror mode, and a track sync of the same
// model.
func TestE2ESegment(t *testing.T) {
	t.Parallel()
	sg, err := segmenttest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sg.Close()
	p := newProj(t, `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  cdp: {type: segment, write_key: "${SEGMENT_WRITE_KEY}", base_url: "${SEGMENT_URL}", delete_trait: deleted}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, plan, logins, bio from users
syncs:
  users_to_segment:
    model: users
    destination: cdp
    mode: mirror
    mapping:
      email: email
      plan: {template: "{{ .plan | upper }}"}
      logins: logins
      bio: bio
  signups_to_segment:
    model: users
    destination: cdp
    object: "track:Signed Up"
    identifier: user_email
    mode: insert
    mapping: {user_email: email, plan: plan}
`)
	p.env = []string{"SEGMENT_WRITE_KEY=" + sg.WriteKey(), "SEGMENT_URL=" + sg.URL()}
	p.sql(`CREATE TABLE users (id INTEGER, email VARCHAR, plan VARCHAR, logins INTEGER, bio VARCHAR)`,
		`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'pro', i, 'hi' FROM range(1, 1201) t(i)`,
		`INSERT INTO users VALUES (9999, 'big@example.com', 'pro', 0, repeat('x', 40000))`)

	v, r := p.runJSON("users_to_segment")
	if r.code != 1 || v.counts() != "partial add=1201 chg=0 rem=0 rej=0 ok=1200 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	profiles := sg.Profiles()
	if len(profiles) != 1200 {
		t.Fatalf("Segment holds %d profiles, want 1200", len(profiles))
	}
	if u := profiles["7"]; u["email"] != "u7@example.com" || u["plan"] != "PRO" || u["logins"] != 7.0 {
		t.Errorf("profile 7: %v", u)
	}
	if _, ok := profiles["9999"]; ok {
		t.Error("the oversized call reached Segment")
	}
	show := p.riptide("runs", "show", "--requests", v.ID)
	for _, want := range []string{"over Segment's 32768-byte limit per call", "POST ****/v1/batch → 200"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show --requests lacks %q:\n%.2000s", want, show.stdout)
		}
	}

	// A removed row is marked, not deleted; the refused row is retried and
	// fails again.
	p.sql(`DELETE FROM users WHERE id = 3`)
	v, _ = p.runJSON("users_to_segment")
	if v.Removed != 1 || v.Succeeded != 1 || v.Failed != 1 {
		t.Errorf("second run: %s", v.counts())
	}
	if u := sg.Profiles()["3"]; u["deleted"] != true || u["email"] != "u3@example.com" {
		t.Errorf("profile 3 after its row was removed: %v", u)
	}

	// 1199 users are left, plus the one whose bio the track sync does not map.
	v, r = p.runJSON("signups_to_segment")
	if v.Succeeded != 1200 || v.Failed != 0 {
		t.Fatalf("track sync: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	events := sg.Events()
	if len(events) != 1200 || events[0].Event != "Signed Up" || !strings.HasSuffix(events[0].UserID, "@example.com") || events[0].Properties["plan"] != "pro" {
		t.Errorf("%d events, first %+v", len(events), events[0])
	}
}
