// Package hubspottest is an emulator of HubSpot's CRM v3 object batch API,
// written from HubSpot's public API reference: the batch upsert, create,
// update, read and archive endpoints of /crm/v3/objects/{objectType}, bearer
// token authentication, the 100-input batch limit, property validation,
// 207 Multi-Status partial results, HubSpot's error bodies, and the
// private-app rate limits with their X-HubSpot-RateLimit-* headers and 429
// bodies, and the OAuth token endpoint of public apps (refresh_token grant)
// with short-lived access tokens; the properties API
// (/crm/v3/properties/{objectType}) and the schemas API listing custom
// objects (/crm-object-schemas/v3/schemas), with object type ids and
// fully qualified names taken in place of object names. It keeps the
// records it holds in memory so tests can assert end state. Tests,
// benchmarks and the example project use it standalone.
package hubspottest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// MaxInputs is the most inputs HubSpot accepts in one batch request.
const MaxInputs = 100

// Record is one CRM record the emulator holds.
type Record struct {
	ID         string
	Properties map[string]string
	Archived   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Property is one property of an object type. Unique properties may be
// used as idProperty.
type Property struct {
	Name   string
	Unique bool
	// ReadOnly properties are HubSpot's own (readOnlyValue): listed by the
	// properties API, set by HubSpot.
	ReadOnly bool
	Type     string // "string" when empty
}

// DefaultObjects are the object types and properties the emulator knows
// unless WithObject adds others.
func DefaultObjects() map[string][]Property {
	return map[string][]Property{
		"contacts": {
			{Name: "email", Unique: true}, {Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "createdate", ReadOnly: true, Type: "datetime"},
			{Name: "firstname"}, {Name: "lastname"}, {Name: "phone"}, {Name: "company"},
			{Name: "website"}, {Name: "lifecyclestage"}, {Name: "jobtitle"}, {Name: "city"}, {Name: "country"},
		},
		"companies": {
			{Name: "domain", Unique: true}, {Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "name"}, {Name: "industry"}, {Name: "city"}, {Name: "country"}, {Name: "numberofemployees"}, {Name: "lifecyclestage"},
		},
		"deals": {
			{Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "dealname"}, {Name: "amount"}, {Name: "dealstage"}, {Name: "pipeline"}, {Name: "closedate"},
		},
		"tickets": {
			{Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "subject"}, {Name: "content"}, {Name: "hs_pipeline"}, {Name: "hs_pipeline_stage"}, {Name: "hs_ticket_priority"},
		},
		"products": {
			{Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "name"}, {Name: "description"}, {Name: "price", Type: "number"}, {Name: "hs_sku"},
		},
		"line_items": {
			{Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"},
			{Name: "name"}, {Name: "quantity", Type: "number"}, {Name: "price", Type: "number"}, {Name: "hs_product_id"},
		},
	}
}

// Limits are the rate limits the emulator enforces; zero fields are unlimited.
type Limits struct {
	PerInterval int           // requests per Interval (rolling)
	Interval    time.Duration // HubSpot's is 10s
	Daily       int           // requests per day
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the private-app access token the emulator accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithObject adds (or replaces) an object type, e.g. a custom object
// "2-123456" with its properties.
func WithObject(name string, props ...Property) Option {
	return func(s *Server) { s.schema[name] = props }
}

// WithLimits makes the emulator enforce rate limits.
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithClock replaces the clock the rate limits count by.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Server is a running emulator.
type Server struct {
	token string
	addr  string
	// The public app the token endpoint serves.
	clientID, clientSecret, refreshToken string
	tokenTTL                             time.Duration
	limits                               Limits
	now                                  func() time.Time

	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	schema  map[string][]Property
	custom  []CustomObject                // listed by the schemas API
	records map[string]map[string]*Record // object → id → record
	// index finds records by property value (object → property → value),
	// so that upserts by a unique property do not scan every record;
	// entries may be stale and are checked on use.
	index    map[string]map[string]map[string]*Record
	nextID   int
	starts   []time.Time // request times within the rolling interval
	day      int         // requests counted against the daily limit
	faults   []int       // statuses to answer the next requests with
	revoked  bool
	requests int
	// throttled counts the requests refused by the rate limits.
	throttled int
	ids       int // correlation ids handed out
	// tokens are the OAuth access tokens issued, with their expiry.
	tokens        map[string]time.Time
	issued        int
	tokenRequests int
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		token:   "pat-na1-00000000-0000-0000-0000-000000000000",
		addr:    "127.0.0.1:0",
		now:     time.Now,
		schema:  DefaultObjects(),
		records: map[string]map[string]*Record{},
		index:   map[string]map[string]map[string]*Record{},
		nextID:  1000,

		clientID:     DefaultClientID,
		clientSecret: DefaultClientSecret,
		refreshToken: DefaultRefreshToken,
		tokenTTL:     30 * time.Minute,
		tokens:       map[string]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("hubspot emulator: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL to give the destination as base_url.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Token is the access token the emulator accepts.
func (s *Server) Token() string { return s.token }

// Close stops the emulator.
func (s *Server) Close() error { return s.srv.Close() }

// RevokeToken makes every later request fail authentication, as after a
// private app's token was rotated or a public app was uninstalled (the
// refresh token is refused too).
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// FailNext answers the next requests with the given statuses, in order:
// 429 with HubSpot's TEN_SECONDLY_ROLLING body and headers, 5xx with an
// internal error body.
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

// Throttled is the number of requests the rate limits refused with 429
// (FailNext's injected 429s not included).
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Records returns copies of the records of an object type that are not
// archived, keyed by the given property's value (e.g. "email").
func (s *Server) Records(object, byProperty string) map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Record{}
	for _, r := range s.records[object] {
		if r.Archived {
			continue
		}
		c := *r
		c.Properties = maps.Clone(r.Properties)
		out[r.Properties[byProperty]] = c
	}
	return out
}

// Put stores a record directly, as if created earlier, and returns its id.
func (s *Server) Put(object string, props map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(object, props).ID
}

func (s *Server) create(object string, props map[string]string) *Record {
	s.nextID++
	id := fmt.Sprint(s.nextID)
	now := s.now().UTC()
	r := &Record{ID: id, Properties: maps.Clone(props), CreatedAt: now, UpdatedAt: now}
	r.Properties["hs_object_id"] = id
	if s.records[object] == nil {
		s.records[object] = map[string]*Record{}
	}
	s.records[object][id] = r
	for k, v := range r.Properties {
		s.indexValue(object, k, v, r)
	}
	return r
}

// indexValue records that r's property holds value.
func (s *Server) indexValue(object, property, value string, r *Record) {
	byProp := s.index[object]
	if byProp == nil {
		byProp = map[string]map[string]*Record{}
		s.index[object] = byProp
	}
	byValue := byProp[property]
	if byValue == nil {
		byValue = map[string]*Record{}
		byProp[property] = byValue
	}
	byValue[value] = r
}

// find returns the live record whose property equals value.
func (s *Server) find(object, property, value string) *Record {
	if property == "" || property == "hs_object_id" {
		if r := s.records[object][value]; r != nil && !r.Archived {
			return r
		}
		return nil
	}
	if r := s.index[object][property][value]; r != nil && !r.Archived && r.Properties[property] == value {
		return r
	}
	return nil
}

func (s *Server) property(object, name string) (Property, bool) {
	i := slices.IndexFunc(s.schema[object], func(p Property) bool { return p.Name == name })
	if i < 0 {
		return Property{}, false
	}
	return s.schema[object][i], true
}
