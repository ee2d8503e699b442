// Package salesforcetest is an emulator of the parts of Salesforce's REST
// API that riptide's salesforce destination uses, written from Salesforce's
// public REST API reference: the OAuth 2.0 token endpoint (refresh_token
// and client_credentials grants), sObject Collections upsert by external
// ID (PATCH), create (POST) and delete (DELETE ?ids=), a SOQL subset on
// /query (SELECT fields FROM type [WHERE field IN (...) | field = '...']),
// Salesforce's error arrays ({message, errorCode, fields}), the
// 200-record collection limit, expired sessions (401 INVALID_SESSION_ID),
// the org's API request limit (403 REQUEST_LIMIT_EXCEEDED), and Bulk API
// 2.0 ingest jobs (create, CSV upload, close, status, failedResults), and
// sObject Describe over a per-sObject field schema (defaults for Contact
// and Account, more with WithObject) that writes are checked against
// (INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE), Describe Global (GET
// /sobjects), and the org's daily allocations: the Sforce-Limit-Info
// header on every data response, 403 REQUEST_LIMIT_EXCEEDED once the
// day's API requests are spent, and GET /limits. It keeps
// records in memory so tests can assert end state. Tests, benchmarks and
// `riptide emulate salesforce` use it standalone.
package salesforcetest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// MaxRecords is the documented limit of records in one collection request.
const MaxRecords = 200

// Record is one record the emulator holds.
type Record struct {
	ID     string
	Type   string
	Fields map[string]any // decoded JSON values, Id excluded
}

// Option configures a Server.
type Option func(*Server)

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithClient sets the connected app's consumer key and secret and the
// refresh token the token endpoint accepts.
func WithClient(id, secret, refreshToken string) Option {
	return func(s *Server) { s.clientID, s.clientSecret, s.refreshToken = id, secret, refreshToken }
}

// Server is a running emulator.
type Server struct {
	addr                                 string
	clientID, clientSecret, refreshToken string

	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	records  map[string]*Record // Id → record
	tokens   map[string]bool    // access tokens that are valid now
	nextID   int
	nextTok  int
	faults   []int
	requests int
	grants   []string

	jobs     map[string]*job // Bulk API 2.0 ingest jobs by id
	jobOrder []string
	nextJob  int
	jobFault string // FailNextJob's message

	schema map[string][]Field // sObject → fields, for describe and writes
	// readOnly sObjects are listed and described but take no writes
	// (history objects and the like).
	readOnly map[string]bool

	apiMax, apiUsed   int // daily API requests
	bulkMax, bulkUsed int // daily Bulk API batches
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		addr:         "127.0.0.1:0",
		clientID:     "3MVG9riptide.emulator.client",
		clientSecret: "emulator-secret",
		refreshToken: "5Aep861riptide.emulator.refresh",
		records:      map[string]*Record{},
		tokens:       map[string]bool{},
		schema:       defaultSchema(),
		readOnly:     map[string]bool{"ContactHistory": true},
		apiMax:       DefaultDailyAPIRequests,
		bulkMax:      DefaultDailyBulkBatches,
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("salesforce emulator: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is both the login URL and the instance URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// ClientID, ClientSecret and RefreshToken are the credentials accepted.
func (s *Server) ClientID() string     { return s.clientID }
func (s *Server) ClientSecret() string { return s.clientSecret }
func (s *Server) RefreshToken() string { return s.refreshToken }

// AccessToken issues a valid access token directly, as a session ID
// obtained elsewhere.
func (s *Server) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue()
}

func (s *Server) issue() string {
	s.nextTok++
	tok := fmt.Sprintf("00Driptide!emulator.token.%d", s.nextTok)
	s.tokens[tok] = true
	return tok
}

// ExpireSessions invalidates every access token issued so far, as when
// sessions time out.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// RevokeClient makes the token endpoint refuse every later grant.
func (s *Server) RevokeClient() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientSecret = "\x00revoked"
	clear(s.tokens)
}

// FailNext answers the next data requests with the given statuses, in
// order: 403 and 429 as REQUEST_LIMIT_EXCEEDED (the daily allocation,
// the concurrent-request limit), 5xx as SERVER_UNAVAILABLE.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, statuses...)
}

// Requests is the number of requests received, token requests included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Grants lists the grant types of the token requests served, in order.
func (s *Server) Grants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.grants...)
}

// Records returns copies of the records of one sObject type, keyed by the
// value of field (for example an external ID field), or by Id when field
// is "Id".
func (s *Server) Records(sobject, field string) map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Record{}
	for _, r := range s.records {
		if r.Type != sobject {
			continue
		}
		key := r.ID
		if field != "Id" {
			key = fmt.Sprint(r.Fields[field])
		}
		c := *r
		c.Fields = maps.Clone(r.Fields)
		out[key] = c
	}
	return out
}

// Put stores a record directly, as if created earlier, and returns its Id.
func (s *Server) Put(sobject string, fields map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(sobject, fields).ID
}

func (s *Server) create(sobject string, fields map[string]any) *Record {
	s.nextID++
	r := &Record{ID: fmt.Sprintf("a0X%012dAAA", s.nextID), Type: sobject, Fields: map[string]any{}}
	maps.Copy(r.Fields, fields)
	s.records[r.ID] = r
	return r
}

func (s *Server) byField(sobject, field string, v any) []*Record {
	var out []*Record
	for _, r := range s.records {
		if r.Type == sobject && fmt.Sprint(r.Fields[field]) == fmt.Sprint(v) {
			out = append(out, r)
		}
	}
	return out
}

// Close stops the emulator.
func (s *Server) Close() error { return s.srv.Close() }
