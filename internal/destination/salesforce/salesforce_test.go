package salesforce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

func emulator(t *testing.T) *salesforcetest.Server {
	t.Helper()
	s, err := salesforcetest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *salesforcetest.Server, mode string, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"client_id": s.ClientID(), "client_secret": s.ClientSecret(), "refresh_token": s.RefreshToken(), "base_url": s.URL()}
	for k, v := range extra {
		set[k] = v
	}
	d, err := newDestination(spec().WithDefaults(set), connector.Target{Sync: "s", Mode: mode, Object: "Contact", Identifier: []string{"Ext__c"}, Fields: []string{"Ext__c", "Email", "LastName"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func contact(op connector.Op, ext, email string) connector.Record {
	return connector.Record{Op: op, Key: ext, Fields: []connector.FieldValue{{Name: "Ext__c", Value: ext}, {Name: "Email", Value: email}, {Name: "LastName", Value: "L" + ext}}}
}

func TestWrite(t *testing.T) {
	ctx := context.Background()
	s := emulator(t)
	gone := s.Put("Contact", map[string]any{"Ext__c": "old", "LastName": "Old"})
	d := open(t, s, "mirror", nil)

	// Upserts: c2 exists and is updated, the bad email is refused alone.
	s.Put("Contact", map[string]any{"Ext__c": "c2", "LastName": "Before"})
	err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{
		contact(connector.OpUpsert, "c1", "c1@example.com"),
		contact(connector.OpUpsert, "c2", "c2@example.com"),
		contact(connector.OpUpsert, "bad", "not-an-email"),
		{Op: connector.OpUpsert, Key: "k", Fields: []connector.FieldValue{{Name: "Ext__c", Value: nil}}},
		{Op: connector.OpDelete, Key: "old"},
		{Op: connector.OpDelete, Key: "never-existed"},
	}})
	var re *connector.RowErrors
	if !errors.As(err, &re) || len(re.Failed) != 2 || !strings.Contains(re.Failed[2], "INVALID_EMAIL_ADDRESS") || !strings.Contains(re.Failed[3], "missing external ID") {
		t.Fatalf("Write = %v (%+v), want rows 2 and 3 refused", err, re)
	}
	got := s.Records("Contact", "Ext__c")
	if len(got) != 2 || got["c1"].Fields["Email"] != "c1@example.com" || got["c2"].Fields["LastName"] != "Lc2" {
		t.Errorf("records = %+v", got)
	}
	if _, ok := s.Records("Contact", "Id")[gone]; ok {
		t.Errorf("record %s (old) was not deleted", gone)
	}

	// Inserts create without matching.
	ins := open(t, s, "insert", nil)
	if err := ins.Write(ctx, &connector.Batch{Seq: 2, Records: []connector.Record{contact(connector.OpInsert, "c1", "dup@example.com")}}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Records("Contact", "Id")); n != 3 {
		t.Errorf("after insert %d records, want 3", n)
	}
}

func TestSession(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		refresh    bool
		expire     bool
		revoke     bool
		wantGrants []string
		wantAuth   bool
	}{
		{name: "refresh token", refresh: true, wantGrants: []string{"refresh_token"}},
		{name: "client credentials", wantGrants: []string{"client_credentials"}},
		{name: "expired session renewed once", refresh: true, expire: true, wantGrants: []string{"refresh_token", "refresh_token"}},
		{name: "revoked client stops the run", refresh: true, revoke: true, wantGrants: []string{"refresh_token"}, wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			extra := connector.Settings{}
			if !tt.refresh {
				extra["refresh_token"] = ""
			}
			d := open(t, s, "upsert", extra)
			if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}}); err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.expire:
				s.ExpireSessions()
			case tt.revoke:
				s.RevokeClient()
			}
			err := d.Write(ctx, &connector.Batch{Seq: 2, Records: []connector.Record{contact(connector.OpUpsert, "b", "b@example.com")}})
			if connector.IsAuth(err) != tt.wantAuth || (err != nil && !tt.wantAuth) {
				t.Fatalf("second Write = %v, want auth failure %v", err, tt.wantAuth)
			}
			if g := s.Grants(); !slices.Equal(g, tt.wantGrants) {
				t.Errorf("grants = %v, want %v", g, tt.wantGrants)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
		auth      bool
		code      string
	}{
		// TotalRequests: the daily limit, which stops the run (limits_test.go).
		{403, false, false, "daily API request limit reached"},
		{429, true, false, "ConcurrentPerOrgLongTxn"},
		{503, true, false, "SERVER_UNAVAILABLE"},
		{500, true, false, "SERVER_UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s := emulator(t)
			d := open(t, s, "upsert", nil)
			s.FailNext(tt.status)
			err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}})
			var re *connector.RequestError
			if !errors.As(err, &re) || re.Retryable != tt.retryable || re.Auth != tt.auth || !strings.Contains(re.Message, tt.code) {
				t.Fatalf("Write = %#v, want status %d retryable %v auth %v", err, tt.status, tt.retryable, tt.auth)
			}
		})
	}
	// More than 200 records is refused whole and not retried: the engine
	// splits the batch.
	s := emulator(t)
	d := open(t, s, "upsert", connector.Settings{"api": "collections"})
	recs := make([]connector.Record, 201)
	for i := range recs {
		recs[i] = contact(connector.OpUpsert, fmt.Sprint(i), "x@example.com")
	}
	var re *connector.RequestError
	if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: recs}); !errors.As(err, &re) || re.Retryable || re.Auth || re.Status != 400 {
		t.Fatalf("201 records: %v", err)
	}
}

func TestSettings(t *testing.T) {
	base := connector.Settings{"client_id": "id", "client_secret": "s"}
	tests := []struct {
		name   string
		set    connector.Settings
		target connector.Target
		want   string
	}{
		{"no identifier", nil, connector.Target{Mode: "upsert", Object: "Contact"}, "identifier"},
		{"bad object", nil, connector.Target{Mode: "upsert", Object: "Contact/x", Identifier: []string{"E__c"}}, "object"},
		{"identifier not mapped", nil, connector.Target{Mode: "upsert", Object: "Contact", Identifier: []string{"E__c"}, Fields: []string{"Email"}}, "mapping"},
		{"bad version", connector.Settings{"api_version": "v62"}, connector.Target{Mode: "insert", Object: "Contact"}, "api_version"},
		{"bad login url", connector.Settings{"login_url": "ftp://x"}, connector.Target{Mode: "insert", Object: "Contact"}, "login_url"},
		{"no secret", connector.Settings{"client_secret": ""}, connector.Target{Mode: "insert", Object: "Contact"}, "client_secret"},
		{"bad api", connector.Settings{"api": "soap"}, connector.Target{Mode: "insert", Object: "Contact"}, "api"},
		{"collections over 200", connector.Settings{"api": "collections", "batch_size": 500}, connector.Target{Mode: "insert", Object: "Contact"}, "batch_size"},
		{"bulk over 200", connector.Settings{"api": "bulk", "batch_size": 10000}, connector.Target{Mode: "insert", Object: "Contact"}, ""},
		{"threshold above collections", connector.Settings{"bulk_threshold": 202}, connector.Target{Mode: "insert", Object: "Contact"}, "bulk_threshold"},
		{"no poll interval", connector.Settings{"bulk_poll_interval": time.Duration(0)}, connector.Target{Mode: "insert", Object: "Contact"}, "bulk_poll_interval"},
		{"insert needs no identifier", nil, connector.Target{Mode: "insert", Object: "Custom__c"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := connector.Settings{}
			for k, v := range base {
				set[k] = v
			}
			for k, v := range tt.set {
				set[k] = v
			}
			_, err := newDestination(spec().WithDefaults(set), tt.target)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSOQLString(t *testing.T) {
	for in, want := range map[string]string{`a`: `'a'`, `o'neil`: `'o\'neil'`, `a\b`: `'a\\b'`} {
		if got := soqlString(in); got != want {
			t.Errorf("soqlString(%q) = %s, want %s", in, got, want)
		}
	}
}
