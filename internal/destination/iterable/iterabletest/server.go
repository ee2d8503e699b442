// Package iterabletest is an emulator of the parts of Iterable's REST API
// the iterable destination uses: POST /api/users/bulkUpdate, DELETE
// /api/users/{email} and /api/users/byUserId/{userId}, POST
// /api/lists/subscribe and /api/lists/unsubscribe, GET /api/lists (the
// project's lists with id, name and listType), GET /api/users/getFields
// (the project's user fields, learning new data fields from writes as
// Iterable does), authenticated with the
// Api-Key header. It answers as the official @iterable/api client's
// response schemas describe: {successCount, failCount, failedUpdates}
// for bulk calls and {msg, code, params} otherwise, and 429 when a rate
// limit is set. It keeps users and list memberships in memory so tests
// can assert end state. Tests and `riptide emulate iterable` use it.
package iterabletest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// DefaultAPIKey is the key the emulator accepts unless WithAPIKey says
// otherwise.
const DefaultAPIKey = "00000000000000000000000000000000"

// MaxBatchUsers is the emulator's cap on users (or subscribers) in one
// bulk request; the destination sends at most this many.
const MaxBatchUsers = 1000

// User is one user the emulator holds.
type User struct {
	Email      string
	UserID     string
	DataFields map[string]any
}

// RateLimit is Requests per Per, in fixed windows. Zero is unlimited.
type RateLimit struct {
	Requests int
	Per      time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the key the emulator accepts.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithRateLimit makes the emulator answer 429 beyond the limit.
func WithRateLimit(l RateLimit) Option { return func(s *Server) { s.limit = l } }

// WithClock replaces the clock the rate limit counts by.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithFields replaces the project's user fields (name → Iterable type)
// that GET /api/users/getFields lists before any write.
func WithFields(fields map[string]string) Option {
	return func(s *Server) { s.fields = maps.Clone(fields) }
}

// DefaultFields are the user fields a new emulator lists: Iterable's own
// profile fields and a few common data fields.
func DefaultFields() map[string]string {
	return map[string]string{
		"email":                    "string",
		"userId":                   "string",
		"signupDate":               "date",
		"signupSource":             "string",
		"profileUpdatedAt":         "date",
		"emailListIds":             "long",
		"itblInternal":             "object",
		"itblInternal.emailDomain": "string",
		"firstName":                "string",
		"lastName":                 "string",
		"phoneNumber":              "string",
		"plan":                     "string",
		"lifetimeValue":            "double",
		"vip":                      "boolean",
		"lastPurchaseDate":         "date",
		"shoppingCartItems":        "nested",
		"shoppingCartItems.price":  "double",
	}
}

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Server is a running emulator.
type Server struct {
	apiKey string
	addr   string
	limit  RateLimit
	now    func() time.Time

	hs *httptest.Server

	mu          sync.Mutex
	users       []*User
	lists       map[int]map[*User]bool
	listInfo    map[int]listInfo
	listOrder   []int // list ids in the order they were made
	fields      map[string]string
	windowStart time.Time
	windowCount int
	faults      []int
	requests    int
}

// New starts an emulator.
func New(opts ...Option) (*Server, error) {
	s := &Server{apiKey: DefaultAPIKey, addr: "127.0.0.1:0", now: time.Now, lists: map[int]map[*User]bool{}, listInfo: map[int]listInfo{}, fields: DefaultFields()}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("iterable emulator: listen on %s: %w", s.addr, err)
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

// APIKey is the key the emulator accepts.
func (s *Server) APIKey() string { return s.apiKey }

// Close stops the emulator.
func (s *Server) Close() error {
	s.hs.Close()
	return nil
}

// List is a list the emulator holds, as GET /api/lists shows it.
type List struct {
	ID   int
	Name string // default "List <id>"
	// Type is Iterable's listType: Standard (a static list, the default)
	// or Dynamic, Suppression, Internal; only static lists take
	// subscribers.
	Type string
}

// CreateList makes an empty static list with the given id.
func (s *Server) CreateList(id int) { s.AddList(List{ID: id}) }

// AddList makes an empty list; an existing id keeps its members and takes
// the new name and type.
func (s *Server) AddList(l List) {
	if l.Name == "" {
		l.Name = fmt.Sprintf("List %d", l.ID)
	}
	if l.Type == "" {
		l.Type = "Standard"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lists[l.ID] == nil {
		s.lists[l.ID] = map[*User]bool{}
	}
	if _, ok := s.listInfo[l.ID]; !ok {
		s.listOrder = append(s.listOrder, l.ID)
	}
	s.listInfo[l.ID] = listInfo{List: l, created: s.now()}
}

type listInfo struct {
	List
	created time.Time
}

// FailNext answers the next requests with the given statuses in order.
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

// Users returns copies of the users held, keyed by email, or by userId
// for users without one.
func (s *Server) Users() map[string]User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]User, len(s.users))
	for _, u := range s.users {
		c := *u
		c.DataFields = maps.Clone(u.DataFields)
		out[key(u)] = c
	}
	return out
}

// Members returns the keys (email, or userId) of a list's subscribers.
func (s *Server) Members(listID int) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for u := range s.lists[listID] {
		out[key(u)] = true
	}
	return out
}

func key(u *User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.UserID
}

func (s *Server) find(email, userID string) *User {
	for _, u := range s.users {
		if (email != "" && u.Email == email) || (email == "" && userID != "" && u.UserID == userID) {
			return u
		}
	}
	return nil
}

func (s *Server) remove(u *User) {
	for i, x := range s.users {
		if x == u {
			s.users = append(s.users[:i], s.users[i+1:]...)
			break
		}
	}
	for _, members := range s.lists {
		delete(members, u)
	}
}
