// Package intercomtest is an emulator of Intercom's REST API for
// contacts, written from Intercom's public API reference: create (POST
// /contacts), update (PUT /contacts/{id}), retrieve (GET /contacts/{id}),
// search (POST /contacts/search with a single filter or an AND/OR group on
// id, external_id, email, role or name, operators = and !=), archive (POST
// /contacts/{id}/archive), the contact data attributes list (GET
// /data_attributes?model=contact); Bearer authentication; the Intercom-Version
// header; error lists ({"type":"error.list","errors":[{"code","message"}]});
// 409 for a second contact with the same external_id (or a user's email);
// and the rate limit per 10-second window with X-RateLimit-Limit,
// -Remaining and -Reset headers and 429 answers. It keeps contacts in
// memory so tests can assert end state. Tests, benchmarks and `riptide
// emulate intercom` use it standalone.
package intercomtest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// DefaultToken is the access token the emulator accepts unless
// WithToken sets another.
const DefaultToken = "dG9rOmVtdWxhdG9yOjE6MA=="

// MaxCustomValueBytes bounds a custom attribute's string value in the
// emulator. Intercom's text attributes are bounded too; this emulator's
// bound (255) is its own choice, used to exercise per-record refusals.
const MaxCustomValueBytes = 255

// Contact is one contact the emulator holds.
type Contact struct {
	ID               string
	Role             string
	ExternalID       string
	Email            string
	Name             string
	Phone            string
	SignedUpAt       int64
	CustomAttributes map[string]any // decoded JSON
	Archived         bool
	CreatedAt        int64
	UpdatedAt        int64
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the access token the emulator accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithRateLimit makes the emulator allow n requests per 10-second window,
// as Intercom enforces an app's per-minute quota. Zero is unlimited.
func WithRateLimit(n int) Option { return func(s *Server) { s.limit = n } }

// WithClock replaces the clock the rate limit and timestamps use.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Server is a running emulator.
type Server struct {
	token string
	addr  string
	limit int
	now   func() time.Time

	attributes []DataAttribute // GET /data_attributes?model=contact

	hs *httptest.Server

	mu          sync.Mutex
	contacts    map[string]*Contact // id → contact, archived included
	order       []string            // ids in creation order, as search lists them
	nextID      int
	windowStart time.Time
	windowCount int
	faults      []int
	revoked     bool
	requests    int
	versions    map[string]int // Intercom-Version header → requests
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		token:      DefaultToken,
		addr:       "127.0.0.1:0",
		now:        time.Now,
		contacts:   map[string]*Contact{},
		versions:   map[string]int{},
		attributes: DefaultDataAttributes(),
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("intercom emulator: listen on %s: %w", s.addr, err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.hs.Listener.Close()
	s.hs.Listener = ln
	s.hs.Config.ReadHeaderTimeout = 10 * time.Second
	s.hs.Start()
	return s, nil
}

// URL is the API root to give the destination as base_url.
func (s *Server) URL() string { return s.hs.URL }

// Token is the access token the emulator accepts.
func (s *Server) Token() string { return s.token }

// Close stops the emulator.
func (s *Server) Close() error {
	s.hs.Close()
	return nil
}

// RevokeToken makes every later request fail authentication, as after
// the app was uninstalled.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// FailNext answers the next requests with the given statuses, in order:
// 429 with the rate-limit headers, others with an error list.
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

// Versions counts the requests by their Intercom-Version header ("" for
// none).
func (s *Server) Versions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.versions)
}

// Contacts returns copies of the contacts that are not archived, keyed by
// external_id, or by email for contacts without one.
func (s *Server) Contacts() map[string]Contact {
	return s.snapshot(false)
}

// Archived returns copies of the archived contacts, keyed like Contacts.
func (s *Server) Archived() map[string]Contact {
	return s.snapshot(true)
}

func (s *Server) snapshot(archived bool) map[string]Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Contact{}
	for _, c := range s.contacts {
		if c.Archived != archived {
			continue
		}
		cp := *c
		cp.CustomAttributes = maps.Clone(c.CustomAttributes)
		key := c.ExternalID
		if key == "" {
			key = c.Email
		}
		out[key] = cp
	}
	return out
}

// Put stores a contact directly, as if created earlier, and returns its
// id. An empty role is user.
func (s *Server) Put(c Contact) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.create()
	id, created := n.ID, n.CreatedAt
	*n = c
	n.ID, n.CreatedAt, n.UpdatedAt = id, created, created
	if n.Role == "" {
		n.Role = "user"
	}
	if n.CustomAttributes == nil {
		n.CustomAttributes = map[string]any{}
	}
	return id
}

func (s *Server) create() *Contact {
	s.nextID++
	now := s.now().Unix()
	c := &Contact{ID: fmt.Sprintf("6%023x", s.nextID), Role: "user", CustomAttributes: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	s.contacts[c.ID] = c
	s.order = append(s.order, c.ID)
	return c
}

// conflict is the live contact other than self holding external_id, or a
// user's email, that a write would duplicate.
func (s *Server) conflict(self *Contact, role, externalID, email string) *Contact {
	for _, id := range s.order {
		c := s.contacts[id]
		if c == self || c.Archived {
			continue
		}
		if externalID != "" && c.ExternalID == externalID {
			return c
		}
		if role == "user" && c.Role == "user" && email != "" && c.Email == email {
			return c
		}
	}
	return nil
}
