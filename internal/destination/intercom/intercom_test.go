package intercom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
)

func emulator(t *testing.T, opts ...intercomtest.Option) *intercomtest.Server {
	t.Helper()
	s, err := intercomtest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *intercomtest.Server, mode, identifier string, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"access_token": s.Token(), "base_url": s.URL()}
	for k, v := range extra {
		set[k] = v
	}
	var ids []string
	if identifier != "" {
		ids = []string{identifier}
	}
	d, err := newDestination(spec().WithDefaults(set), connector.Target{Sync: "s", Mode: mode, Identifier: ids})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func user(op connector.Op, ext, name string, extra ...connector.FieldValue) connector.Record {
	return connector.Record{Op: op, Key: ext, Fields: append([]connector.FieldValue{{Name: "external_id", Value: ext}, {Name: "name", Value: name}}, extra...)}
}

// sleeps records the waits delivery asks for without spending them.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

// deliver runs records through the delivery layer with the spec's policy
// and returns the failed records' keys with their messages.
func deliver(t *testing.T, d *Destination, sl *sleeps, recs ...connector.Record) (map[string]string, delivery.Stats, error) {
	t.Helper()
	in := make(chan delivery.Item, len(recs))
	for i, r := range recs {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	p.Concurrency = 1 // the emulator lists contacts in creation order
	p.Sleep = sl.Sleep
	failed := map[string]string{}
	stats, err := delivery.Deliver(t.Context(), d, p, in, func(r delivery.Result) error {
		for i, msg := range r.Failed {
			failed[r.Items[i].Record.Key] = msg
		}
		return nil
	})
	return failed, stats, err
}

func TestSyncScenarios(t *testing.T) {
	long := strings.Repeat("x", intercomtest.MaxCustomValueBytes+1)
	tests := []struct {
		name         string
		seed         []intercomtest.Contact
		mode         string
		identifier   string
		role         string
		faults       []int
		revoke       bool
		records      []connector.Record
		wantContacts string // sorted key:name/role list of live contacts
		wantArchived int
		wantFailed   map[string]string // key → part of the message
		wantRetries  int
		wantErr      string
	}{
		{
			name:         "first sync creates users by external_id",
			mode:         "upsert",
			records:      []connector.Record{user(connector.OpUpsert, "u1", "Ann"), user(connector.OpUpsert, "u2", "Bob")},
			wantContacts: "map[u1:Ann/user u2:Bob/user]",
		},
		{
			name:         "upsert updates the contact search finds",
			seed:         []intercomtest.Contact{{ExternalID: "u1", Name: "Old"}},
			mode:         "upsert",
			records:      []connector.Record{user(connector.OpUpsert, "u1", "New")},
			wantContacts: "map[u1:New/user]",
		},
		{
			name:         "role lead creates leads",
			mode:         "upsert",
			role:         "lead",
			records:      []connector.Record{user(connector.OpUpsert, "l1", "Lee")},
			wantContacts: "map[l1:Lee/lead]",
		},
		{
			name:         "update mode leaves missing contacts alone as row errors",
			seed:         []intercomtest.Contact{{ExternalID: "u1", Name: "Old"}},
			mode:         "update",
			records:      []connector.Record{user(connector.OpUpdate, "u1", "New"), user(connector.OpUpdate, "u9", "Nobody")},
			wantContacts: "map[u1:New/user]",
			wantFailed:   map[string]string{"u9": "not found: Intercom has no contact with external_id u9"},
		},
		{
			name:         "insert mode: an existing contact is a 409 row error",
			seed:         []intercomtest.Contact{{ExternalID: "u1", Name: "Old"}},
			mode:         "insert",
			records:      []connector.Record{user(connector.OpInsert, "u1", "New"), user(connector.OpInsert, "u2", "Bob")},
			wantContacts: "map[u1:Old/user u2:Bob/user]",
			wantFailed:   map[string]string{"u1": "conflict: A contact matching those details already exists"},
		},
		{
			name: "mirror archives removed contacts, unknown ones are done",
			seed: []intercomtest.Contact{{ExternalID: "u1", Name: "Ann"}, {ExternalID: "gone", Name: "Gus"}},
			mode: "mirror",
			records: []connector.Record{
				user(connector.OpUpsert, "u1", "Ann"), {Op: connector.OpDelete, Key: "gone"}, {Op: connector.OpDelete, Key: "never"},
			},
			wantContacts: "map[u1:Ann/user]",
			wantArchived: 1,
		},
		{
			name:         "a refused record is a row error, the rest land",
			mode:         "upsert",
			records:      []connector.Record{user(connector.OpUpsert, "u1", "Ann"), user(connector.OpUpsert, "u2", "Bob", connector.FieldValue{Name: "bio", Value: long}), user(connector.OpUpsert, "u3", "Cy", connector.FieldValue{Name: "email", Value: "not-an-email"})},
			wantContacts: "map[u1:Ann/user]",
			wantFailed:   map[string]string{"u2": "parameter_invalid: Custom attribute 'bio' value is longer than 255", "u3": "Invalid email address"},
		},
		{
			name:         "missing identifier is a row error",
			mode:         "upsert",
			records:      []connector.Record{{Op: connector.OpUpsert, Key: "7", Fields: []connector.FieldValue{{Name: "external_id", Value: nil}, {Name: "name", Value: "X"}}}, user(connector.OpUpsert, "u2", "Bob")},
			wantContacts: "map[u2:Bob/user]",
			wantFailed:   map[string]string{"7": "missing identifier"},
		},
		{
			name:       "email identifier",
			mode:       "mirror",
			identifier: "email",
			seed:       []intercomtest.Contact{{Email: "old@x.io", Name: "Old"}, {Email: "a@x.io", Name: "Before"}},
			records: []connector.Record{
				{Op: connector.OpUpsert, Key: "a@x.io", Fields: []connector.FieldValue{{Name: "email", Value: "a@x.io"}, {Name: "name", Value: "Ann"}}},
				{Op: connector.OpUpsert, Key: "b@x.io", Fields: []connector.FieldValue{{Name: "email", Value: "b@x.io"}, {Name: "name", Value: "Bea"}}},
				{Op: connector.OpDelete, Key: "old@x.io"},
			},
			wantContacts: "map[a@x.io:Ann/user b@x.io:Bea/user]",
			wantArchived: 1,
		},
		{
			name:         "429 and 5xx are retried",
			mode:         "upsert",
			faults:       []int{429, 502, 500},
			records:      []connector.Record{user(connector.OpUpsert, "u1", "Ann")},
			wantContacts: "map[u1:Ann/user]",
			wantRetries:  3,
		},
		{
			name:         "revoked token stops the run",
			seed:         []intercomtest.Contact{{ExternalID: "u1", Name: "Old"}},
			mode:         "upsert",
			revoke:       true,
			records:      []connector.Record{user(connector.OpUpsert, "u1", "New")},
			wantContacts: "map[u1:Old/user]",
			wantErr:      "Access Token Invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			for _, c := range tt.seed {
				s.Put(c)
			}
			s.FailNext(tt.faults...)
			if tt.revoke {
				s.RevokeToken()
			}
			extra := connector.Settings{}
			if tt.role != "" {
				extra["role"] = tt.role
			}
			var sl sleeps
			failed, stats, err := deliver(t, open(t, s, tt.mode, tt.identifier, extra), &sl, tt.records...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for k, c := range s.Contacts() {
				got[k] = c.Name + "/" + c.Role
			}
			if fmt.Sprint(got) != tt.wantContacts {
				t.Errorf("contacts = %v, want %s", got, tt.wantContacts)
			}
			if n := len(s.Archived()); n != tt.wantArchived {
				t.Errorf("archived %d contacts, want %d", n, tt.wantArchived)
			}
			if len(failed) != len(tt.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			for k, part := range tt.wantFailed {
				if !strings.Contains(failed[k], part) {
					t.Errorf("failure of %s = %q, want it to contain %q", k, failed[k], part)
				}
			}
			if stats.Retries != tt.wantRetries {
				t.Errorf("retries = %d, want %d", stats.Retries, tt.wantRetries)
			}
			if v := s.Versions(); len(v) != 1 || v[APIVersion] == 0 {
				t.Errorf("Intercom-Version headers = %v, want only %s", v, APIVersion)
			}
		})
	}
}

// TestWireFormat checks the requests the adapter sends for an upsert of a
// contact Intercom lacks: the search on the identifier, then the create
// with standard fields at the top level, the others under
// custom_attributes, signed_up_at as Unix seconds and the default role.
func TestWireFormat(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Intercom-Version"), strings.TrimSpace(string(data))))
		if r.URL.Path == "/contacts/search" {
			io.WriteString(w, `{"type":"list","data":[],"total_count":0}`)
			return
		}
		io.WriteString(w, `{"type":"contact","id":"c1"}`)
	}))
	defer srv.Close()
	set := spec().WithDefaults(connector.Settings{"access_token": "tok", "base_url": srv.URL + "/"})
	d, err := newDestination(set, connector.Target{Mode: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	signed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &connector.Batch{Records: []connector.Record{user(connector.OpUpsert, "u1", "Ann",
		connector.FieldValue{Name: "email", Value: "ann@x.io"}, connector.FieldValue{Name: "signed_up_at", Value: signed},
		connector.FieldValue{Name: "plan", Value: "pro"}, connector.FieldValue{Name: "seats", Value: int64(3)}, connector.FieldValue{Name: "gone", Value: nil})}}
	if err := d.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /contacts/search Bearer tok 2.11 {"pagination":{"per_page":1},"query":{"field":"external_id","operator":"=","value":"u1"}}`,
		`POST /contacts Bearer tok 2.11 {"custom_attributes":{"gone":null,"plan":"pro","seats":3},"email":"ann@x.io","external_id":"u1","name":"Ann","role":"user","signed_up_at":` + strconv.FormatInt(signed.Unix(), 10) + `}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAnswers maps Intercom's answers to outcomes: row errors for
// record-level refusals, and the classification of refused requests with
// the wait read from Retry-After or X-RateLimit-Reset.
func TestAnswers(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantRow    string
		wantStatus int
		retryable  bool
		auth       bool
		wait       time.Duration
	}{
		{name: "400 is a row error", status: 400, body: `{"type":"error.list","errors":[{"code":"parameter_invalid","message":"bad"}]}`, wantRow: "parameter_invalid: bad"},
		{name: "409 is a row error", status: 409, body: `{"type":"error.list","errors":[{"code":"conflict","message":"exists"}]}`, wantRow: "conflict: exists"},
		{name: "404 is a row error", status: 404, body: `{"type":"error.list","errors":[{"code":"not_found","message":"User Not Found"}]}`, wantRow: "not_found: User Not Found"},
		{name: "401 stops the run", status: 401, body: `{"type":"error.list","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}`, wantStatus: 401, auth: true},
		{name: "403 stops the run", status: 403, body: `{}`, wantStatus: 403, auth: true},
		{name: "429 waits for the reset", status: 429, header: http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+7, 10)}}, body: `{}`, wantStatus: 429, retryable: true, wait: 7 * time.Second},
		{name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"3"}}, body: `{}`, wantStatus: 429, retryable: true, wait: 3 * time.Second},
		{name: "503 is retried", status: 503, body: `oops`, wantStatus: 503, retryable: true},
		{name: "413 is refused as a request", status: 413, body: `{}`, wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			d, err := newDestination(spec().WithDefaults(connector.Settings{"access_token": "t", "base_url": srv.URL}), connector.Target{Mode: "upsert"})
			if err != nil {
				t.Fatal(err)
			}
			d.now = func() time.Time { return now }
			err = d.Write(t.Context(), &connector.Batch{Records: []connector.Record{user(connector.OpUpsert, "u1", "Ann")}})
			var rows *connector.RowErrors
			var re *connector.RequestError
			switch {
			case tt.wantRow != "":
				if !errors.As(err, &rows) || rows.Failed[0] != tt.wantRow {
					t.Fatalf("err = %v, want row error %q", err, tt.wantRow)
				}
			case !errors.As(err, &re):
				t.Fatalf("err = %v, want a RequestError", err)
			case re.Status != tt.wantStatus || re.Retryable != tt.retryable || re.Auth != tt.auth || re.RetryAfter != tt.wait:
				t.Errorf("err = %+v, want status %d retryable %v auth %v wait %v", re, tt.wantStatus, tt.retryable, tt.auth, tt.wait)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	base := connector.Settings{"access_token": "t"}
	tests := []struct {
		name     string
		settings connector.Settings
		target   connector.Target
		want     string
	}{
		{"no token", connector.Settings{}, connector.Target{}, "access_token is required"},
		{"bad base_url", connector.Settings{"access_token": "t", "base_url": "ftp://x"}, connector.Target{}, "base_url"},
		{"bad role", connector.Settings{"access_token": "t", "role": "admin"}, connector.Target{}, "role must be user or lead"},
		{"bad object", base, connector.Target{Object: "companies"}, "object must be contacts"},
		{"bad identifier", base, connector.Target{Identifier: []string{"phone"}}, "identifier must be external_id or email"},
		{"two identifiers", base, connector.Target{Identifier: []string{"email", "external_id"}}, "not 2 fields"},
		{"identifier unmapped", base, connector.Target{Fields: []string{"name"}}, "must set the identifier field external_id"},
		{"zero quota", connector.Settings{"access_token": "t", "requests_per_minute": 0}, connector.Target{}, "requests_per_minute must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDestination(spec().WithDefaults(tt.settings), tt.target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	tests := []struct {
		perMinute int
		want      string
	}{
		{10000, "[833 requests per 10s]"},
		{25000, "[2083 requests per 10s]"},
		{6, "[1 requests per 10s]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(windows(tt.perMinute)); got != tt.want {
			t.Errorf("windows(%d) = %s, want %s", tt.perMinute, got, tt.want)
		}
	}
	if got := fmt.Sprint(spec().Limits.Windows); got != "[833 requests per 10s]" || spec().Limits.BatchSize != 1 {
		t.Errorf("spec limits = %+v", spec().Limits)
	}
}

// TestRateLimit runs more records than the emulator's window allows: the
// 429s carry X-RateLimit-Reset, the delivery layer waits and retries, and
// every record lands.
func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := emulator(t, intercomtest.WithRateLimit(3), intercomtest.WithClock(now))
	d := open(t, s, "upsert", "", nil)
	d.now = now
	sl := &sleeps{}
	var recs []connector.Record
	for i := range 4 {
		recs = append(recs, user(connector.OpUpsert, fmt.Sprintf("u%d", i), "N"))
	}
	in := make(chan delivery.Item, len(recs))
	for i, r := range recs {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	p.Concurrency = 1
	p.Windows = nil // the emulator's window is the one under test
	p.Sleep = func(ctx context.Context, wait time.Duration) error {
		mu.Lock()
		clock = clock.Add(wait)
		mu.Unlock()
		return sl.Sleep(ctx, wait)
	}
	stats, err := delivery.Deliver(t.Context(), d, p, in, func(delivery.Result) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Contacts()); n != 4 || stats.Retries == 0 {
		t.Errorf("contacts = %d, retries = %d; want 4 contacts after retries", n, stats.Retries)
	}
	found := false
	for _, w := range sl.waits {
		if w == 10*time.Second {
			found = true
		}
	}
	if !found {
		t.Errorf("waits = %v, want one of 10s (until X-RateLimit-Reset)", sl.waits)
	}
}
