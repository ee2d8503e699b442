package httplog

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

type memLog struct {
	mu   sync.Mutex
	reqs []connector.Request
}

func (m *memLog) Full() bool { return false }

func (m *memLog) LogRequest(r connector.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, r)
}

func TestTransportLogsRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"slow down"}`)
			return
		}
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	log := &memLog{}
	client := &http.Client{Transport: &Transport{Base: http.DefaultTransport, Log: log, MaxBody: 10}}
	tests := []struct {
		path, body string
		status     int
		wantReq    string
		wantResp   string
	}{
		{"/ok", `{"records":[1,2,3]}`, 200, `{"records"`, "xxxxxxxxxx"},
		{"/fail", `{}`, 429, `{}`, `{"error":"`},
	}
	for _, tt := range tests {
		resp, err := client.Post(srv.URL+tt.path, "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tt.status == 200 && len(got) != 100 {
			t.Errorf("%s: the caller read %d bytes of 100: logging must not eat the body", tt.path, len(got))
		}
	}
	// A transport error is logged too.
	if _, err := client.Get("http://127.0.0.1:1/x"); err == nil {
		t.Fatal("want a connection error")
	}
	if len(log.reqs) != 3 {
		t.Fatalf("logged %d requests, want 3", len(log.reqs))
	}
	for i, tt := range tests {
		r := log.reqs[i]
		if r.Method != "POST" || !strings.HasSuffix(r.URL, tt.path) || r.Status != tt.status || r.RequestBody != tt.wantReq || r.ResponseBody != tt.wantResp {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if r := log.reqs[2]; r.Status != 0 || r.Error == "" {
		t.Errorf("failed request logged as %+v", r)
	}
}

func TestCleanURLDropsCredentials(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://user:pass@example.test/path?q=1", nil)
	if got := cleanURL(req); got != "https://example.test/path?q=1" {
		t.Errorf("cleanURL = %q", got)
	}
}

func TestWrapWithoutLog(t *testing.T) {
	base := http.DefaultTransport
	if Wrap(base, nil) != base {
		t.Error("Wrap without a log must return the transport unchanged")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{" 12 ", 12 * time.Second},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(http.Header{"Retry-After": {tt.in}}, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
