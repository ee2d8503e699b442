package customerio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/customerio/customeriotest"
)

func emulator(t *testing.T, opts ...customeriotest.Option) *customeriotest.Server {
	t.Helper()
	s, err := customeriotest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *customeriotest.Server, mode, identifier string, fields ...string) *Destination {
	t.Helper()
	set := spec().WithDefaults(connector.Settings{"site_id": s.SiteID(), "api_key": s.APIKey(), "base_url": s.URL()})
	var ids []string
	if identifier != "" {
		ids = []string{identifier}
	}
	d, err := newDestination(set, connector.Target{Sync: "s", Mode: mode, Identifier: ids, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func person(id, first string, extra ...connector.FieldValue) connector.Record {
	return connector.Record{Op: connector.OpUpsert, Key: id, Fields: append([]connector.FieldValue{{Name: "id", Value: id}, {Name: "first_name", Value: first}}, extra...)}
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
	long := strings.Repeat("x", customeriotest.MaxValueBytes+1)
	tests := []struct {
		name        string
		seed        map[string]string // id → first_name already in the workspace
		mode        string
		identifier  string
		faults      []int
		revoke      bool
		records     []connector.Record
		wantPeople  map[string]string // people key → first_name at the end
		wantFailed  map[string]string // key → part of the message
		wantRetries int
		wantErr     string
	}{
		{
			name:       "first sync creates by id",
			mode:       "upsert",
			records:    []connector.Record{person("u1", "Ann"), person("u2", "Bob")},
			wantPeople: map[string]string{"u1": "Ann", "u2": "Bob"},
		},
		{
			name:       "upsert updates an existing person",
			seed:       map[string]string{"u1": "Old"},
			mode:       "upsert",
			records:    []connector.Record{person("u1", "New")},
			wantPeople: map[string]string{"u1": "New"},
		},
		{
			name: "mirror deletes removed people in the same request",
			seed: map[string]string{"u1": "Ann", "gone": "Gus"},
			mode: "mirror",
			records: []connector.Record{
				person("u1", "Ann"), {Op: connector.OpDelete, Key: "gone"}, {Op: connector.OpDelete, Key: "never"},
			},
			wantPeople: map[string]string{"u1": "Ann"},
		},
		{
			name:       "a refused entry is a row error by batch_index, the rest land",
			mode:       "upsert",
			records:    []connector.Record{person("u1", "Ann"), person("u2", "Bob", connector.FieldValue{Name: "bio", Value: long}), person("u3", "Cy")},
			wantPeople: map[string]string{"u1": "Ann", "u3": "Cy"},
			wantFailed: map[string]string{"u2": "value for attribute 'bio' cannot be longer than 1000 bytes (attributes)"},
		},
		{
			name:       "an entry over 32 KB is refused before sending",
			mode:       "upsert",
			records:    []connector.Record{person("u1", "Ann"), person("big", "B", connector.FieldValue{Name: "blob", Value: strings.Repeat("y", MaxEntryBytes)})},
			wantPeople: map[string]string{"u1": "Ann"},
			wantFailed: map[string]string{"big": "entry too large"},
		},
		{
			name:       "missing identifier is a row error",
			mode:       "upsert",
			records:    []connector.Record{{Op: connector.OpUpsert, Key: "7", Fields: []connector.FieldValue{{Name: "id", Value: nil}, {Name: "first_name", Value: "X"}}}, person("u2", "Bob")},
			wantPeople: map[string]string{"u2": "Bob"},
			wantFailed: map[string]string{"7": "missing identifier"},
		},
		{
			name:       "email identifier",
			mode:       "mirror",
			identifier: "email",
			seed:       map[string]string{"old@x.io": "Old"},
			records: []connector.Record{
				{Op: connector.OpUpsert, Key: "a@x.io", Fields: []connector.FieldValue{{Name: "email", Value: "a@x.io"}, {Name: "first_name", Value: "Ann"}}},
				{Op: connector.OpDelete, Key: "old@x.io"},
			},
			wantPeople: map[string]string{"a@x.io": "Ann"},
		},
		{
			name:        "429 and 5xx are retried",
			mode:        "upsert",
			faults:      []int{429, 502, 500},
			records:     []connector.Record{person("u1", "Ann")},
			wantPeople:  map[string]string{"u1": "Ann"},
			wantRetries: 3,
		},
		{
			name:       "revoked key stops the run",
			seed:       map[string]string{"u1": "Old"},
			mode:       "upsert",
			revoke:     true,
			records:    []connector.Record{person("u1", "New")},
			wantPeople: map[string]string{"u1": "Old"},
			wantErr:    "Unauthorized request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			identifier := tt.identifier
			if identifier == "" {
				identifier = "id"
			}
			for id, first := range tt.seed {
				s.Put(map[string]any{identifier: id, "first_name": first})
			}
			s.FailNext(tt.faults...)
			if tt.revoke {
				s.RevokeKey()
			}
			var sl sleeps
			failed, stats, err := deliver(t, open(t, s, tt.mode, tt.identifier, identifier, "first_name"), &sl, tt.records...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for k, p := range s.People() {
				got[k], _ = p.Attributes["first_name"].(string)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantPeople) {
				t.Errorf("people = %v, want %v", got, tt.wantPeople)
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
		})
	}
}

// TestWireFormat checks the request the adapter sends: path, Basic auth,
// and one entry per record in order, identify with the attributes but not
// the identifier, delete without attributes.
func TestWireFormat(t *testing.T) {
	var got struct {
		path, user, pass string
		body             map[string][]map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path = r.URL.Path
		got.user, got.pass, _ = r.BasicAuth()
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &got.body); err != nil {
			t.Errorf("body: %v", err)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	set := spec().WithDefaults(connector.Settings{"site_id": "site", "api_key": "key", "base_url": srv.URL + "/"})
	d, err := newDestination(set, connector.Target{Mode: "mirror"})
	if err != nil {
		t.Fatal(err)
	}
	b := &connector.Batch{Records: []connector.Record{
		person("u1", "Ann", connector.FieldValue{Name: "email", Value: "ann@x.io"}, connector.FieldValue{Name: "plan", Value: nil}),
		{Op: connector.OpDelete, Key: "u9"},
	}}
	if err := d.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	want := `map[batch:[map[action:identify attributes:map[email:ann@x.io first_name:Ann plan:<nil>] identifiers:map[id:u1] type:person] map[action:delete identifiers:map[id:u9] type:person]]]`
	if got.path != "/api/v2/batch" || got.user != "site" || got.pass != "key" || fmt.Sprint(got.body) != want {
		t.Errorf("request: %s as %s:%s\n%v\nwant %s", got.path, got.user, got.pass, got.body, want)
	}
}

// TestAnswers maps Customer.io's answers to outcomes: 207 errors by
// batch_index, an unattributed 207 failing every entry, and the
// classification of refused requests.
func TestAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantFailed map[int]string
		wantStatus int
		retryable  bool
		auth       bool
		retryAfter time.Duration
		wantMsg    string
	}{
		{name: "200", status: 200, body: `{}`},
		{name: "200 empty", status: 200},
		{name: "207 by index", status: 207, body: `{"errors":[{"batch_index":1,"reason":"invalid","field":"identifiers","message":"bad id"}]}`,
			wantFailed: map[int]string{1: "bad id (identifiers)"}},
		{name: "207 unattributed", status: 207, body: `{"errors":[{"reason":"invalid","message":"something"}]}`,
			wantFailed: map[int]string{0: "did not tie", 1: "did not tie"}},
		{name: "207 without errors", status: 207, body: `{}`,
			wantFailed: map[int]string{0: "without naming", 1: "without naming"}},
		{name: "400", status: 400, body: `{"errors":[{"reason":"required","field":"batch","message":"batch required"}]}`, wantStatus: 400, wantMsg: "batch required (batch)"},
		{name: "401", status: 401, body: `{"meta":{"error":"Unauthorized request"}}`, wantStatus: 401, auth: true, wantMsg: "Unauthorized request"},
		{name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, wantStatus: 429, retryable: true, retryAfter: 7 * time.Second},
		{name: "429 date", status: 429, header: http.Header{"Retry-After": {"Wed, 21 Oct 2026 07:28:30 GMT"}}, wantStatus: 429, retryable: true, retryAfter: 10 * time.Second},
		{name: "503", status: 503, body: "down", wantStatus: 503, retryable: true, wantMsg: "down"},
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
			set := spec().WithDefaults(connector.Settings{"site_id": "s", "api_key": "k", "base_url": srv.URL})
			d, err := newDestination(set, connector.Target{Mode: "upsert"})
			if err != nil {
				t.Fatal(err)
			}
			d.now = func() time.Time { return time.Date(2026, 10, 21, 7, 28, 20, 0, time.UTC) }
			err = d.Write(t.Context(), &connector.Batch{Records: []connector.Record{person("a", "A"), person("b", "B")}})
			var re *connector.RequestError
			var rows *connector.RowErrors
			switch {
			case tt.wantStatus != 0:
				if !errors.As(err, &re) || re.Status != tt.wantStatus || re.Retryable != tt.retryable || re.Auth != tt.auth || re.RetryAfter != tt.retryAfter || !strings.Contains(re.Message, tt.wantMsg) {
					t.Errorf("err = %#v", err)
				}
			case tt.wantFailed != nil:
				if !errors.As(err, &rows) || len(rows.Failed) != len(tt.wantFailed) {
					t.Fatalf("err = %v, want row errors %v", err, tt.wantFailed)
				}
				for i, part := range tt.wantFailed {
					if !strings.Contains(rows.Failed[i], part) {
						t.Errorf("row %d: %q, want %q", i, rows.Failed[i], part)
					}
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestBatchBytes checks that a batch over 500 KB is refused as the
// records' fault without sending, so the delivery layer splits it, and
// that delivery with the spec's limits lands every record.
func TestBatchBytes(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", "", "id", "first_name", "bio")
	var recs []connector.Record
	for i := range 60 {
		recs = append(recs, person(fmt.Sprintf("u%d", i), "U", connector.FieldValue{Name: "bio", Value: strings.Repeat("x", 900)}))
	}
	// 600 entries of about 960 bytes: over 500 KB.
	var big []connector.Record
	for range 10 {
		big = append(big, recs...)
	}
	var re *connector.RequestError
	before := s.Requests()
	if err := d.Write(t.Context(), &connector.Batch{Records: big}); !errors.As(err, &re) || re.Retryable || re.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized batch: err = %v, want a non-retryable 413", err)
	}
	if s.Requests() != before {
		t.Errorf("an oversized batch was sent")
	}
	before = s.Requests()
	failed, _, err := deliver(t, d, &sleeps{}, big...)
	if err != nil || len(failed) != 0 || len(s.People()) != 60 || s.Requests()-before < 2 {
		t.Errorf("delivery: err %v, failed %v, %d people in %d requests", err, failed, len(s.People()), s.Requests()-before)
	}
}

func TestNewRefuses(t *testing.T) {
	ok := connector.Settings{"site_id": "s", "api_key": "k"}
	with := func(k string, v any) connector.Settings {
		c := connector.Settings{"site_id": "s", "api_key": "k"}
		c[k] = v
		return c
	}
	tests := []struct {
		name   string
		set    connector.Settings
		target connector.Target
		want   string
	}{
		{"no site", connector.Settings{"api_key": "k"}, connector.Target{Mode: "upsert"}, "site_id"},
		{"bad base url", with("base_url", "ftp://x"), connector.Target{Mode: "upsert"}, "base_url"},
		{"update mode", ok, connector.Target{Mode: "update"}, "mode update is not supported"},
		{"other object", ok, connector.Target{Mode: "upsert", Object: "events"}, "object must be people"},
		{"unknown identifier", ok, connector.Target{Mode: "upsert", Identifier: []string{"phone"}}, "identifier must be"},
		{"identifier unmapped", ok, connector.Target{Mode: "upsert", Fields: []string{"first_name"}}, "must set the identifier"},
		{"zero rate", with("requests_per_sec", 0), connector.Target{Mode: "upsert"}, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDestination(spec().WithDefaults(tt.set), tt.target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDefaultsAndWindows(t *testing.T) {
	set := spec().WithDefaults(connector.Settings{"site_id": "s", "api_key": "k", "requests_per_sec": 50})
	d, err := newDestination(set, connector.Target{Mode: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	if d.base != DefaultBaseURL {
		t.Errorf("base = %q, want %q", d.base, DefaultBaseURL)
	}
	want := []connector.RateWindow{{Requests: 50, Per: time.Second}}
	if fmt.Sprint(d.RateWindows()) != fmt.Sprint(want) {
		t.Errorf("windows = %v, want %v", d.RateWindows(), want)
	}
}

// TestRateLimit checks the emulator's window and the adapter's reading of
// its 429: retryable after Retry-After, and delivered once the window
// turns.
func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := emulator(t, customeriotest.WithRateLimit(customeriotest.RateLimit{Requests: 1, Per: time.Second}), customeriotest.WithClock(clock))
	d := open(t, s, "upsert", "", "id", "first_name")
	if err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{person("u1", "A")}}); err != nil {
		t.Fatal(err)
	}
	err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{person("u2", "B")}})
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != 429 || !re.Retryable || re.RetryAfter != time.Second {
		t.Fatalf("second request in the window: err = %#v, want a retryable 429 after 1s", err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{person("u2", "B")}}); err != nil {
		t.Fatalf("after the window turned: %v", err)
	}
	if len(s.People()) != 2 {
		t.Errorf("people = %v", s.People())
	}
}
