package braze

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
)

func emulator(t *testing.T, opts ...brazetest.Option) *brazetest.Server {
	t.Helper()
	s, err := brazetest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *brazetest.Server, mode, identifier string, fields ...string) *Destination {
	t.Helper()
	set := spec().WithDefaults(connector.Settings{"api_key": s.APIKey(), "base_url": s.URL(), "alias_label": "crm_id"})
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

func user(op connector.Op, id, first string, extra ...connector.FieldValue) connector.Record {
	return connector.Record{Op: op, Key: id, Fields: append([]connector.FieldValue{{Name: "external_id", Value: id}, {Name: "first_name", Value: first}}, extra...)}
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
	tests := []struct {
		name        string
		seed        map[string]string // external_id → first_name already in Braze
		mode        string
		identifier  string
		faults      []int
		revoke      bool
		records     []connector.Record
		wantUsers   map[string]string // users key → first_name at the end
		wantFailed  map[string]string // key → part of the message
		wantRetries int
		wantErr     string
	}{
		{
			name:      "first sync creates by external_id",
			mode:      "upsert",
			records:   []connector.Record{user(connector.OpUpsert, "u1", "Ann"), user(connector.OpUpsert, "u2", "Bob")},
			wantUsers: map[string]string{"u1": "Ann", "u2": "Bob"},
		},
		{
			name:      "upsert updates an existing profile",
			seed:      map[string]string{"u1": "Old"},
			mode:      "upsert",
			records:   []connector.Record{user(connector.OpUpsert, "u1", "New")},
			wantUsers: map[string]string{"u1": "New"},
		},
		{
			name:      "update mode creates nobody",
			seed:      map[string]string{"u1": "Old"},
			mode:      "update",
			records:   []connector.Record{user(connector.OpUpdate, "u1", "New"), user(connector.OpUpdate, "zz", "Zed")},
			wantUsers: map[string]string{"u1": "New"},
		},
		{
			name: "mirror deletes removed users",
			seed: map[string]string{"u1": "Ann", "gone": "Gus"},
			mode: "mirror",
			records: []connector.Record{
				user(connector.OpUpsert, "u1", "Ann"), {Op: connector.OpDelete, Key: "gone"}, {Op: connector.OpDelete, Key: "never"},
			},
			wantUsers: map[string]string{"u1": "Ann"},
		},
		{
			name:       "invalid attribute is a row error, the rest land",
			mode:       "upsert",
			records:    []connector.Record{user(connector.OpUpsert, "u1", "Ann", connector.FieldValue{Name: "dob", Value: "31/12/1990"}), user(connector.OpUpsert, "u2", "Bob")},
			wantUsers:  map[string]string{"u2": "Bob"},
			wantFailed: map[string]string{"u1": "'dob' must be a date"},
		},
		{
			name:       "every object refused: the split isolates each",
			mode:       "upsert",
			records:    []connector.Record{user(connector.OpUpsert, "u1", "A", connector.FieldValue{Name: "gender", Value: "X"})},
			wantUsers:  map[string]string{},
			wantFailed: map[string]string{"u1": "'gender' must be one of"},
		},
		{
			name:       "missing identifier is a row error",
			mode:       "upsert",
			records:    []connector.Record{{Op: connector.OpUpsert, Key: "7", Fields: []connector.FieldValue{{Name: "external_id", Value: nil}, {Name: "first_name", Value: "X"}}}, user(connector.OpUpsert, "u2", "Bob")},
			wantUsers:  map[string]string{"u2": "Bob"},
			wantFailed: map[string]string{"7": "missing identifier"},
		},
		{
			name:       "email identifier",
			mode:       "upsert",
			identifier: "email",
			records: []connector.Record{
				{Op: connector.OpUpsert, Key: "a@x.io", Fields: []connector.FieldValue{{Name: "email", Value: "a@x.io"}, {Name: "first_name", Value: "Ann"}}},
				{Op: connector.OpUpsert, Key: "bad", Fields: []connector.FieldValue{{Name: "email", Value: "not-an-email"}, {Name: "first_name", Value: "X"}}},
			},
			wantUsers:  map[string]string{"a@x.io": "Ann"},
			wantFailed: map[string]string{"bad": "not a valid email address"},
		},
		{
			name:       "user_alias identifier creates aliased profiles",
			mode:       "upsert",
			identifier: "user_alias",
			records: []connector.Record{
				{Op: connector.OpUpsert, Key: "c-1", Fields: []connector.FieldValue{{Name: "user_alias", Value: "c-1"}, {Name: "first_name", Value: "Cy"}}},
			},
			wantUsers: map[string]string{"crm_id:c-1": "Cy"},
		},
		{
			name:        "429 and 5xx are retried",
			mode:        "upsert",
			faults:      []int{429, 502, 500},
			records:     []connector.Record{user(connector.OpUpsert, "u1", "Ann")},
			wantUsers:   map[string]string{"u1": "Ann"},
			wantRetries: 3,
		},
		{
			name:      "revoked key stops the run",
			seed:      map[string]string{"u1": "Old"},
			mode:      "upsert",
			revoke:    true,
			records:   []connector.Record{user(connector.OpUpsert, "u1", "New")},
			wantUsers: map[string]string{"u1": "Old"},
			wantErr:   "Invalid API key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, brazetest.WithLimits(brazetest.Limits{Requests: 1000, Per: 3 * time.Second}))
			for id, first := range tt.seed {
				s.Put(map[string]any{"external_id": id, "first_name": first})
			}
			s.FailNext(tt.faults...)
			if tt.revoke {
				s.RevokeKey()
			}
			identifier := tt.identifier
			if identifier == "" {
				identifier = "external_id"
			}
			var sl sleeps
			failed, stats, err := deliver(t, open(t, s, tt.mode, tt.identifier, identifier, "first_name"), &sl, tt.records...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for k, u := range s.Users() {
				got[k], _ = u.Attributes["first_name"].(string)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantUsers) {
				t.Errorf("users = %v, want %v", got, tt.wantUsers)
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

// TestRequestLimits checks that the emulator refuses more than 75
// attributes objects as Braze does, that the adapter reports it as the
// records' fault (the delivery layer splits), and that a batch of 75
// deletes goes out as requests of at most 50 users.
func TestRequestLimits(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "mirror", "", "external_id", "first_name")
	for _, n := range []int{75, 76} {
		b := &connector.Batch{Seq: 1}
		for i := range n {
			b.Records = append(b.Records, user(connector.OpUpsert, fmt.Sprintf("u%d", i), "U"))
		}
		err := d.Write(t.Context(), b)
		var re *connector.RequestError
		switch {
		case n <= brazetest.MaxTrackObjects && err != nil:
			t.Errorf("%d objects: %v", n, err)
		case n > brazetest.MaxTrackObjects && (!errors.As(err, &re) || re.Retryable || re.Auth || re.Status != 400 || !strings.Contains(re.Message, "Too many objects")):
			t.Errorf("%d objects: err = %#v, want a non-retryable 400 about the object limit", n, err)
		}
	}
	before := s.Requests()
	b := &connector.Batch{Seq: 2}
	for i := range 75 {
		b.Records = append(b.Records, connector.Record{Op: connector.OpDelete, Key: fmt.Sprintf("u%d", i)})
	}
	if err := d.Write(t.Context(), b); err != nil {
		t.Fatalf("75 deletes: %v", err)
	}
	if got := s.Requests() - before; got != 2 {
		t.Errorf("75 deletes took %d requests, want 2", got)
	}
	if left := len(s.Users()); left != 0 {
		t.Errorf("%d users left after deleting all", left)
	}
}

// TestRateLimitHeaders checks the emulator's window and the adapter's
// reading of its 429: retryable until X-RateLimit-Reset.
func TestRateLimitHeaders(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	clock := func() time.Time { return now }
	s := emulator(t, brazetest.WithLimits(brazetest.Limits{Requests: 2, Per: 3 * time.Second}), brazetest.WithClock(clock))
	d := open(t, s, "upsert", "", "external_id", "first_name")
	d.now = clock
	b := &connector.Batch{Seq: 1, Records: []connector.Record{user(connector.OpUpsert, "u1", "A")}}
	for i := range 3 {
		err := d.Write(t.Context(), b)
		var re *connector.RequestError
		if i < 2 && err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		// The window runs from 00:00:00 to 00:00:03; it is 00:00:01.
		if i == 2 && (!errors.As(err, &re) || !re.Retryable || re.Status != 429 || re.RetryAfter != 2*time.Second) {
			t.Fatalf("request 3: err = %#v, want a retryable 429 waiting 2s", err)
		}
	}
	now = now.Add(2 * time.Second)
	if err := d.Write(t.Context(), b); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	base := "https://rest.iad-01.braze.com"
	tests := []struct {
		name   string
		set    connector.Settings
		target connector.Target
		want   string
	}{
		{"no base url", connector.Settings{"api_key": "k"}, connector.Target{Mode: "upsert"}, "base_url"},
		{"bad base url", connector.Settings{"api_key": "k", "base_url": "ftp://x"}, connector.Target{Mode: "upsert"}, "base_url"},
		{"other object", connector.Settings{"api_key": "k", "base_url": base}, connector.Target{Mode: "upsert", Object: "events"}, "object must be users"},
		{"unknown identifier", connector.Settings{"api_key": "k", "base_url": base}, connector.Target{Mode: "upsert", Identifier: []string{"phone"}}, "identifier must be"},
		{"alias without label", connector.Settings{"api_key": "k", "base_url": base}, connector.Target{Mode: "upsert", Identifier: []string{"user_alias"}}, "alias_label"},
		{"identifier unmapped", connector.Settings{"api_key": "k", "base_url": base}, connector.Target{Mode: "upsert", Fields: []string{"first_name"}}, "must set the identifier"},
		{"zero rate", connector.Settings{"api_key": "k", "base_url": base, "requests_per_3s": 0}, connector.Target{Mode: "upsert"}, "positive"},
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

func TestRateWindowsFromSettings(t *testing.T) {
	set := spec().WithDefaults(connector.Settings{"api_key": "k", "base_url": "https://rest.fra-01.braze.eu", "requests_per_3s": 6000})
	d, err := newDestination(set, connector.Target{Mode: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	want := []connector.RateWindow{{Requests: 6000, Per: 3 * time.Second}}
	if fmt.Sprint(d.RateWindows()) != fmt.Sprint(want) {
		t.Errorf("windows = %v, want %v", d.RateWindows(), want)
	}
}
