// Package segmenttest is an emulator of Segment's HTTP Tracking API batch
// endpoint, written from Segment's public reference (the "HTTP API Source"
// page and its Identify and Track specs): POST /v1/batch with
// {"batch":[…]}, the write key as the Basic auth user name or as writeKey
// in the body, application/json only, the 500 KB request and 32 KB per-call
// limits (400 Bad Request), at most 2500 events per batch (the rest
// dropped under a 200), per-event validation (a userId or anonymousId, a
// track's event name, a messageId under 100 characters) where an invalid
// event is dropped under a 200 as Segment does, and deduplication by
// messageId. It keeps profiles (merged identify traits) and track events
// in memory so tests can assert end state.
//
// Segment's reference does not document the answer to an unknown write
// key; the emulator answers 401 so that path can be tested.
package segmenttest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the batch endpoint.
const (
	MaxBody   = 500 * 1024
	MaxEvent  = 32 * 1024
	MaxEvents = 2500
)

// Event is one accepted track call.
type Event struct {
	UserID     string
	Event      string
	Properties map[string]any
	MessageID  string
	Timestamp  string
}

// Rejected is an event Segment took under a 200 but did not accept, with
// the reason its Debugger would show.
type Rejected struct {
	MessageID string
	Reason    string
}

// Option configures a Server.
type Option func(*Server)

// WithWriteKey sets the write key the emulator accepts.
func WithWriteKey(key string) Option { return func(s *Server) { s.writeKey = key } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithClock replaces the clock X-RateLimit-Reset is computed from.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Server is a running emulator.
type Server struct {
	writeKey string
	addr     string
	now      func() time.Time
	ln       net.Listener
	srv      *http.Server

	mu       sync.Mutex
	profiles map[string]map[string]any // userId → merged traits
	events   []Event
	rejected []Rejected
	seen     map[string]bool // messageIds accepted
	faults   []int
	revoked  bool
	requests int
	calls    int // identify and track calls accepted, duplicates excluded
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		writeKey: "riptide-test-write-key",
		addr:     "127.0.0.1:0",
		now:      time.Now,
		profiles: map[string]map[string]any{},
		seen:     map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("segment emulator: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL to give the destination as base_url.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// WriteKey is the write key the emulator accepts.
func (s *Server) WriteKey() string { return s.writeKey }

// Close stops the emulator.
func (s *Server) Close() error { return s.srv.Close() }

// RevokeKey makes every later request fail authentication, as after the
// source's write key was rotated.
func (s *Server) RevokeKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// FailNext answers the next requests with the given statuses, in order:
// 429 with an X-RateLimit-Reset one second ahead, others with an error body.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, statuses...)
}

// Requests is the number of requests received, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Calls is the number of identify and track calls accepted, duplicates of
// an accepted messageId excluded.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Profiles returns copies of the profiles: userId → traits merged from
// every identify call.
func (s *Server) Profiles() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.profiles))
	for id, t := range s.profiles {
		out[id] = maps.Clone(t)
	}
	return out
}

// Events returns the accepted track events in order of arrival.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		e.Properties = maps.Clone(e.Properties)
		out[i] = e
	}
	return out
}

// Rejections returns the events taken under a 200 but not accepted.
func (s *Server) Rejections() []Rejected {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejected(nil), s.rejected...)
}
