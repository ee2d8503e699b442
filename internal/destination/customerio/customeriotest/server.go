// Package customeriotest is an emulator of Customer.io's Track API, written
// from Customer.io's public Track API reference: POST /api/v2/batch with
// person entries (identify and delete actions, identified by id or email),
// the v1 calls the official Node.js client makes (PUT and DELETE
// /api/v1/customers/{id}), Basic authentication with the workspace's site
// ID and Track API key, the 500 KB request and 32 KB entry limits, the
// documented identify limits (id and attribute names up to 150 bytes,
// attribute values up to 1000 bytes, 300 attributes per request), 207
// answers naming refused entries by batch_index, and 429 answers with
// Retry-After when a rate limit is set. It keeps the people it holds in
// memory so tests can assert end state. Tests, benchmarks and `riptide
// emulate customerio` use it standalone.
package customeriotest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Limits of the documented Track API.
const (
	MaxBatchBytes  = 500 * 1000
	MaxEntryBytes  = 32 * 1000
	MaxIDBytes     = 150
	MaxNameBytes   = 150
	MaxValueBytes  = 1000
	MaxAttributes  = 300
	DefaultSiteID  = "0000000000000000emul"
	DefaultTrackAK = "00000000000000000000"
)

// Person is one person the emulator holds.
type Person struct {
	CioID      string
	ID         string
	Email      string
	Attributes map[string]any // decoded JSON
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// RateLimit is the limit the emulator enforces: Requests per Per, in
// fixed windows. Zero is unlimited.
type RateLimit struct {
	Requests int
	Per      time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the site ID and Track API key the emulator accepts.
func WithCredentials(siteID, apiKey string) Option {
	return func(s *Server) { s.siteID, s.apiKey = siteID, apiKey }
}

// WithRateLimit makes the emulator enforce a rate limit.
func WithRateLimit(l RateLimit) Option { return func(s *Server) { s.limit = l } }

// WithClock replaces the clock the rate limit counts by.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithTLS serves HTTPS with a self-signed certificate (see CertPEM): the
// official Node.js client only speaks HTTPS.
func WithTLS() Option { return func(s *Server) { s.tls = true } }

// Server is a running emulator.
type Server struct {
	siteID, apiKey string
	addr           string
	limit          RateLimit
	now            func() time.Time
	tls            bool

	hs *httptest.Server

	mu          sync.Mutex
	people      map[string]*Person // cio_id → person
	nextID      int
	windowStart time.Time
	windowCount int
	faults      []int
	revoked     bool
	requests    int
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		siteID: DefaultSiteID,
		apiKey: DefaultTrackAK,
		addr:   "127.0.0.1:0",
		now:    time.Now,
		people: map[string]*Person{},
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("customer.io emulator: listen on %s: %w", s.addr, err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.hs.Listener.Close()
	s.hs.Listener = ln
	s.hs.Config.ReadHeaderTimeout = 10 * time.Second
	if s.tls {
		s.hs.StartTLS()
	} else {
		s.hs.Start()
	}
	return s, nil
}

// URL is the Track API root to give the destination as base_url.
func (s *Server) URL() string { return s.hs.URL }

// CertPEM is the TLS certificate in PEM, for clients to trust; empty
// without WithTLS.
func (s *Server) CertPEM() string {
	if !s.tls {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.hs.Certificate().Raw}))
}

// Certificate is the TLS certificate; nil without WithTLS.
func (s *Server) Certificate() *x509.Certificate {
	if !s.tls {
		return nil
	}
	return s.hs.Certificate()
}

// SiteID is the site ID the emulator accepts.
func (s *Server) SiteID() string { return s.siteID }

// APIKey is the Track API key the emulator accepts.
func (s *Server) APIKey() string { return s.apiKey }

// Close stops the emulator.
func (s *Server) Close() error {
	s.hs.Close()
	return nil
}

// RevokeKey makes every later request fail authentication, as after the
// key was deleted in the workspace settings.
func (s *Server) RevokeKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// FailNext answers the next requests with the given statuses, in order:
// 429 with Retry-After, others with an error body.
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

// People returns copies of the people held, keyed by id, or by email for
// people without one.
func (s *Server) People() map[string]Person {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Person, len(s.people))
	for _, p := range s.people {
		c := *p
		c.Attributes = maps.Clone(p.Attributes)
		key := p.ID
		if key == "" {
			key = p.Email
		}
		out[key] = c
	}
	return out
}

// Put stores a person directly, as if identified earlier, and returns its
// cio_id. The attributes "id" and "email" set those identifiers.
func (s *Server) Put(attrs map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.create()
	for k, v := range attrs {
		s.set(p, k, v)
	}
	return p.CioID
}

func (s *Server) create() *Person {
	s.nextID++
	now := s.now().UTC()
	p := &Person{CioID: fmt.Sprintf("%x", 0xa0000+s.nextID), Attributes: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	s.people[p.CioID] = p
	return p
}

func (s *Server) set(p *Person, name string, v any) {
	switch name {
	case "id":
		p.ID, _ = v.(string)
	case "email":
		p.Email, _ = v.(string)
	}
	// An empty value removes the attribute, as the reference documents;
	// so does null.
	if v == nil || v == "" {
		delete(p.Attributes, name)
		return
	}
	p.Attributes[name] = v
}

func (s *Server) find(kind, value string) *Person {
	for _, p := range s.people {
		switch {
		case kind == "id" && p.ID == value,
			kind == "email" && p.Email == value,
			kind == "cio_id" && p.CioID == value:
			return p
		}
	}
	return nil
}
