// Package webhooktest is a recording emulator of a webhook receiver: it
// speaks Riptide's generic webhook protocol (a JSON batch per POST, an
// Idempotency-Key header, an optional HMAC-SHA256 signature, per-record
// results in the response), keeps what it received in memory, and fails on
// command. End-to-end tests, benchmarks and the example project use it.
package webhooktest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Request is one request the emulator received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// IdempotencyKey is the Idempotency-Key header.
	IdempotencyKey string
	// Sync, RunID and Batch are the envelope of the body.
	Sync    string
	RunID   string
	Batch   int
	Records []Record
	// Body is the body exactly as received.
	Body []byte
	// Status is what the emulator answered; 0 when the client went away
	// before the answer (a timeout).
	Status int
}

// Record is one record of a request.
type Record struct {
	Op  string
	Key string
	// Data is the record's data decoded with json.Decoder.UseNumber:
	// numbers are json.Number, exactly as sent. Nil for deletes. Callers
	// must not modify it.
	Data map[string]any
}

// Option configures a Server.
type Option func(*Server)

// WithSecret makes the emulator verify X-Riptide-Signature with the
// signing secret and answer 401 to a request without a valid one.
func WithSecret(secret string) Option {
	return func(s *Server) { s.secret = []byte(secret) }
}

// DefaultMaxBody is the largest body accepted unless WithMaxBody says
// otherwise.
const DefaultMaxBody = 64 << 20

// WithMaxBody makes the emulator answer 413 to bodies over n bytes, as a
// receiver behind a proxy with a body limit does.
func WithMaxBody(n int64) Option {
	return func(s *Server) { s.maxBody = n }
}

// Discard makes the emulator count records without keeping requests or
// records, for benchmarks of millions of records. It still reads and
// decodes every body in full, as a real receiver would, and still applies
// fault injection; Requests, Records and Latest stay empty.
func Discard() Option {
	return func(s *Server) { s.discard = true }
}

// Server is the emulator. All its methods are safe for concurrent use,
// including while requests are being served.
type Server struct {
	secret  []byte
	discard bool
	maxBody int64

	listener net.Listener
	http     *http.Server
	served   chan struct{}
	url      string

	mu       sync.Mutex
	requests []Request
	records  []Record
	latest   map[string]Record
	count    int
	received int
	injected int // requests failed on purpose (FailNext, FailRandomly)
	faults   faults
}

func newServer(opts []Option) *Server {
	s := &Server{latest: map[string]Record{}, maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(s)
	}
	return s
}

// New starts an emulator on a free port of 127.0.0.1. Like
// httptest.NewServer it panics when it cannot listen; Listen returns the
// error instead.
func New(opts ...Option) *Server {
	s, err := Listen("127.0.0.1:0", opts...)
	if err != nil {
		panic(fmt.Sprintf("webhooktest: %v", err))
	}
	return s
}

// Listen starts an emulator on addr ("127.0.0.1:9000"), for the example
// project and for running the emulator beside a real riptide process.
func Listen(addr string, opts ...Option) (*Server, error) {
	s := newServer(opts)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		// Serve only returns when the listener fails or on Close; either
		// way clients see refused connections, which is the report.
		_ = s.http.Serve(l)
	}()
	return s, nil
}

// NewHandler returns an emulator without a listener, to be mounted in
// another server through Handler.
func NewHandler(opts ...Option) *Server {
	return newServer(opts)
}

// Handler is the emulator's HTTP handler. It accepts POSTs on any path.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

// URL is the base URL of the emulator ("http://127.0.0.1:PORT"); any path
// under it is accepted. Empty for a NewHandler emulator.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the emulator, cutting off requests in progress (a delayed
// request ends at once). What was recorded stays readable.
func (s *Server) Close() {
	if s.http == nil {
		return
	}
	_ = s.http.Close()
	<-s.served
}

// Requests returns every request received, in arrival order, including
// the ones the emulator refused.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Records returns the records the emulator accepted, in arrival order:
// those of requests it answered with 2xx and did not refuse one by one.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Latest returns the emulated destination's state: for each key, the last
// record accepted for it. Inserts, updates and upserts set a key; deletes
// remove it.
func (s *Server) Latest() map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.latest)
}

// Count returns the number of records accepted (kept in Discard mode too).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// RequestCount returns the number of requests received (kept in Discard
// mode too).
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// Reset forgets everything received and every fault, keeping the options.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.records = nil, nil
	s.latest = map[string]Record{}
	s.count, s.received, s.injected = 0, 0, 0
	s.faults = faults{}
}
