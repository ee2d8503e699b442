package googleads

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/google_ads/googleadstest"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, field, raw, want string // want "" means refused
	}{
		{"email trimmed and lower-cased", FieldEmail, "  Jane.Doe+x@Example.COM ", "jane.doe+x@example.com"},
		{"gmail dots kept", FieldEmail, "a.b@gmail.com", "a.b@gmail.com"},
		{"email without @", FieldEmail, "jane.example.com", ""},
		{"email with inner space", FieldEmail, "ja ne@example.com", ""},
		{"phone to E.164", FieldPhone, "+1 (555) 010-0000", "+15550100000"},
		{"phone with 00 prefix", FieldPhone, "0044 20 7946 0000", "+442079460000"},
		{"phone without country code", FieldPhone, "555-0100", ""},
		{"phone with letters", FieldPhone, "+1 555 CALL NOW", ""},
		{"phone too long", FieldPhone, "+1234567890123456", ""},
		{"country upper-cased", FieldCountryCode, " us", "US"},
		{"country not two letters", FieldCountryCode, "USA", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, why string
			switch tt.field {
			case FieldEmail:
				got, why = NormalizeEmail(tt.raw)
			case FieldPhone:
				got, why = NormalizePhone(tt.raw)
			case FieldCountryCode:
				got, why = NormalizeCountry(tt.raw)
			}
			if got != tt.want {
				t.Errorf("normalise %q = %q (%s), want %q", tt.raw, got, why, tt.want)
			}
			if got == "" && why == "" {
				t.Errorf("refused %q without a reason", tt.raw)
			}
		})
	}
	if h, _ := hashedEmail(strings.ToUpper(Hash("a@b.co"))); h != Hash("a@b.co") {
		t.Errorf("an already-hashed email is re-hashed: %s", h)
	}
}

func settings(s *googleadstest.Server) connector.Settings {
	return connector.Settings{
		"client_id": googleadstest.ClientID, "client_secret": googleadstest.ClientSecret,
		"refresh_token": googleadstest.RefreshToken, "developer_token": googleadstest.DeveloperToken,
		"customer_id": googleadstest.CustomerID, "base_url": s.URL(), "token_url": s.TokenURL(),
	}
}

func TestNewRefuses(t *testing.T) {
	base := connector.Settings{"client_id": "c", "client_secret": "s", "refresh_token": "r", "developer_token": "d", "customer_id": "1234567890"}
	list := "customers/1234567890/userLists/9"
	tests := []struct {
		name   string
		change func(connector.Settings, *connector.Target)
		want   string
	}{
		{"missing developer token", func(s connector.Settings, _ *connector.Target) { delete(s, "developer_token") }, "developer_token"},
		{"short customer id", func(s connector.Settings, _ *connector.Target) { s["customer_id"] = "12345" }, "customer_id"},
		{"object not a user list", func(_ connector.Settings, tg *connector.Target) { tg.Object = "9" }, "resource name"},
		{"list of another customer", func(_ connector.Settings, tg *connector.Target) { tg.Object = "customers/9999999999/userLists/9" }, "belongs to customer"},
		{"update mode", func(_ connector.Settings, tg *connector.Target) { tg.Mode = "update" }, "mode update"},
		{"unknown field", func(_ connector.Settings, tg *connector.Target) { tg.Fields = []string{"EMAIL"} }, "not a Customer Match field"},
		{"mirror without identifier", func(_ connector.Settings, tg *connector.Target) { tg.Mode, tg.Identifier = "mirror", nil }, "identifier"},
		{"bad version", func(s connector.Settings, _ *connector.Target) { s["api_version"] = "19" }, "api_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connector.Settings{}
			for k, v := range base {
				s[k] = v
			}
			tg := connector.Target{Sync: "s", Object: list, Mode: "upsert", Identifier: []string{"email"}, Fields: []string{"email"}}
			tt.change(s, &tg)
			_, err := newDestination(s, tg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRequestErrorClassification(t *testing.T) {
	d := &client{now: time.Now}
	body := func(code int, status string) []byte {
		return []byte(`{"error":{"code":` + strconv.Itoa(code) + `,"message":"m","status":"` + status + `","details":[{"@type":"type.googleapis.com/google.ads.googleads.v19.errors.GoogleAdsFailure","errors":[{"errorCode":{"quotaError":"X"},"message":"inner"}],"requestId":"r1"}]}}`)
	}
	tests := []struct {
		status          int
		rpc             string
		retryable, auth bool
	}{
		{401, "UNAUTHENTICATED", false, true},
		{403, "PERMISSION_DENIED", false, true},
		{429, "RESOURCE_EXHAUSTED", true, false},
		{503, "UNAVAILABLE", true, false},
		{500, "INTERNAL", true, false},
		{409, "ABORTED", true, false},
		{400, "INVALID_ARGUMENT", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.rpc, func(t *testing.T) {
			h := http.Header{}
			h.Set("Retry-After", "7")
			re := d.requestError(tt.status, body(tt.status, tt.rpc), h)
			if re.Retryable != tt.retryable || re.Auth != tt.auth {
				t.Fatalf("%d %s: retryable %v auth %v, want %v %v", tt.status, tt.rpc, re.Retryable, re.Auth, tt.retryable, tt.auth)
			}
			if !strings.Contains(re.Message, "quotaError.X inner") || !strings.Contains(re.Message, "request r1") {
				t.Errorf("message %q lacks the GoogleAdsFailure", re.Message)
			}
			if tt.retryable && re.RetryAfter != 7*time.Second {
				t.Errorf("RetryAfter %v, want 7s", re.RetryAfter)
			}
		})
	}
}

// TestWriteJob checks the calls one Write makes: one job per batch, its
// operations (create for upserts, remove for deletes) and a run, and row
// errors for rows with nothing to match on.
func TestWriteJob(t *testing.T) {
	s, err := googleadstest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tg := connector.Target{Sync: "s", Object: s.UserList(), Mode: "mirror", Identifier: []string{"email"}}
	dst, err := newDestination(settings(s), tg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	up := func(key string, fields ...connector.FieldValue) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, Fields: fields}
	}
	b := &connector.Batch{Records: []connector.Record{
		up("a@x.io", connector.FieldValue{Name: "email", Value: "A@x.io"}),
		up("b", connector.FieldValue{Name: "first_name", Value: " Ann "}, connector.FieldValue{Name: "last_name", Value: "Lee"},
			connector.FieldValue{Name: "country_code", Value: "gb"}, connector.FieldValue{Name: "postal_code", Value: "SW1A 1AA"}),
		up("c", connector.FieldValue{Name: "phone", Value: "555"}),
		up("d", connector.FieldValue{Name: "first_name", Value: "Ann"}),
	}}
	err = dst.Write(ctx, b)
	var rows *connector.RowErrors
	if !errors.As(err, &rows) || len(rows.Failed) != 2 || !strings.Contains(rows.Failed[2], "country code") || !strings.Contains(rows.Failed[3], "address needs") {
		t.Fatalf("Write: %v, want rows 2 and 3 failed", err)
	}
	members := s.Members(s.UserList())
	if len(members) != 2 || members[0]["hashedEmail"] != Hash("a@x.io") || !strings.Contains(members[1]["addressInfo"], Hash("ann")+"|"+Hash("lee")+"|GB|SW1A 1AA") {
		t.Fatalf("members %v", members)
	}
	if err := dst.Write(ctx, &connector.Batch{Records: []connector.Record{{Op: connector.OpDelete, Key: " a@X.io"}}}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if n := len(s.Members(s.UserList())); n != 1 {
		t.Errorf("after removing a@x.io the list holds %d members, want 1", n)
	}
	jobs := s.Jobs()
	if len(jobs) != 2 || jobs[0].Status != "SUCCESS" || jobs[1].Status != "SUCCESS" {
		t.Errorf("jobs %+v, want two, both run", jobs)
	}
}
