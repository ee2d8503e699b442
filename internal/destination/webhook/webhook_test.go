package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/value"
)

var update = flag.Bool("update", false, "rewrite golden files")

var target = connector.Target{
	Sync:       "users_to_crm",
	RunID:      "run-1",
	Mode:       "mirror",
	Fields:     []string{"zeta", "email", "amount"},
	PrimaryKey: []string{"id"},
}

// setup returns a destination posting to srv with the given settings on
// top of the defaults.
func setup(t *testing.T, srv *webhooktest.Server, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"url": srv.URL() + "/ingest"}
	for k, v := range extra {
		set[k] = v
	}
	set = spec().WithDefaults(set)
	if err := spec().Check(set); err != nil {
		t.Fatal(err)
	}
	dst, err := Plugin().New(t.Context(), set, target, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close(context.Background()) })
	return dst.(*Destination)
}

func upsert(key string, fields ...connector.FieldValue) connector.Record {
	return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key}, Fields: fields}
}

func field(name string, v any) connector.FieldValue {
	return connector.FieldValue{Name: name, Value: v}
}

func simpleBatch(keys ...string) *connector.Batch {
	b := &connector.Batch{Seq: 3}
	for _, k := range keys {
		b.Records = append(b.Records, upsert(k, field("email", k+"@example.com")))
	}
	return b
}

func TestPayloadGolden(t *testing.T) {
	srv := webhooktest.New()
	defer srv.Close()
	dst := setup(t, srv, nil)
	created := time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC)
	b := &connector.Batch{Seq: 3, Records: []connector.Record{
		upsert("42",
			field("zeta", "a \"quoted\" <tag> & line\nbreak"),
			field("email", "a@b.c"),
			field("amount", value.Decimal("1234567890.123456789012")),
			field("ratio", 0.1),
			field("count", int64(-7)),
			field("active", true),
			field("created_at", created),
			field("birthday", value.Date("1990-05-17")),
			field("tags", []any{"x", int64(1), nil}),
			field("profile", value.JSON(`{"a":[1,2.50],"b":null}`)),
			field("missing", nil),
		),
		{Op: connector.OpDelete, Key: "7", KeyParts: []string{"7"}},
		{Op: connector.OpInsert, Key: "a|b\\|c", KeyParts: []string{"a", "b|c"}, Fields: []connector.FieldValue{field("email", "é😀")}},
		{Op: connector.OpUpdate, Key: "8", KeyParts: []string{"8"}, Fields: []connector.FieldValue{}},
	}}
	if err := dst.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0].Body
	golden := filepath.Join("testdata", "payload.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimSuffix(string(want), "\n"), string(got)); diff != "" {
		t.Errorf("body (-golden +got):\n%s", diff)
	}
	if !json.Valid(got) {
		t.Errorf("body is not valid JSON: %s", got)
	}

	// The emulator decoded it as a receiver would: numbers exact.
	r := reqs[0]
	if r.Sync != "users_to_crm" || r.RunID != "run-1" || r.Batch != 3 || r.Path != "/ingest" {
		t.Errorf("envelope = %q %q %d %q", r.Sync, r.RunID, r.Batch, r.Path)
	}
	if got := r.Records[0].Data["amount"]; got != json.Number("1234567890.123456789012") {
		t.Errorf("amount = %#v, want the exact decimal", got)
	}
	if r.Records[1].Op != "delete" || r.Records[1].Data != nil {
		t.Errorf("delete record = %+v", r.Records[1])
	}
	latest := srv.Latest()
	if _, ok := latest["7"]; ok || len(latest) != 3 {
		t.Errorf("latest = %v, want 42, a|b\\|c and 8 without 7", latest)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name     string
		opts     []webhooktest.Option
		settings connector.Settings
		part     string
		bearer   string // required by the emulator
		want     map[string]string
		absent   []string
	}{
		{
			name: "defaults",
			want: map[string]string{"Content-Type": "application/json", "Idempotency-Key": "run-1-3", "User-Agent": "riptide-webhook"},
			absent: []string{
				"Authorization", "X-Riptide-Signature",
			},
		},
		{
			name: "split batch part",
			part: "ab",
			want: map[string]string{"Idempotency-Key": "run-1-3-ab"},
		},
		{
			name:     "signature",
			opts:     []webhooktest.Option{webhooktest.WithSecret("hook-secret")},
			settings: connector.Settings{"signing_secret": "hook-secret"},
		},
		{
			name:     "custom headers",
			settings: connector.Settings{"headers": map[string]string{"X-Tenant": "acme", "x-lower": "v", "User-Agent": "acme-bot"}},
			want:     map[string]string{"X-Tenant": "acme", "X-Lower": "v", "Content-Type": "application/json", "User-Agent": "acme-bot"},
		},
		{
			name:     "custom headers cannot replace the protocol's",
			settings: connector.Settings{"headers": map[string]string{"Content-Type": "text/plain", "Idempotency-Key": "mine"}},
			want:     map[string]string{"Content-Type": "application/json", "Idempotency-Key": "run-1-3"},
		},
		{
			name:     "bearer",
			settings: connector.Settings{"bearer_token": "tok-123456"},
			bearer:   "tok-123456",
			want:     map[string]string{"Authorization": "Bearer tok-123456"},
		},
		{
			name:     "basic",
			settings: connector.Settings{"basic_auth_user": "riptide", "basic_auth_password": "pa:ss"},
			want:     map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("riptide:pa:ss"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhooktest.New(tt.opts...)
			defer srv.Close()
			srv.RequireBearer(tt.bearer)
			dst := setup(t, srv, tt.settings)
			b := simpleBatch("1", "2")
			b.Part = tt.part
			if err := dst.Write(t.Context(), b); err != nil {
				t.Fatalf("Write: %v", err)
			}
			req := srv.Requests()[0]
			if req.Status != http.StatusOK {
				t.Fatalf("emulator answered %d", req.Status)
			}
			for k, v := range tt.want {
				if got := req.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.absent {
				if got := req.Header.Get(k); got != "" {
					t.Errorf("%s = %q, want none", k, got)
				}
			}
			if s, ok := tt.settings["signing_secret"].(string); ok {
				if got, want := req.Header.Get(HeaderSignature), Sign([]byte(s), req.Body); got != want {
					t.Errorf("signature = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		opts     []webhooktest.Option
		settings connector.Settings
		program  func(*webhooktest.Server)
		want     error // compared with cmp
		wantMsg  string
		check    func(t *testing.T, err error)
	}{
		{
			name: "accepted",
		},
		{
			name:    "partial failure from results",
			program: func(s *webhooktest.Server) { s.FailKey("2", "email bounced"); s.FailKey("4", "") },
			want:    &connector.RowErrors{Failed: map[int]string{1: "email bounced"}},
		},
		{
			name:    "429 with Retry-After seconds",
			program: func(s *webhooktest.Server) { s.FailNext(1, webhooktest.Failure{Status: 429, RetryAfter: "7"}) },
			want:    &connector.RequestError{Status: 429, Retryable: true, RetryAfter: 7 * time.Second, Message: `{"error":"too many requests"}`},
		},
		{
			name:    "500 retryable",
			program: func(s *webhooktest.Server) { s.FailNext(1, webhooktest.Failure{Status: 500, Body: "database on fire"}) },
			want:    &connector.RequestError{Status: 500, Retryable: true, Message: "database on fire"},
		},
		{
			name:    "408 retryable",
			program: func(s *webhooktest.Server) { s.FailNext(1, webhooktest.Failure{Status: 408}) },
			want:    &connector.RequestError{Status: 408, Retryable: true, Message: `{"error":"request timeout"}`},
		},
		{
			name: "400 not retryable, with the body",
			program: func(s *webhooktest.Server) {
				s.FailNext(1, webhooktest.Failure{Status: 400, Body: "  field email is required\n"})
			},
			want:    &connector.RequestError{Status: 400, Message: "field email is required"},
			wantMsg: "status 400: field email is required",
		},
		{
			name:    "poisoned key fails the whole batch",
			program: func(s *webhooktest.Server) { s.PoisonKey("3", "plan must be free or pro") },
			want:    &connector.RequestError{Status: 400, Message: `{"error":"record 3: plan must be free or pro"}`},
		},
		{
			name:    "401 without the bearer token",
			program: func(s *webhooktest.Server) { s.RequireBearer("expected-token") },
			want:    &connector.RequestError{Status: 401, Auth: true, Message: `{"error":"invalid bearer token"}`},
		},
		{
			name:     "401 on a bad signature",
			opts:     []webhooktest.Option{webhooktest.WithSecret("right-secret")},
			settings: connector.Settings{"signing_secret": "wrong-secret"},
			want:     &connector.RequestError{Status: 401, Auth: true, Message: `{"error":"invalid signature"}`},
		},
		{
			name:     "secrets echoed by the server are masked",
			settings: connector.Settings{"bearer_token": "tok-abcdef"},
			program: func(s *webhooktest.Server) {
				s.FailNext(1, webhooktest.Failure{Status: 403, Body: "token tok-abcdef is revoked"})
			},
			want: &connector.RequestError{Status: 403, Auth: true, Message: "token **** is revoked"},
		},
		{
			name:     "timeout is a plain error",
			settings: connector.Settings{"timeout": 50 * time.Millisecond},
			program:  func(s *webhooktest.Server) { s.SetDelay(time.Minute) },
			check: func(t *testing.T, err error) {
				var re *connector.RequestError
				if err == nil || errors.As(err, &re) {
					t.Fatalf("err = %#v, want a plain transport error", err)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want it to be a deadline", err)
				}
				if !strings.HasPrefix(err.Error(), "post batch 3 to http://127.0.0.1:") {
					t.Errorf("err = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhooktest.New(tt.opts...)
			defer srv.Close()
			dst := setup(t, srv, tt.settings)
			if tt.program != nil {
				tt.program(srv)
			}
			err := dst.Write(t.Context(), simpleBatch("1", "2", "3", "4"))
			if tt.check != nil {
				tt.check(t, err)
				return
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, err); diff != "" {
				t.Errorf("err (-want +got):\n%s", diff)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestResultsParsing(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[int]string // nil: success
	}{
		{"empty body", "", nil},
		{"not json", "OK", nil},
		{"no results", `{"accepted":3}`, nil},
		{"all ok", `{"results":[{"key":"1","ok":true},{"key":"2","ok":true}]}`, nil},
		{"invalid json with results", `{"results":[`, nil},
		{"ok false", `{"results":[{"key":"2","ok":false,"error":"bad email"}]}`, map[int]string{1: "bad email"}},
		{"ok false without message", `{"results":[{"key":"3","ok":false}]}`, map[int]string{2: "refused by the destination"}},
		{"error without ok", `{"results":[{"key":"1","error":"duplicate"}]}`, map[int]string{0: "duplicate"}},
		{"numeric key", `{"results":[{"key":3,"ok":false,"error":"x"}]}`, map[int]string{2: "x"}},
		{"unknown key ignored", `{"results":[{"key":"99","ok":false,"error":"x"}]}`, nil},
		{"long message cut", `{"results":[{"key":"1","ok":false,"error":"` + strings.Repeat("e", 600) + `"}]}`, map[int]string{0: strings.Repeat("e", 500) + "…"}},
	}
	d := &Destination{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.results(simpleBatch("1", "2", "3"), []byte(tt.body))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var re *connector.RowErrors
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want row errors", err)
			}
			if diff := cmp.Diff(tt.want, re.Failed); diff != "" {
				t.Errorf("failed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportErrorsAreRedacted(t *testing.T) {
	// A port that was open a moment ago and is closed now refuses.
	srv := webhooktest.New()
	addr := strings.TrimPrefix(srv.URL(), "http://")
	srv.Close()
	set := spec().WithDefaults(connector.Settings{"url": "http://hook:s3cret-pw@" + addr + "/in"})
	dst, err := Plugin().New(t.Context(), set, target, "")
	if err != nil {
		t.Fatal(err)
	}
	err = dst.Write(t.Context(), simpleBatch("1"))
	var re *connector.RequestError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("err = %v, want a plain transport error", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "hook:****@") {
		t.Errorf("err = %q, want the password masked", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var gets int
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer ts.Close()
	dst, err := Plugin().New(t.Context(), spec().WithDefaults(connector.Settings{"url": ts.URL}), target, "")
	if err != nil {
		t.Fatal(err)
	}
	err = dst.Write(t.Context(), simpleBatch("1"))
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusFound || re.Retryable || !strings.Contains(re.Message, `"/elsewhere"`) {
		t.Errorf("err = %#v", err)
	}
	if gets != 0 {
		t.Errorf("followed the redirect with %d GETs", gets)
	}
}

func TestSettingsValidation(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		wantErr  string
	}{
		{"missing url", connector.Settings{}, "missing required setting url"},
		{"not http", connector.Settings{"url": "ftp://example.test/x"}, "want an http or https URL"},
		{"no host", connector.Settings{"url": "http:///x"}, "want an http or https URL"},
		{"unparsable, password masked", connector.Settings{"url": "http://u:pa%zzss@h/"}, "webhook: url"},
		{"bearer and basic", connector.Settings{"url": "http://127.0.0.1/", "bearer_token": "tok-1234", "basic_auth_user": "u"}, "not both"},
		{"password without user", connector.Settings{"url": "http://127.0.0.1/", "basic_auth_password": "pw-1234"}, "needs basic_auth_user"},
		{"zero batch size", connector.Settings{"url": "http://127.0.0.1/", "batch_size": 0}, "batch_size must be at least 1"},
		{"zero concurrency", connector.Settings{"url": "http://127.0.0.1/", "concurrency": 0}, "concurrency must be at least 1"},
		{"negative timeout", connector.Settings{"url": "http://127.0.0.1/", "timeout": -time.Second}, "timeout must not be negative"},
		{"negative rate", connector.Settings{"url": "http://127.0.0.1/", "rate_limit": -1.0}, "rate_limit must not be negative"},
		{"valid", connector.Settings{"url": "https://hooks.example.test/in"}, ""},
		{"valid without timeout", connector.Settings{"url": "https://hooks.example.test/in", "timeout": time.Duration(0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := spec().WithDefaults(tt.settings)
			err := spec().Check(set)
			if err == nil {
				_, err = Plugin().New(t.Context(), set, target, "")
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "pa%zzss") {
				t.Errorf("err = %v shows the password", err)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	s := Plugin().Spec
	if s.Type != "webhook" || s.Limits.BatchSize != 100 || s.Limits.Concurrency != 4 {
		t.Errorf("spec = %+v", s)
	}
	for _, m := range []string{"upsert", "insert", "update", "mirror"} {
		if !s.SupportsMode(m) {
			t.Errorf("mode %s not supported", m)
		}
	}
	defaults := s.WithDefaults(nil)
	wantDefaults := connector.Settings{"batch_size": 100, "concurrency": 4, "timeout": 30 * time.Second, "rate_limit": 0.0}
	if diff := cmp.Diff(wantDefaults, defaults); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	secrets := map[string]bool{}
	for _, f := range s.Fields {
		if f.Doc == "" {
			t.Errorf("field %s has no doc", f.Name)
		}
		secrets[f.Name] = f.Secret
	}
	for _, name := range []string{"signing_secret", "bearer_token", "basic_auth_password"} {
		if !secrets[name] {
			t.Errorf("%s is not secret", name)
		}
	}
	if secrets["url"] || secrets["basic_auth_user"] {
		t.Error("url and basic_auth_user should not be secret")
	}
}
