package mailchimp

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
	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
)

func emulator(t *testing.T, opts ...mailchimptest.Option) *mailchimptest.Server {
	t.Helper()
	s, err := mailchimptest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, s *mailchimptest.Server, mode string, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"api_key": s.APIKey(), "base_url": s.URL()}
	for k, v := range extra {
		set[k] = v
	}
	d, err := newDestination(spec().WithDefaults(set), connector.Target{Sync: "s", Object: s.ListID(), Mode: mode, Identifier: []string{FieldEmail}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// member is an upsert keyed by email, with an FNAME merge field.
func member(email, first string, extra ...connector.FieldValue) connector.Record {
	return connector.Record{Op: connector.OpUpsert, Key: email, Fields: append([]connector.FieldValue{{Name: FieldEmail, Value: email}, {Name: "FNAME", Value: first}}, extra...)}
}

func remove(email string) connector.Record {
	return connector.Record{Op: connector.OpDelete, Key: email}
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
func deliver(t *testing.T, d *Destination, recs ...connector.Record) (map[string]string, delivery.Stats, error) {
	t.Helper()
	in := make(chan delivery.Item, len(recs))
	for i, r := range recs {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	var sl sleeps
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
		seed        []connector.Record
		faults      []int
		key         string
		records     []connector.Record
		wantActive  map[string]string // email → FNAME of members not archived
		wantStatus  map[string]string // email → status
		wantFailed  map[string]string // key → part of the message
		wantRetries int
		wantErr     string
	}{
		{
			name:       "first sync subscribes",
			records:    []connector.Record{member("ann@example.com", "Ann"), member("Bob@Example.com", "Bob")},
			wantActive: map[string]string{"ann@example.com": "Ann", "bob@example.com": "Bob"},
			wantStatus: map[string]string{"ann@example.com": "subscribed"},
		},
		{
			name:       "existing member updated, its status kept",
			seed:       []connector.Record{member("ann@example.com", "Old", connector.FieldValue{Name: FieldStatus, Value: "unsubscribed"})},
			records:    []connector.Record{member("ANN@example.com", "New")},
			wantActive: map[string]string{"ann@example.com": "New"},
			wantStatus: map[string]string{"ann@example.com": "unsubscribed"},
		},
		{
			name:       "mapped status sets existing members",
			seed:       []connector.Record{member("ann@example.com", "Ann")},
			records:    []connector.Record{member("ann@example.com", "Ann", connector.FieldValue{Name: FieldStatus, Value: "unsubscribed"})},
			wantActive: map[string]string{"ann@example.com": "Ann"},
			wantStatus: map[string]string{"ann@example.com": "unsubscribed"},
		},
		{
			name:       "refused member fails alone",
			records:    []connector.Record{member("ann@example.com", "Ann"), member("not-an-email", "Bad"), member("cy@example.com", strings.Repeat("c", 256))},
			wantActive: map[string]string{"ann@example.com": "Ann"},
			wantFailed: map[string]string{"not-an-email": "looks fake or invalid", "cy@example.com": "at most 255 characters"},
		},
		{
			name:       "missing email and bad status fail before sending",
			records:    []connector.Record{member("ann@example.com", "Ann"), {Op: connector.OpUpsert, Key: "k", Fields: []connector.FieldValue{{Name: "FNAME", Value: "X"}}}, member("bo@example.com", "Bo", connector.FieldValue{Name: FieldStatus, Value: "gone"})},
			wantActive: map[string]string{"ann@example.com": "Ann"},
			wantFailed: map[string]string{"k": "no value for email_address", "bo@example.com": `status "gone"`},
		},
		{
			name:       "mirror archives removed members",
			seed:       []connector.Record{member("ann@example.com", "Ann"), member("bob@example.com", "Bob")},
			records:    []connector.Record{remove("Bob@example.com"), remove("never@example.com"), member("cy@example.com", "Cy")},
			wantActive: map[string]string{"ann@example.com": "Ann", "cy@example.com": "Cy"},
			wantStatus: map[string]string{"bob@example.com": "archived"},
		},
		{
			name:       "delete keyed by something other than email fails",
			records:    []connector.Record{remove("42")},
			wantActive: map[string]string{},
			wantFailed: map[string]string{"42": "primary key to be the email address"},
		},
		{
			name:        "429 and 503 are retried",
			faults:      []int{429, 503},
			records:     []connector.Record{member("ann@example.com", "Ann")},
			wantActive:  map[string]string{"ann@example.com": "Ann"},
			wantRetries: 2,
		},
		{
			name:       "wrong key stops the run",
			key:        "wrong-us1",
			records:    []connector.Record{member("ann@example.com", "Ann")},
			wantActive: map[string]string{},
			wantErr:    "API Key Invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			if len(tt.seed) > 0 {
				if failed, _, err := deliver(t, open(t, s, "upsert", nil), tt.seed...); err != nil || len(failed) > 0 {
					t.Fatalf("seed: %v %v", failed, err)
				}
			}
			s.FailNext(tt.faults...)
			var extra connector.Settings
			if tt.key != "" {
				extra = connector.Settings{"api_key": tt.key}
			}
			failed, stats, err := deliver(t, open(t, s, "mirror", extra), tt.records...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for k, m := range s.Active(s.ListID()) {
				got[k], _ = m.MergeFields["FNAME"].(string)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantActive) {
				t.Errorf("active members = %v, want %v", got, tt.wantActive)
			}
			all := s.Members(s.ListID())
			for email, status := range tt.wantStatus {
				if all[email].Status != status {
					t.Errorf("status of %s = %q, want %q", email, all[email].Status, status)
				}
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

// TestWireFormat checks the requests the adapter sends: the batch call's
// path, auth and members (status_if_new without a mapped status, tags as
// names, the rest as merge fields), then one DELETE per removed member by
// subscriber hash.
func TestWireFormat(t *testing.T) {
	type call struct{ method, path, user, key, body string }
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, k, _ := r.BasicAuth()
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, call{r.Method, r.URL.Path, u, k, string(b)})
		if r.Method == http.MethodPost {
			io.WriteString(w, `{"new_members":[],"updated_members":[],"errors":[],"total_created":2,"total_updated":0,"error_count":0}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d, err := newDestination(spec().WithDefaults(connector.Settings{"api_key": "k-us1", "base_url": srv.URL + "/", "status_if_new": "pending"}),
		connector.Target{Object: "list1", Mode: "mirror", Identifier: []string{FieldEmail}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Write(t.Context(), &connector.Batch{Records: []connector.Record{
		member("ann@example.com", "Ann", connector.FieldValue{Name: FieldTags, Value: "vip, beta"}, connector.FieldValue{Name: "SCORE", Value: int64(3)}),
		remove("Bob@Example.com"),
		member("cy@example.com", "Cy", connector.FieldValue{Name: FieldStatus, Value: "subscribed"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("calls = %+v", calls)
	}
	var body struct {
		Members        []map[string]any `json:"members"`
		UpdateExisting bool             `json:"update_existing"`
	}
	if err := json.Unmarshal([]byte(calls[0].body), &body); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(body.Members)
	want := `[{"email_address":"ann@example.com","merge_fields":{"FNAME":"Ann","SCORE":3},"status_if_new":"pending","tags":["vip","beta"]},{"email_address":"cy@example.com","merge_fields":{"FNAME":"Cy"},"status":"subscribed"}]`
	if calls[0].method != "POST" || calls[0].path != "/3.0/lists/list1" || calls[0].key != "k-us1" || !body.UpdateExisting || string(got) != want {
		t.Errorf("batch call = %+v\nmembers %s\nwant    %s", calls[0], got, want)
	}
	// md5("bob@example.com")
	if c := calls[1]; c.method != "DELETE" || c.path != "/3.0/lists/list1/members/"+SubscriberHash("bob@example.com") || c.key != "k-us1" {
		t.Errorf("archive call = %+v", c)
	}
	if SubscriberHash("Bob@Example.com") != "4b9bb80620f03eb3719e0a061c14283d" {
		t.Errorf("SubscriberHash = %s", SubscriberHash("Bob@Example.com"))
	}
}

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
		{name: "200", status: 200, body: `{"errors":[],"error_count":0}`},
		{name: "member errors by email", status: 200, body: `{"errors":[{"email_address":"B@example.com","error":"bad","error_code":"ERROR_GENERIC"}],"error_count":1}`,
			wantFailed: map[int]string{1: "bad (ERROR_GENERIC)"}},
		{name: "error naming no member", status: 200, body: `{"errors":[{"email_address":"x@example.com","error":"odd"}],"error_count":1}`,
			wantFailed: map[int]string{0: "did not tie", 1: "did not tie"}},
		{name: "count without errors", status: 200, body: `{"errors":[],"error_count":2}`,
			wantFailed: map[int]string{0: "without naming", 1: "without naming"}},
		{name: "400", status: 400, body: `{"title":"Invalid Resource","status":400,"detail":"The resource submitted could not be validated.","errors":[{"field":"members","message":"too many"}]}`,
			wantStatus: 400, wantMsg: "Invalid Resource: The resource submitted could not be validated.; members: too many"},
		{name: "401", status: 401, body: `{"title":"API Key Invalid","status":401,"detail":"bad key"}`, wantStatus: 401, auth: true, wantMsg: "API Key Invalid"},
		{name: "403", status: 403, wantStatus: 403, auth: true},
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
			d, err := newDestination(spec().WithDefaults(connector.Settings{"api_key": "k-us1", "base_url": srv.URL}), connector.Target{Object: "l", Mode: "upsert"})
			if err != nil {
				t.Fatal(err)
			}
			d.now = func() time.Time { return time.Date(2026, 10, 21, 7, 28, 20, 0, time.UTC) }
			err = d.Write(t.Context(), &connector.Batch{Records: []connector.Record{member("a@example.com", "A"), member("b@example.com", "B")}})
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

// TestBatchesAndConnections delivers more members than one call takes and
// checks that they land in 500-member calls with at most 10 in flight.
func TestBatchesAndConnections(t *testing.T) {
	s := emulator(t)
	var recs []connector.Record
	for i := range 5200 {
		recs = append(recs, member(fmt.Sprintf("u%d@example.com", i), "U"))
	}
	failed, stats, err := deliver(t, open(t, s, "upsert", nil), recs...)
	if err != nil || len(failed) > 0 || stats.Retries != 0 {
		t.Fatalf("failed %v, retries %d, err %v", failed, stats.Retries, err)
	}
	if n := len(s.Active(s.ListID())); n != 5200 {
		t.Errorf("members = %d, want 5200", n)
	}
	if s.Requests() != 11 {
		t.Errorf("requests = %d, want 11 (500 members each)", s.Requests())
	}
	if s.PeakConnections() > MaxConnections {
		t.Errorf("peak connections = %d, want at most %d", s.PeakConnections(), MaxConnections)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		target   connector.Target
		want     string
	}{
		{"no key", connector.Settings{}, connector.Target{Object: "l"}, "api_key is required"},
		{"key without dc", connector.Settings{"api_key": "abc"}, connector.Target{Object: "l"}, "data center"},
		{"bad base_url", connector.Settings{"api_key": "k-us1", "base_url": "ftp://x"}, connector.Target{Object: "l"}, "base_url"},
		{"no list", connector.Settings{"api_key": "k-us1"}, connector.Target{}, "audience (list) id"},
		{"update mode", connector.Settings{"api_key": "k-us1"}, connector.Target{Object: "l", Mode: "update"}, "mode update"},
		{"other identifier", connector.Settings{"api_key": "k-us1"}, connector.Target{Object: "l", Identifier: []string{"id"}}, "identifier must be email_address"},
		{"mapping lacks email", connector.Settings{"api_key": "k-us1"}, connector.Target{Object: "l", Fields: []string{"FNAME"}}, "must set email_address"},
		{"bad status_if_new", connector.Settings{"api_key": "k-us1", "status_if_new": "maybe"}, connector.Target{Object: "l"}, "status_if_new"},
		{"too many connections", connector.Settings{"api_key": "k-us1", "concurrency": 11}, connector.Target{Object: "l"}, "simultaneous"},
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

func TestDefaultBaseURL(t *testing.T) {
	tests := []struct{ key, base, want string }{
		{"0123abcd-us21", "", "https://us21.api.mailchimp.com"},
		{"a-b-us6", "", "https://us6.api.mailchimp.com"},
		{"0123abcd-us21", "http://127.0.0.1:9/", "http://127.0.0.1:9"},
	}
	for _, tt := range tests {
		d, err := newDestination(spec().WithDefaults(connector.Settings{"api_key": tt.key, "base_url": tt.base}), connector.Target{Object: "l"})
		if err != nil {
			t.Fatal(err)
		}
		if d.base != tt.want {
			t.Errorf("key %s base %q: base = %s, want %s", tt.key, tt.base, d.base, tt.want)
		}
	}
}
