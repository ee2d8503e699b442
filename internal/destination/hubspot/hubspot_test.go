package hubspot

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
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

func emulator(t *testing.T, opts ...hubspottest.Option) *hubspottest.Server {
	t.Helper()
	s, err := hubspottest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *hubspottest.Server, mode string, fields ...string) *Destination {
	t.Helper()
	set := spec().WithDefaults(connector.Settings{"access_token": s.Token(), "base_url": s.URL()})
	d, err := newDestination(set, connector.Target{Sync: "s", Mode: mode, Object: "contacts", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func contact(op connector.Op, email, first string) connector.Record {
	return connector.Record{Op: op, Key: email, Fields: []connector.FieldValue{{Name: "email", Value: email}, {Name: "firstname", Value: first}}}
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
	type step struct {
		mode    string
		faults  []int
		revoke  bool
		records []connector.Record
	}
	tests := []struct {
		name        string
		seed        map[string]string // email → firstname already in HubSpot
		steps       []step
		wantRecords map[string]string // email → firstname at the end
		wantFailed  map[string]string // key → part of the message
		wantRetries int
		wantWait    time.Duration // among the sleeps
		wantErr     string
	}{
		{
			name:        "first sync creates",
			steps:       []step{{mode: "upsert", records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "Ann"), contact(connector.OpUpsert, "b@x.io", "Bob")}}},
			wantRecords: map[string]string{"a@x.io": "Ann", "b@x.io": "Bob"},
		},
		{
			name:        "upsert updates by email",
			seed:        map[string]string{"a@x.io": "Old"},
			steps:       []step{{mode: "upsert", records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "New")}}},
			wantRecords: map[string]string{"a@x.io": "New"},
		},
		{
			name:        "update mode refuses unknown records per row",
			seed:        map[string]string{"a@x.io": "Old"},
			steps:       []step{{mode: "update", records: []connector.Record{contact(connector.OpUpdate, "a@x.io", "New"), contact(connector.OpUpdate, "zz@x.io", "Zed")}}},
			wantRecords: map[string]string{"a@x.io": "New"},
			wantFailed:  map[string]string{"zz@x.io": "OBJECT_NOT_FOUND"},
		},
		{
			name:        "insert creates and refuses duplicates",
			seed:        map[string]string{"a@x.io": "Old"},
			steps:       []step{{mode: "insert", records: []connector.Record{contact(connector.OpInsert, "a@x.io", "Dup"), contact(connector.OpInsert, "c@x.io", "Cy")}}},
			wantRecords: map[string]string{"a@x.io": "Old", "c@x.io": "Cy"},
			wantFailed:  map[string]string{"a@x.io": "CONFLICT"},
		},
		{
			name: "mirror archives removed rows",
			seed: map[string]string{"a@x.io": "Ann", "gone@x.io": "Gus"},
			steps: []step{{mode: "mirror", records: []connector.Record{
				contact(connector.OpUpsert, "a@x.io", "Ann"), {Op: connector.OpDelete, Key: "gone@x.io"}, {Op: connector.OpDelete, Key: "never@x.io"},
			}}},
			wantRecords: map[string]string{"a@x.io": "Ann"},
		},
		{
			name:        "invalid email is a row error, the rest land",
			steps:       []step{{mode: "upsert", records: []connector.Record{contact(connector.OpUpsert, "not-an-email", "X"), contact(connector.OpUpsert, "b@x.io", "Bob")}}},
			wantRecords: map[string]string{"b@x.io": "Bob"},
			wantFailed:  map[string]string{"not-an-email": "Email address not-an-email is invalid"},
		},
		{
			name:        "missing identifier is a row error",
			steps:       []step{{mode: "upsert", records: []connector.Record{{Op: connector.OpUpsert, Key: "7", Fields: []connector.FieldValue{{Name: "email", Value: nil}, {Name: "firstname", Value: "X"}}}, contact(connector.OpUpsert, "b@x.io", "Bob")}}},
			wantRecords: map[string]string{"b@x.io": "Bob"},
			wantFailed:  map[string]string{"7": "missing identifier"},
		},
		{
			name:        "429 waits the rate-limit interval",
			steps:       []step{{mode: "upsert", faults: []int{429}, records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "Ann")}}},
			wantRecords: map[string]string{"a@x.io": "Ann"},
			wantRetries: 1,
			wantWait:    10 * time.Second,
		},
		{
			name:        "5xx is retried",
			steps:       []step{{mode: "upsert", faults: []int{502, 500}, records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "Ann")}}},
			wantRecords: map[string]string{"a@x.io": "Ann"},
			wantRetries: 2,
		},
		{
			name:        "revoked token stops the run",
			seed:        map[string]string{"a@x.io": "Old"},
			steps:       []step{{mode: "upsert", revoke: true, records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "New")}}},
			wantRecords: map[string]string{"a@x.io": "Old"},
			wantErr:     "INVALID_AUTHENTICATION",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, hubspottest.WithLimits(hubspottest.Limits{PerInterval: 1000, Interval: 10 * time.Second}))
			for email, first := range tt.seed {
				s.Put("contacts", map[string]string{"email": email, "firstname": first})
			}
			failed := map[string]string{}
			var stats delivery.Stats
			var sl sleeps
			var err error
			for _, st := range tt.steps {
				s.FailNext(st.faults...)
				if st.revoke {
					s.RevokeToken()
				}
				var f map[string]string
				f, stats, err = deliver(t, open(t, s, st.mode, "email", "firstname"), &sl, st.records...)
				for k, v := range f {
					failed[k] = v
				}
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for email, r := range s.Records("contacts", "email") {
				got[email] = r.Properties["firstname"]
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantRecords) {
				t.Errorf("records = %v, want %v", got, tt.wantRecords)
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
			if tt.wantWait > 0 && !containsWait(sl.waits, tt.wantWait) {
				t.Errorf("waits = %v, want one of %v", sl.waits, tt.wantWait)
			}
		})
	}
}

func containsWait(ws []time.Duration, w time.Duration) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// TestOversizedBatchRefused checks that the emulator refuses more than 100
// inputs as HubSpot does, and that the adapter reports it as the records'
// fault (the delivery layer splits), not as a transient failure.
func TestOversizedBatchRefused(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", "email", "firstname")
	for _, n := range []int{100, 101} {
		b := &connector.Batch{Seq: 1}
		for i := range n {
			b.Records = append(b.Records, contact(connector.OpUpsert, fmt.Sprintf("u%d@x.io", i), "U"))
		}
		err := d.Write(t.Context(), b)
		var re *connector.RequestError
		switch {
		case n <= hubspottest.MaxInputs && err != nil:
			t.Errorf("%d inputs: %v", n, err)
		case n > hubspottest.MaxInputs && (!errors.As(err, &re) || re.Retryable || re.Auth || re.Status != 400 || !strings.Contains(re.Message, "Batch input limit")):
			t.Errorf("%d inputs: err = %#v, want a non-retryable 400 about the input limit", n, err)
		}
	}
}

// TestRateLimitHeaders checks the emulator's rolling window and the
// adapter's reading of its 429: retryable after the interval.
func TestRateLimitHeaders(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := emulator(t, hubspottest.WithLimits(hubspottest.Limits{PerInterval: 2, Interval: 10 * time.Second, Daily: 100}), hubspottest.WithClock(func() time.Time { return now }))
	d := open(t, s, "upsert", "email", "firstname")
	b := &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a@x.io", "A")}}
	for i := range 3 {
		err := d.Write(t.Context(), b)
		var re *connector.RequestError
		if i < 2 && err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if i == 2 && (!errors.As(err, &re) || !re.Retryable || re.RetryAfter != 10*time.Second || !strings.Contains(re.Message, "ten_secondly_rolling")) {
			t.Fatalf("request 3: err = %#v, want a retryable 429 waiting 10s", err)
		}
	}
	now = now.Add(10 * time.Second)
	if err := d.Write(t.Context(), b); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		set    connector.Settings
		target connector.Target
		want   string
	}{
		{"no object", connector.Settings{"access_token": "t"}, connector.Target{Mode: "upsert"}, "object must name"},
		{"deals need an identifier", connector.Settings{"access_token": "t"}, connector.Target{Mode: "upsert", Object: "deals"}, "no default identifier"},
		{"identifier unmapped", connector.Settings{"access_token": "t"}, connector.Target{Mode: "upsert", Object: "contacts", Fields: []string{"firstname"}}, "must set the identifier"},
		{"bad base url", connector.Settings{"access_token": "t", "base_url": "ftp://x"}, connector.Target{Mode: "upsert", Object: "contacts"}, "base_url"},
		{"zero rate", connector.Settings{"access_token": "t", "requests_per_10s": 0}, connector.Target{Mode: "upsert", Object: "contacts"}, "positive"},
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
	set := spec().WithDefaults(connector.Settings{"access_token": "t", "requests_per_10s": 190, "requests_per_day": 625000})
	d, err := newDestination(set, connector.Target{Mode: "upsert", Object: "contacts"})
	if err != nil {
		t.Fatal(err)
	}
	want := []connector.RateWindow{{Requests: 190, Per: 10 * time.Second}, {Requests: 625000, Per: 24 * time.Hour}}
	if fmt.Sprint(d.RateWindows()) != fmt.Sprint(want) {
		t.Errorf("windows = %v, want %v", d.RateWindows(), want)
	}
}
