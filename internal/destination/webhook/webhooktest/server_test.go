package webhooktest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type reply struct {
	Status     int
	Body       string
	RetryAfter string
}

func post(t *testing.T, url, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Body: string(b), RetryAfter: resp.Header.Get("Retry-After")}
}

const batch12 = `{"sync":"s","run_id":"r","batch":1,"records":[{"op":"upsert","key":"1","data":{"n":1.50}},{"op":"upsert","key":"2","data":{"n":2}}]}`

func TestAnswers(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		program func(*Server)
		body    string
		header  map[string]string
		want    []reply // one per request, the same body each time
		// wantCount is the number of records accepted over all requests.
		wantCount int
	}{
		{
			name:      "accepted",
			body:      batch12,
			want:      []reply{{200, `{"accepted":2}`, ""}},
			wantCount: 2,
		},
		{
			name: "invalid JSON",
			body: `{"records":[`,
			want: []reply{{400, `{"error":"invalid JSON: unexpected EOF"}`, ""}},
		},
		{
			name: "trailing data",
			body: batch12 + `{}`,
			want: []reply{{400, `{"error":"invalid JSON: data after the batch"}`, ""}},
		},
		{
			name: "missing records",
			body: `{"sync":"s"}`,
			want: []reply{{400, `{"error":"missing \"records\""}`, ""}},
		},
		{
			name: "unknown op",
			body: `{"records":[{"op":"merge","key":"1","data":{}}]}`,
			want: []reply{{400, `{"error":"record 0 (key \"1\"): unknown op \"merge\""}`, ""}},
		},
		{
			name: "upsert without data",
			body: `{"records":[{"op":"upsert","key":"1"}]}`,
			want: []reply{{400, `{"error":"record 0 (key \"1\"): op upsert without \"data\""}`, ""}},
		},
		{
			name:      "valid signature",
			opts:      []Option{WithSecret("s3cret")},
			body:      batch12,
			header:    map[string]string{"X-Riptide-Signature": sign("s3cret", batch12)},
			want:      []reply{{200, `{"accepted":2}`, ""}},
			wantCount: 2,
		},
		{
			name:   "signature with another secret",
			opts:   []Option{WithSecret("s3cret")},
			body:   batch12,
			header: map[string]string{"X-Riptide-Signature": sign("other", batch12)},
			want:   []reply{{401, `{"error":"invalid signature"}`, ""}},
		},
		{
			name:   "signature without prefix",
			opts:   []Option{WithSecret("s3cret")},
			body:   batch12,
			header: map[string]string{"X-Riptide-Signature": strings.TrimPrefix(sign("s3cret", batch12), "sha256=")},
			want:   []reply{{401, `{"error":"invalid signature"}`, ""}},
		},
		{
			name: "missing signature",
			opts: []Option{WithSecret("s3cret")},
			body: batch12,
			want: []reply{{401, `{"error":"invalid signature"}`, ""}},
		},
		{
			name:    "bearer required and missing",
			program: func(s *Server) { s.RequireBearer("tok") },
			body:    batch12,
			want:    []reply{{401, `{"error":"invalid bearer token"}`, ""}},
		},
		{
			name:      "bearer required and given",
			program:   func(s *Server) { s.RequireBearer("tok") },
			body:      batch12,
			header:    map[string]string{"Authorization": "Bearer tok"},
			want:      []reply{{200, `{"accepted":2}`, ""}},
			wantCount: 2,
		},
		{
			name: "fail next in order, then recover",
			program: func(s *Server) {
				s.FailNext(2, Failure{Status: 429, RetryAfter: "3"})
				s.FailNext(1, Failure{Status: 500, Body: "oops"})
			},
			body: batch12,
			want: []reply{
				{429, `{"error":"too many requests"}`, "3"},
				{429, `{"error":"too many requests"}`, "3"},
				{500, "oops", ""},
				{200, `{"accepted":2}`, ""},
			},
			wantCount: 2,
		},
		{
			name:      "failed key in results",
			program:   func(s *Server) { s.FailKey("2", "email bounced") },
			body:      batch12,
			want:      []reply{{200, `{"results":[{"key":"1","ok":true},{"key":"2","ok":false,"error":"email bounced"}]}`, ""}},
			wantCount: 1,
		},
		{
			name:      "failed key rule removed",
			program:   func(s *Server) { s.FailKey("2", "email bounced"); s.FailKey("2", "") },
			body:      batch12,
			want:      []reply{{200, `{"accepted":2}`, ""}},
			wantCount: 2,
		},
		{
			name:    "poisoned key",
			program: func(s *Server) { s.PoisonKey("1", "n must be an integer") },
			body:    batch12,
			want:    []reply{{400, `{"error":"record 1: n must be an integer"}`, ""}},
		},
		{
			name: "clear faults",
			program: func(s *Server) {
				s.PoisonKey("1", "no")
				s.FailNext(3, Failure{Status: 503})
				s.RequireBearer("x")
				s.ClearFaults()
			},
			body:      batch12,
			want:      []reply{{200, `{"accepted":2}`, ""}},
			wantCount: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts...)
			defer s.Close()
			if tt.program != nil {
				tt.program(s)
			}
			var got []reply
			for range tt.want {
				got = append(got, post(t, s.URL()+"/hook", tt.body, tt.header))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			if s.Count() != tt.wantCount || len(s.Records()) != tt.wantCount {
				t.Errorf("Count = %d, Records = %d, want %d", s.Count(), len(s.Records()), tt.wantCount)
			}
			reqs := s.Requests()
			if len(reqs) != len(tt.want) || s.RequestCount() != len(tt.want) {
				t.Fatalf("%d requests recorded (count %d), want %d", len(reqs), s.RequestCount(), len(tt.want))
			}
			for i, r := range reqs {
				if r.Status != tt.want[i].Status || string(r.Body) != tt.body || r.Path != "/hook" {
					t.Errorf("request %d recorded as %d %s %q", i, r.Status, r.Path, r.Body)
				}
			}
		})
	}
}

func TestRecordsAndLatest(t *testing.T) {
	s := New()
	defer s.Close()
	bodies := []string{
		`{"sync":"s","run_id":"r","batch":1,"records":[{"op":"insert","key":"1","data":{"v":"a"}},{"op":"upsert","key":"2","data":{"v":"b"}}]}`,
		`{"sync":"s","run_id":"r","batch":2,"records":[{"op":"update","key":"1","data":{"v":"c"}},{"op":"delete","key":"2"},{"op":"upsert","key":"3","data":{"v":12.50}}]}`,
	}
	for i, b := range bodies {
		if r := post(t, s.URL(), b, map[string]string{"Idempotency-Key": "r-" + string(rune('1'+i))}); r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	wantRecords := []Record{
		{Op: "insert", Key: "1", Data: map[string]any{"v": "a"}},
		{Op: "upsert", Key: "2", Data: map[string]any{"v": "b"}},
		{Op: "update", Key: "1", Data: map[string]any{"v": "c"}},
		{Op: "delete", Key: "2"},
		{Op: "upsert", Key: "3", Data: map[string]any{"v": json.Number("12.50")}},
	}
	if diff := cmp.Diff(wantRecords, s.Records()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantLatest := map[string]Record{
		"1": {Op: "update", Key: "1", Data: map[string]any{"v": "c"}},
		"3": {Op: "upsert", Key: "3", Data: map[string]any{"v": json.Number("12.50")}},
	}
	if diff := cmp.Diff(wantLatest, s.Latest()); diff != "" {
		t.Errorf("latest (-want +got):\n%s", diff)
	}
	reqs := s.Requests()
	if reqs[1].Batch != 2 || reqs[1].Sync != "s" || reqs[1].RunID != "r" || reqs[1].IdempotencyKey != "r-2" {
		t.Errorf("request 2 = %+v", reqs[1])
	}
	s.Reset()
	if s.Count() != 0 || len(s.Requests()) != 0 || len(s.Latest()) != 0 {
		t.Error("Reset kept state")
	}
}

func TestDiscard(t *testing.T) {
	s := New(Discard())
	defer s.Close()
	s.FailKey("2", "no")
	for range 3 {
		post(t, s.URL(), batch12, nil)
	}
	if r := post(t, s.URL(), `{"records":[{"op":"upsert","key":"1","data":{"n":}}]}`, nil); r.Status != 400 {
		t.Errorf("invalid body answered %d in discard mode", r.Status)
	}
	if s.Count() != 3 || s.RequestCount() != 4 {
		t.Errorf("Count = %d, RequestCount = %d, want 3 and 4", s.Count(), s.RequestCount())
	}
	if len(s.Requests()) != 0 || len(s.Records()) != 0 || len(s.Latest()) != 0 {
		t.Error("discard mode kept requests or records")
	}
}

func TestDelay(t *testing.T) {
	s := New()
	defer s.Close()
	s.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL(), strings.NewReader(batch12))
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	// The handler notices the client left and records the request
	// unanswered; wait for that without a clock.
	for s.RequestCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	if r := s.Requests()[0]; r.Status != 0 || s.Count() != 0 {
		t.Errorf("delayed request recorded with status %d, count %d", r.Status, s.Count())
	}
	s.SetDelay(0)
	if r := post(t, s.URL(), batch12, nil); r.Status != 200 {
		t.Errorf("status %d after removing the delay", r.Status)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s := New()
	defer s.Close()
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET answered %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestHandlerAndListen(t *testing.T) {
	h := NewHandler()
	ts := httptest.NewServer(h.Handler())
	defer ts.Close()
	if h.URL() != "" {
		t.Errorf("URL of a handler-only emulator = %q", h.URL())
	}
	if r := post(t, ts.URL+"/mounted", batch12, nil); r.Status != 200 || h.Count() != 2 {
		t.Errorf("mounted handler answered %d, count %d", r.Status, h.Count())
	}

	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	if _, err := Listen(strings.TrimPrefix(s.URL(), "http://")); err == nil {
		t.Error("listening twice on one address succeeded")
	}
}

func TestLargeBody(t *testing.T) {
	s := New(WithMaxBody(1024))
	defer s.Close()
	small := `{"records":[{"op":"upsert","key":"1","data":{"v":"x"}}]}`
	if r := post(t, s.URL(), small, nil); r.Status != http.StatusOK {
		t.Errorf("small body answered %d: %s", r.Status, r.Body)
	}
	large := `{"records":[{"op":"upsert","key":"1","data":{"v":"` + strings.Repeat("x", 4096) + `"}}]}`
	if r := post(t, s.URL(), large, nil); r.Status != http.StatusRequestEntityTooLarge || r.Body != `{"error":"body over 1024 bytes"}` {
		t.Errorf("oversized body answered %d: %s", r.Status, r.Body)
	}
}

func TestCheckOrder(t *testing.T) {
	s := New()
	defer s.Close()
	s.RequireBearer("tok")
	s.FailNext(1, Failure{Status: 503})
	auth := map[string]string{"Authorization": "Bearer tok"}
	steps := []struct {
		body   string
		header map[string]string
		want   int
	}{
		{`not json`, nil, 401},  // credentials before content
		{batch12, nil, 401},     // does not use up the queued failure
		{`not json`, auth, 400}, // nor does a malformed body
		{batch12, auth, 503},
		{batch12, auth, 200},
	}
	for i, st := range steps {
		if r := post(t, s.URL(), st.body, st.header); r.Status != st.want {
			t.Errorf("step %d answered %d, want %d", i+1, r.Status, st.want)
		}
	}
	if reqs := s.Requests(); len(reqs[1].Records) != 2 {
		t.Errorf("refused request recorded with %d records, want its 2", len(reqs[1].Records))
	}
}
