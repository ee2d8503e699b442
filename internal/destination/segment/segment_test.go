package segment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/segment/segmenttest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func emulator(t *testing.T, opts ...segmenttest.Option) *segmenttest.Server {
	t.Helper()
	s, err := segmenttest.New(append([]segmenttest.Option{segmenttest.WithClock(func() time.Time { return t0 })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, base, key string, extra connector.Settings, target connector.Target) *Destination {
	t.Helper()
	raw := connector.Settings{"write_key": key, "base_url": base}
	for k, v := range extra {
		raw[k] = v
	}
	if target.Sync == "" {
		target.Sync, target.RunID = "s", "run-1"
	}
	d, err := newDestination(spec().WithDefaults(raw), target, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func user(op connector.Op, key, email string) connector.Record {
	return connector.Record{Op: op, Key: key, Fields: []connector.FieldValue{{Name: "email", Value: email}, {Name: "plan", Value: "pro"}}}
}

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
	big := strings.Repeat("x", MaxMessage)
	tests := []struct {
		name         string
		settings     connector.Settings
		target       connector.Target
		faults       []int
		revoke       bool
		records      []connector.Record
		wantProfiles map[string]string // userId → email trait
		wantDeleted  []string          // userIds whose deleted trait is true
		wantEvents   []string          // "userId event plan"
		wantFailed   map[string]string // key → part of the message
		wantRetries  int
		wantWait     time.Duration
		wantErr      string
	}{
		{
			name:         "identify by primary key",
			target:       connector.Target{Mode: "upsert"},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io"), user(connector.OpUpsert, "2", "b@x.io")},
			wantProfiles: map[string]string{"1": "a@x.io", "2": "b@x.io"},
		},
		{
			name:         "identify by a mapped identifier",
			target:       connector.Target{Mode: "upsert", Identifier: []string{"email"}, Fields: []string{"email", "plan"}},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io")},
			wantProfiles: map[string]string{"a@x.io": "a@x.io"},
		},
		{
			name:         "missing identifier is a row error",
			target:       connector.Target{Mode: "upsert", Identifier: []string{"email"}},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io"), {Op: connector.OpUpsert, Key: "2", Fields: []connector.FieldValue{{Name: "email", Value: nil}}}},
			wantProfiles: map[string]string{"a@x.io": "a@x.io"},
			wantFailed:   map[string]string{"2": "missing userId"},
		},
		{
			name:       "track events",
			target:     connector.Target{Mode: "insert", Object: "track:Order Completed"},
			records:    []connector.Record{user(connector.OpInsert, "1", "a@x.io"), user(connector.OpInsert, "2", "b@x.io")},
			wantEvents: []string{"1 Order Completed pro", "2 Order Completed pro"},
		},
		{
			name:         "mirror marks removed rows with delete_trait",
			settings:     connector.Settings{"delete_trait": "deleted"},
			target:       connector.Target{Mode: "mirror"},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io"), {Op: connector.OpDelete, Key: "9"}},
			wantProfiles: map[string]string{"1": "a@x.io", "9": ""},
			wantDeleted:  []string{"9"},
		},
		{
			name:         "a message over 32 KB is a row error, the rest land",
			target:       connector.Target{Mode: "upsert"},
			records:      []connector.Record{user(connector.OpUpsert, "1", big), user(connector.OpUpsert, "2", "b@x.io")},
			wantProfiles: map[string]string{"2": "b@x.io"},
			wantFailed:   map[string]string{"1": "over Segment's 32768-byte limit per call"},
		},
		{
			name:         "429 waits until X-RateLimit-Reset",
			target:       connector.Target{Mode: "upsert"},
			faults:       []int{429},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io")},
			wantProfiles: map[string]string{"1": "a@x.io"},
			wantRetries:  1,
			wantWait:     time.Second,
		},
		{
			name:         "5xx is retried",
			target:       connector.Target{Mode: "upsert"},
			faults:       []int{503, 500},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io")},
			wantProfiles: map[string]string{"1": "a@x.io"},
			wantRetries:  2,
		},
		{
			name:         "a 400 splits the batch down to the record at fault",
			target:       connector.Target{Mode: "upsert"},
			faults:       []int{400, 400},
			records:      []connector.Record{user(connector.OpUpsert, "1", "a@x.io"), user(connector.OpUpsert, "2", "b@x.io")},
			wantProfiles: map[string]string{"2": "b@x.io"},
			wantFailed:   map[string]string{"1": "status 400"},
		},
		{
			name:    "revoked write key stops the run",
			target:  connector.Target{Mode: "upsert"},
			revoke:  true,
			records: []connector.Record{user(connector.OpUpsert, "1", "a@x.io")},
			wantErr: "authentication failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			s.FailNext(tt.faults...)
			if tt.revoke {
				s.RevokeKey()
			}
			d := open(t, s.URL(), s.WriteKey(), tt.settings, tt.target)
			sl := &sleeps{}
			failed, stats, err := deliver(t, d, sl, tt.records...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			profiles := s.Profiles()
			if len(profiles) != len(tt.wantProfiles) {
				t.Errorf("profiles = %v, want %v", profiles, tt.wantProfiles)
			}
			for id, email := range tt.wantProfiles {
				p, ok := profiles[id]
				if got, _ := p["email"].(string); !ok || got != email {
					t.Errorf("profile %s = %v, want email %q", id, p, email)
				}
			}
			for _, id := range tt.wantDeleted {
				if profiles[id]["deleted"] != true {
					t.Errorf("profile %s = %v, want deleted: true", id, profiles[id])
				}
			}
			var events []string
			for _, e := range s.Events() {
				events = append(events, e.UserID+" "+e.Event+" "+e.Properties["plan"].(string))
			}
			if strings.Join(events, "|") != strings.Join(tt.wantEvents, "|") {
				t.Errorf("events = %q, want %q", events, tt.wantEvents)
			}
			if len(failed) != len(tt.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			for k, part := range tt.wantFailed {
				if !strings.Contains(failed[k], part) {
					t.Errorf("failed[%s] = %q, want it to contain %q", k, failed[k], part)
				}
			}
			if stats.Retries != tt.wantRetries {
				t.Errorf("retries = %d, want %d", stats.Retries, tt.wantRetries)
			}
			if tt.wantWait > 0 && (len(sl.waits) == 0 || sl.waits[0] != tt.wantWait) {
				t.Errorf("waits = %v, want %v first", sl.waits, tt.wantWait)
			}
			if r := s.Rejections(); len(r) > 0 {
				t.Errorf("the emulator dropped events: %v", r)
			}
		})
	}
}

// TestWireFormat checks the request as Segment's reference describes it:
// Basic auth with the write key as the user, a batch of calls with stable
// messageIds, so a retried request is deduplicated.
func TestWireFormat(t *testing.T) {
	var bodies [][]byte
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
		auth = r.Header.Get("Authorization")
		if r.URL.Path != "/v1/batch" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	d := open(t, srv.URL, "wk", nil, connector.Target{Mode: "upsert"})
	rec := connector.Record{Op: connector.OpUpsert, Key: "42", Fields: []connector.FieldValue{{Name: "email", Value: "a@x.io"}, {Name: "logins", Value: int64(5)}, {Name: "vip", Value: true}, {Name: "phone", Value: nil}}}
	for range 2 {
		if err := d.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{rec}}); err != nil {
			t.Fatal(err)
		}
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("wk:")); auth != want {
		t.Errorf("Authorization = %q, want %q", auth, want)
	}
	var body struct {
		Batch []map[string]any `json:"batch"`
	}
	if err := json.Unmarshal(bodies[0], &body); err != nil {
		t.Fatalf("%v: %s", err, bodies[0])
	}
	m := body.Batch[0]
	traits, _ := json.Marshal(m["traits"])
	if m["type"] != "identify" || m["userId"] != "42" || string(traits) != `{"email":"a@x.io","logins":5,"phone":null,"vip":true}` || m["timestamp"] != "2026-03-01T12:00:00Z" {
		t.Errorf("message = %v (traits %s)", m, traits)
	}
	var again struct {
		Batch []map[string]any `json:"batch"`
	}
	json.Unmarshal(bodies[1], &again)
	id, _ := m["messageId"].(string)
	if !strings.HasPrefix(id, "riptide-") || len(id) >= 100 || again.Batch[0]["messageId"] != id {
		t.Errorf("messageIds %v and %v: want equal, stable, under 100 characters", id, again.Batch[0]["messageId"])
	}
	other := open(t, srv.URL, "wk", nil, connector.Target{Sync: "s", RunID: "run-2", Mode: "upsert"})
	if other.messageID("identify", "42") == id {
		t.Error("another run reuses the messageId: Segment would drop its calls as duplicates")
	}
}

// TestOversizedBatchSplit: a batch whose body exceeds 500 KB is not sent
// but refused so the delivery layer halves it. Quotes double in JSON, which
// the delivery layer's size estimate does not count, so the batch passes
// MaxBatchBytes and only the encoded size shows it too large.
func TestOversizedBatchSplit(t *testing.T) {
	s := emulator(t)
	d := open(t, s.URL(), s.WriteKey(), nil, connector.Target{Mode: "upsert"})
	var recs []connector.Record
	for i := range 30 {
		recs = append(recs, user(connector.OpUpsert, string(rune('A'+i)), strings.Repeat(`"`, 10_000)))
	}
	failed, stats, err := deliver(t, d, &sleeps{}, recs...)
	if err != nil || len(failed) > 0 {
		t.Fatalf("err %v, failed %v", err, failed)
	}
	if stats.Splits == 0 || len(s.Profiles()) != 30 {
		t.Errorf("splits %d, profiles %d; want splits and 30 profiles", stats.Splits, len(s.Profiles()))
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		target   connector.Target
		want     string
	}{
		{"no write key", connector.Settings{"write_key": ""}, connector.Target{Mode: "upsert"}, "write_key is required"},
		{"bad base_url", connector.Settings{"base_url": "api.segment.io"}, connector.Target{Mode: "upsert"}, "base_url"},
		{"unknown object", nil, connector.Target{Mode: "upsert", Object: "page"}, "identify or track:<Event Name>"},
		{"track without a name", nil, connector.Target{Mode: "upsert", Object: "track: "}, "identify or track:<Event Name>"},
		{"mirror without delete_trait", nil, connector.Target{Mode: "mirror"}, "needs delete_trait"},
		{"mirror of track events", connector.Settings{"delete_trait": "deleted"}, connector.Target{Mode: "mirror", Object: "track:Signed Up"}, "cannot be withdrawn"},
		{"mirror with a mapped identifier", connector.Settings{"delete_trait": "deleted"}, connector.Target{Mode: "mirror", Identifier: []string{"email"}}, "userId to be the primary key"},
		{"identifier not mapped", nil, connector.Target{Mode: "upsert", Identifier: []string{"email"}, Fields: []string{"plan"}}, "must set the identifier"},
		{"batch too large", connector.Settings{"batch_size": 3000}, connector.Target{Mode: "upsert"}, "batch_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := connector.Settings{"write_key": "wk"}
			for k, v := range tt.settings {
				raw[k] = v
			}
			tt.target.Sync = "s"
			_, err := newDestination(spec().WithDefaults(raw), tt.target, time.Now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
