// Package brazetest is an emulator of Braze's user data REST API, written
// from Braze's public API reference: POST /users/track with attributes
// objects identified by external_id, email or user_alias (with
// _update_existing_only and its alias default), POST /users/delete by
// external_ids, email_addresses or user_aliases, bearer REST API key
// authentication, the 75-object and 50-user request limits, Braze's
// "success" answers with non-fatal errors naming objects by index, its
// fatal error bodies, and the /users/track rate limit with 429 answers
// and X-RateLimit-* headers, and "Export custom attributes" (GET
// /custom_attributes, 50 a page, the next page's cursor in the Link
// header) of the custom attributes set up front or learned from writes,
// with API key permissions (users.track, users.delete,
// custom_attributes.get). It keeps the profiles it holds in memory so
// tests can assert end state. Tests, benchmarks and `riptide emulate
// braze` use it standalone.
package brazetest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request limits of the documented endpoints.
const (
	MaxTrackObjects = 75
	MaxDeleteUsers  = 50
)

// User is one user profile the emulator holds.
type User struct {
	BrazeID    string
	ExternalID string
	Email      string
	Aliases    map[string]string // alias_label → alias_name
	Attributes map[string]any    // custom and profile attributes, decoded JSON
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Limits is the rate limit the emulator enforces: Requests per Per, in
// fixed windows as X-RateLimit-Reset reports them. Zero is unlimited.
type Limits struct {
	Requests int
	Per      time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the REST API key the emulator accepts.
func WithAPIKey(key string) Option { return func(s *Server) { s.key = key } }

// WithLimits makes the emulator enforce a rate limit.
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithClock replaces the clock the rate limit counts by.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Server is a running emulator.
type Server struct {
	key    string
	addr   string
	limits Limits
	now    func() time.Time

	ln  net.Listener
	srv *http.Server

	mu          sync.Mutex
	users       map[string]*User // braze_id → user
	nextID      int
	windowStart time.Time
	windowCount int
	faults      []int
	revoked     bool
	requests    int
	customAttrs map[string]CustomAttribute // name → attribute
	perms       []string                   // nil: every permission
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		key:   "00000000-0000-4000-8000-000000000000",
		addr:  "127.0.0.1:0",
		now:   time.Now,
		users: map[string]*User{},

		customAttrs: map[string]CustomAttribute{},
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("braze emulator: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the REST endpoint to give the destination as base_url.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// APIKey is the REST API key the emulator accepts.
func (s *Server) APIKey() string { return s.key }

// Close stops the emulator.
func (s *Server) Close() error { return s.srv.Close() }

// RevokeKey makes every later request fail authentication, as after the
// key was deleted in the dashboard.
func (s *Server) RevokeKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// FailNext answers the next requests with the given statuses, in order:
// 429 with Braze's rate-limit headers, 5xx with an internal error body.
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

// Users returns copies of the profiles held, keyed by external_id, or by
// email for profiles without one, or by "label:name" of their first alias
// otherwise.
func (s *Server) Users() map[string]User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]User, len(s.users))
	for _, u := range s.users {
		c := *u
		c.Attributes = maps.Clone(u.Attributes)
		c.Aliases = maps.Clone(u.Aliases)
		key := u.ExternalID
		if key == "" {
			key = u.Email
		}
		if key == "" {
			for label, name := range u.Aliases {
				key = label + ":" + name
				break
			}
		}
		out[key] = c
	}
	return out
}

// Put stores a profile directly, as if created earlier, and returns its
// braze_id. The attributes "external_id" and "email" set those
// identifiers.
func (s *Server) Put(attrs map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.create()
	for k, v := range attrs {
		s.set(u, k, v)
	}
	return u.BrazeID
}

func (s *Server) create() *User {
	s.nextID++
	now := s.now().UTC()
	u := &User{
		BrazeID:    fmt.Sprintf("%024x", s.nextID),
		Aliases:    map[string]string{},
		Attributes: map[string]any{},
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	s.users[u.BrazeID] = u
	return u
}

func (s *Server) set(u *User, name string, v any) {
	switch name {
	case "external_id":
		u.ExternalID, _ = v.(string)
	case "email":
		u.Email, _ = v.(string)
	}
	if v == nil {
		delete(u.Attributes, name)
		return
	}
	u.Attributes[name] = v
}

func (s *Server) byExternalID(id string) *User {
	for _, u := range s.users {
		if u.ExternalID == id {
			return u
		}
	}
	return nil
}

func (s *Server) byEmail(email string) *User {
	for _, u := range s.users {
		if u.Email == email {
			return u
		}
	}
	return nil
}

func (s *Server) byAlias(label, name string) *User {
	for _, u := range s.users {
		if u.Aliases[label] == name {
			return u
		}
	}
	return nil
}
