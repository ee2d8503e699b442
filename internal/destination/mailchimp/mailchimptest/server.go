// Package mailchimptest is an emulator of Mailchimp's Marketing API for
// audience members, written from Mailchimp's public Marketing API
// reference: batch subscribe or unsubscribe (POST /3.0/lists/{list_id},
// up to 500 members, update_existing, per-member errors by email
// address), get and archive a member (GET and DELETE
// /3.0/lists/{list_id}/members/{subscriber_hash}, the MD5 of the
// lowercased email), ping, Basic authentication with the API key as the
// password, list merge fields (GET /3.0/lists/{list_id}/merge-fields,
// paged by count and offset), list audiences (GET /3.0/lists, paged
// likewise), problem-detail error bodies, and 429 answers when more
// requests are in flight than the connection limit. It keeps members in
// memory so tests can assert end state. Tests, benchmarks and `riptide
// emulate mailchimp` use it standalone.
package mailchimptest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// Defaults the emulator accepts.
const (
	DefaultAPIKey = "0123456789abcdef0123456789abcdef-emul1"
	DefaultListID = "a1b2c3d4e5"
	// DefaultListName is DefaultListID's audience name.
	DefaultListName = "Riptide Newsletter"
	MaxMembers      = 500
	// MaxConnections is Mailchimp's simultaneous-connection limit.
	MaxConnections = 10
)

// Member is one audience member the emulator holds.
type Member struct {
	ID           string // subscriber hash
	EmailAddress string
	Status       string // subscribed, unsubscribed, cleaned, pending, transactional or archived
	MergeFields  map[string]any
	Tags         []string
	LastChanged  time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the API key the emulator accepts.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithLists sets the audiences (list ids) that exist; default
// DefaultListID.
func WithLists(ids ...string) Option { return func(s *Server) { s.listIDs = ids } }

// WithListName names an audience (GET /3.0/lists shows it); unnamed
// audiences are called "Audience <id>".
func WithListName(id, name string) Option {
	return func(s *Server) { s.listNames[id] = name }
}

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithClock replaces the clock members' last_changed is read from.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Server is a running emulator.
type Server struct {
	apiKey    string
	listIDs   []string
	listNames map[string]string
	addr      string
	now       func() time.Time
	// mergeFields are listed for every audience; set before start only.
	mergeFields []MergeField

	hs *httptest.Server

	mu       sync.Mutex
	lists    map[string]map[string]*Member // list id → hash → member
	faults   []int
	requests int
	inFlight int
	peak     int
	archives int
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{apiKey: DefaultAPIKey, listIDs: []string{DefaultListID}, listNames: map[string]string{DefaultListID: DefaultListName}, addr: "127.0.0.1:0", now: time.Now, mergeFields: DefaultMergeFields()}
	for _, o := range opts {
		o(s)
	}
	s.lists = map[string]map[string]*Member{}
	for _, id := range s.listIDs {
		s.lists[id] = map[string]*Member{}
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("mailchimp emulator: listen on %s: %w", s.addr, err)
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

// APIKey is the API key the emulator accepts.
func (s *Server) APIKey() string { return s.apiKey }

// ListID is the first audience the emulator holds.
func (s *Server) ListID() string { return s.listIDs[0] }

// Close stops the emulator.
func (s *Server) Close() error {
	s.hs.Close()
	return nil
}

// FailNext answers the next requests with the given statuses, in order.
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

// PeakConnections is the most requests that were in flight at once.
func (s *Server) PeakConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Archives is the number of archive (DELETE member) requests served.
func (s *Server) Archives() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.archives
}

// Members returns copies of a list's members, archived ones included,
// keyed by lowercased email address.
func (s *Server) Members(listID string) map[string]Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Member{}
	for _, m := range s.lists[listID] {
		c := *m
		c.MergeFields = maps.Clone(m.MergeFields)
		c.Tags = slices.Clone(m.Tags)
		out[lower(m.EmailAddress)] = c
	}
	return out
}

// Active returns the members of a list that are not archived.
func (s *Server) Active(listID string) map[string]Member {
	out := s.Members(listID)
	maps.DeleteFunc(out, func(_ string, m Member) bool { return m.Status == "archived" })
	return out
}
