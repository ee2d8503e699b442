package iterable

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
)

func emulator(t *testing.T, opts ...iterabletest.Option) *iterabletest.Server {
	t.Helper()
	s, err := iterabletest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, base, key, object, identifier string) *Destination {
	t.Helper()
	set := spec().WithDefaults(connector.Settings{"api_key": key, "base_url": base})
	var ids []string
	if identifier != "" {
		ids = []string{identifier}
	}
	d, err := newDestination(set, connector.Target{Sync: "s", Mode: "mirror", Object: object, Identifier: ids})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func user(idField, id, first string) connector.Record {
	return connector.Record{Op: connector.OpUpsert, Key: id, Fields: []connector.FieldValue{{Name: idField, Value: id}, {Name: "firstName", Value: first}}}
}

func removed(id string) connector.Record { return connector.Record{Op: connector.OpDelete, Key: id} }

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
func deliver(t *testing.T, d *Destination, sl *sleeps, recs ...connector.Record) (map[string]string, error) {
	t.Helper()
	in := make(chan delivery.Item, len(recs))
	for i, r := range recs {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	p.Sleep = sl.Sleep
	failed := map[string]string{}
	_, err := delivery.Deliver(t.Context(), d, p, in, func(r delivery.Result) error {
		for i, msg := range r.Failed {
			failed[r.Items[i].Record.Key] = msg
		}
		return nil
	})
	return failed, err
}

func TestUsersScenarios(t *testing.T) {
	tests := []struct {
		name       string
		identifier string
		idField    string
		first      []connector.Record
		second     []connector.Record
		wantUsers  map[string]string // key → firstName
		wantFailed []string
	}{
		{
			name: "email upsert then update and mirror delete", idField: "email",
			first:     []connector.Record{user("email", "ann@x.io", "Ann"), user("email", "bob@x.io", "Bob")},
			second:    []connector.Record{user("email", "ann@x.io", "Anna"), removed("bob@x.io"), removed("never@x.io")},
			wantUsers: map[string]string{"ann@x.io": "Anna"},
		},
		{
			name: "invalid email fails only its row", idField: "email",
			first:      []connector.Record{user("email", "cy@x.io", "Cy"), user("email", "not-an-email", "No")},
			wantUsers:  map[string]string{"cy@x.io": "Cy"},
			wantFailed: []string{"not-an-email"},
		},
		{
			name: "userId identifier", identifier: "userId", idField: "userId",
			first:     []connector.Record{user("userId", "u1", "One"), user("userId", "u2", "Two")},
			second:    []connector.Record{removed("u2")},
			wantUsers: map[string]string{"u1": "One"},
		},
		{
			name: "missing identifier", idField: "email",
			first:      []connector.Record{{Op: connector.OpUpsert, Key: "k", Fields: []connector.FieldValue{{Name: "firstName", Value: "X"}}}, user("email", "dee@x.io", "Dee")},
			wantUsers:  map[string]string{"dee@x.io": "Dee"},
			wantFailed: []string{"k"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			d := open(t, s.URL(), s.APIKey(), "", tt.identifier)
			var failedKeys []string
			for _, recs := range [][]connector.Record{tt.first, tt.second} {
				if len(recs) == 0 {
					continue
				}
				failed, err := deliver(t, d, &sleeps{}, recs...)
				if err != nil {
					t.Fatal(err)
				}
				for k := range failed {
					failedKeys = append(failedKeys, k)
				}
			}
			if len(failedKeys) != len(tt.wantFailed) || (len(failedKeys) == 1 && failedKeys[0] != tt.wantFailed[0]) {
				t.Errorf("failed = %v, want %v", failedKeys, tt.wantFailed)
			}
			got := s.Users()
			if len(got) != len(tt.wantUsers) {
				t.Errorf("users = %v, want %v", got, tt.wantUsers)
			}
			for k, first := range tt.wantUsers {
				if got[k].DataFields["firstName"] != first {
					t.Errorf("user %s = %+v, want firstName %s", k, got[k], first)
				}
				if _, ok := got[k].DataFields[tt.idField]; ok {
					t.Errorf("user %s: identifier %s sent as a data field", k, tt.idField)
				}
			}
		})
	}
}

func TestListMirror(t *testing.T) {
	s := emulator(t)
	s.CreateList(42)
	d := open(t, s.URL(), s.APIKey(), "list:42", "")
	failed, err := deliver(t, d, &sleeps{}, user("email", "ann@x.io", "Ann"), user("email", "bob@x.io", "Bob"), user("email", "bad", "Bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed["bad"] == "" {
		t.Errorf("failed = %v, want only bad", failed)
	}
	// nobody@x.io is no user: Iterable names it in notFoundEmails, and
	// the mirror takes that as done.
	failed, err = deliver(t, d, &sleeps{}, removed("bob@x.io"), removed("nobody@x.io"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("unsubscribe: failed = %v, err = %v", failed, err)
	}
	if got := s.Members(42); len(got) != 1 || !got["ann@x.io"] {
		t.Errorf("members = %v, want ann@x.io only", got)
	}
	if len(s.Users()) != 2 {
		t.Errorf("users = %v: unsubscribe must not delete users", s.Users())
	}

	// A list that does not exist is a 400: the engine splits the batch
	// and fails every row, never retrying.
	other := open(t, s.URL(), s.APIKey(), "list:7", "")
	failed, err = deliver(t, other, &sleeps{}, user("email", "cy@x.io", "Cy"))
	if err != nil || len(failed) != 1 {
		t.Errorf("unknown list: failed = %v, err = %v", failed, err)
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string
		auth      bool
		retryable bool
		wait      time.Duration
	}{
		{"unauthorized", 401, "", true, false, 0},
		{"rate limited", 429, "3", false, true, 3 * time.Second},
		{"server error", 503, "", false, true, 0},
		{"bad request", 400, "", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"msg":"nope","code":"BadParams","params":null}`)
			}))
			defer srv.Close()
			d := open(t, srv.URL, "k", "", "")
			err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{user("email", "a@x.io", "A")}})
			var re *connector.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RequestError", err)
			}
			if re.Auth != tt.auth || re.Retryable != tt.retryable || re.RetryAfter != tt.wait || re.Message != "nope (BadParams)" {
				t.Errorf("RequestError = %+v", re)
			}
		})
	}
}

func TestUnnamedFailuresFailAll(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"successCount":1,"failCount":1}`)
	}))
	defer srv.Close()
	d := open(t, srv.URL, "k", "", "")
	err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{user("email", "a@x.io", "A"), user("email", "b@x.io", "B")}})
	var rows *connector.RowErrors
	if !errors.As(err, &rows) || len(rows.Failed) != 2 {
		t.Errorf("err = %v, want both rows failed", err)
	}
}

func TestWireFormat(t *testing.T) {
	var got map[string]any
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("Api-Key")
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"successCount":1,"failCount":0}`)
	}))
	defer srv.Close()
	d := open(t, srv.URL, "secret", "", "userId")
	if err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{user("userId", "u1", "One")}}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if want := `{"users":[{"dataFields":{"firstName":"One"},"preferUserId":true,"userId":"u1"}]}`; string(b) != want || key != "secret" {
		t.Errorf("body = %s (key %q), want %s", b, key, want)
	}
}

func TestRateLimit(t *testing.T) {
	s := emulator(t)
	s.FailNext(http.StatusTooManyRequests)
	d := open(t, s.URL(), s.APIKey(), "", "")
	sl := &sleeps{}
	failed, err := deliver(t, d, sl, user("email", "a@x.io", "A"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("failed = %v, err = %v", failed, err)
	}
	if len(sl.waits) == 0 || sl.waits[0] < time.Second {
		t.Errorf("waits = %v, want a wait of Retry-After (1s)", sl.waits)
	}
	if len(s.Users()) != 1 {
		t.Errorf("users = %v after the retry", s.Users())
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		target connector.Target
		set    connector.Settings
	}{
		{"no key", connector.Target{}, connector.Settings{"api_key": ""}},
		{"bad base", connector.Target{}, connector.Settings{"base_url": "ftp://x"}},
		{"bad object", connector.Target{Object: "events"}, nil},
		{"bad list", connector.Target{Object: "list:abc"}, nil},
		{"update mode", connector.Target{Mode: "update"}, nil},
		{"bad identifier", connector.Target{Identifier: []string{"phone"}}, nil},
		{"identifier unmapped", connector.Target{Fields: []string{"firstName"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := connector.Settings{"api_key": "k"}
			for k, v := range tt.set {
				set[k] = v
			}
			if _, err := newDestination(spec().WithDefaults(set), tt.target); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestWindows(t *testing.T) {
	d := open(t, "http://127.0.0.1:1", "k", "", "")
	if w := d.RateWindows(); len(w) != 1 || w[0].Requests != DefaultPerSec || w[0].Per != time.Second {
		t.Errorf("windows = %v", w)
	}
}
