// Package googleadstest is an emulator of the Google Ads API's REST
// OfflineUserDataJobService for Customer Match, written from Google's
// public reference: the OAuth 2.0 token endpoint (refresh_token grant),
// offlineUserDataJobs:create for a CUSTOMER_MATCH_USER_LIST job of a
// CRM_BASED list, :addOperations with create and remove operations of user
// identifiers (partial failure: malformed identifiers refused by operation
// index in a GoogleAdsFailure; more than 100,000 identifiers refuse the
// request), and :run, which applies the job to the user list's members;
// and GoogleAdsService.Search (googleAds:search) answering GAQL queries of
// user_list fields (resource_name, id, name, type) with an optional
// user_list.type filter, in pages chained by nextPageToken (pageSize is
// refused, as Google does; other queries are refused with QueryError
// codes). Errors are google.rpc.Status bodies with GoogleAdsFailure
// details. It keeps jobs and members in memory so tests can assert end
// state.
package googleadstest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"time"
)

// Defaults the emulator accepts.
const (
	ClientID       = "emulator-client.apps.example"
	ClientSecret   = "emulator-client-secret"
	RefreshToken   = "1//emulator-refresh-token"
	DeveloperToken = "emulator-developer-token"
	CustomerID     = "1234567890"
	UserListID     = "111"
	// MaxIdentifiers is the most user identifiers one addOperations
	// request may carry.
	MaxIdentifiers = 100000
	// MaxPerOperation is the most identifiers one operation may carry.
	MaxPerOperation = 20
)

// Job is an offline user data job as the emulator holds it.
type Job struct {
	ResourceName string
	UserList     string
	Status       string // PENDING, then SUCCESS once run
	Operations   int    // operations accepted
}

type job struct {
	Job
	ops []op
}

type op struct {
	remove bool
	ids    []string // identifier keys like "hashedEmail:…"
}

// Server is a running emulator.
type Server struct {
	addr string
	hs   *httptest.Server

	pageSize int
	infos    []UserList // in creation order

	mu       sync.Mutex
	tokens   map[string]bool
	lists    map[string][]map[string]string // user list → members (identifier kind → value)
	listInfo map[string]UserList            // resource name → list
	jobs     map[string]*job
	faults   []int
	requests int
	seq      int
}

// Option configures a Server.
type Option func(*Server)

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// UserList is a user list of the emulator's customer.
type UserList struct {
	ResourceName string
	Name         string
	Type         string // CRM_BASED (Customer Match), RULE_BASED, LOGICAL, …
}

// DefaultPageSize is the rows per search page, fixed by Google.
const DefaultPageSize = 10000

// WithUserList adds a user list of the emulator's customer beyond
// UserList(); only CRM_BASED lists take Customer Match jobs.
func WithUserList(id, name, typ string) Option {
	return func(s *Server) {
		s.infos = append(s.infos, UserList{ResourceName: "customers/" + CustomerID + "/userLists/" + id, Name: name, Type: typ})
	}
}

// WithPageSize sets the rows per search page (Google's is fixed at
// 10,000), so tests can page through a few lists.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// New starts an emulator holding one CRM_BASED user list, UserList()
// ("Emulator customers"), and those added WithUserList.
func New(opts ...Option) (*Server, error) {
	s := &Server{addr: "127.0.0.1:0", pageSize: DefaultPageSize, tokens: map[string]bool{}, lists: map[string][]map[string]string{}, listInfo: map[string]UserList{}, jobs: map[string]*job{}}
	s.infos = []UserList{{ResourceName: s.UserList(), Name: "Emulator customers", Type: "CRM_BASED"}}
	for _, o := range opts {
		o(s)
	}
	for _, l := range s.infos {
		s.lists[l.ResourceName] = nil
		s.listInfo[l.ResourceName] = l
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("google ads emulator: listen on %s: %w", s.addr, err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.hs.Listener.Close()
	s.hs.Listener = ln
	s.hs.Config.ReadHeaderTimeout = 10 * time.Second
	s.hs.Start()
	return s, nil
}

// URL is the API root to give as base_url.
func (s *Server) URL() string { return s.hs.URL }

// TokenURL is the OAuth 2.0 token endpoint to give as token_url.
func (s *Server) TokenURL() string { return s.hs.URL + "/token" }

// UserList is the resource name of the user list the emulator holds.
func (s *Server) UserList() string { return "customers/" + CustomerID + "/userLists/" + UserListID }

// Close stops the emulator.
func (s *Server) Close() error { s.hs.Close(); return nil }

// FailNext answers the next API requests (not token requests) with these
// HTTP statuses, in order, as Google does: 429 RESOURCE_EXHAUSTED, 401
// UNAUTHENTICATED, 403 PERMISSION_DENIED, 503 UNAVAILABLE, other 5xx
// INTERNAL, other 4xx INVALID_ARGUMENT.
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

// Members returns copies of a user list's members: identifier kind
// (hashedEmail, hashedPhoneNumber, addressInfo) → value.
func (s *Server) Members(userList string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]string
	for _, m := range s.lists[userList] {
		out = append(out, maps.Clone(m))
	}
	return out
}

// Jobs returns the jobs created so far.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for _, j := range s.jobs {
		out = append(out, j.Job)
	}
	return out
}

var (
	searchPath = regexp.MustCompile(`^/v[0-9]+/customers/([0-9]{10})/googleAds:search$`)
	createPath = regexp.MustCompile(`^/v[0-9]+/customers/([0-9]{10})/offlineUserDataJobs:create$`)
	jobPath    = regexp.MustCompile(`^/v[0-9]+/(customers/([0-9]{10})/offlineUserDataJobs/[0-9]+):(addOperations|run)$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
	versionRE  = regexp.MustCompile(`^/(v[0-9]+)/`)
)

// fieldError is one GoogleAdsFailure error.
type fieldError struct {
	ErrorCode map[string]string `json:"errorCode"`
	Message   string            `json:"message"`
	Location  *location         `json:"location,omitempty"`
}

type location struct {
	FieldPathElements []pathElement `json:"fieldPathElements"`
}

type pathElement struct {
	FieldName string `json:"fieldName"`
	Index     *int   `json:"index,omitempty"`
}

func failure(version string, errs []fieldError) map[string]any {
	return map[string]any{
		"@type":     "type.googleapis.com/google.ads.googleads." + version + ".errors.GoogleAdsFailure",
		"errors":    errs,
		"requestId": "emulator-request",
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// rpcError writes a google.rpc.Status error body.
func rpcError(w http.ResponseWriter, httpStatus int, status, version, msg string, errs ...fieldError) {
	e := map[string]any{"code": httpStatus, "message": msg, "status": status}
	if len(errs) > 0 {
		e["details"] = []any{failure(version, errs)}
	}
	writeJSON(w, httpStatus, map[string]any{"error": e})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	version := "v26"
	if m := versionRE.FindStringSubmatch(r.URL.Path); m != nil {
		version = m[1]
	}
	s.mu.Lock()
	var fault int
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch {
	case fault == 429:
		rpcError(w, 429, "RESOURCE_EXHAUSTED", version, "Too many requests.", fieldError{ErrorCode: map[string]string{"quotaError": "RESOURCE_EXHAUSTED"}, Message: "Too many requests. Retry in 1 seconds."})
		return
	case fault == 401:
		rpcError(w, 401, "UNAUTHENTICATED", version, "Request is missing required authentication credential.")
		return
	case fault == 403:
		rpcError(w, 403, "PERMISSION_DENIED", version, "The caller does not have permission", fieldError{ErrorCode: map[string]string{"authorizationError": "USER_PERMISSION_DENIED"}, Message: "User doesn't have permission to access customer."})
		return
	case fault == 503:
		rpcError(w, 503, "UNAVAILABLE", version, "The service is currently unavailable.")
		return
	case fault >= 500:
		rpcError(w, fault, "INTERNAL", version, "Internal error encountered.", fieldError{ErrorCode: map[string]string{"internalError": "INTERNAL_ERROR"}, Message: "An internal error has occurred."})
		return
	case fault >= 400:
		rpcError(w, fault, "INVALID_ARGUMENT", version, "Request contains an invalid argument.")
		return
	}
	if r.Method != http.MethodPost {
		rpcError(w, 404, "NOT_FOUND", version, "Method not found.")
		return
	}
	s.mu.Lock()
	authed := s.tokens[bearer(r)]
	s.mu.Unlock()
	if !authed {
		rpcError(w, 401, "UNAUTHENTICATED", version, "Request had invalid authentication credentials. Expected OAuth 2 access token.", fieldError{ErrorCode: map[string]string{"authenticationError": "OAUTH_TOKEN_INVALID"}, Message: "Oauth token is invalid."})
		return
	}
	if r.Header.Get("developer-token") != DeveloperToken {
		rpcError(w, 401, "UNAUTHENTICATED", version, "Request is missing required authentication credential.", fieldError{ErrorCode: map[string]string{"authenticationError": "DEVELOPER_TOKEN_INVALID"}, Message: "The developer token is not valid."})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 512<<20))
	if err != nil {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "The request body could not be read.")
		return
	}
	if m := searchPath.FindStringSubmatch(r.URL.Path); m != nil {
		s.search(w, version, m[1], body)
		return
	}
	if m := createPath.FindStringSubmatch(r.URL.Path); m != nil {
		s.create(w, version, m[1], body)
		return
	}
	if m := jobPath.FindStringSubmatch(r.URL.Path); m != nil {
		if m[3] == "addOperations" {
			s.addOperations(w, version, m[1], body)
		} else {
			s.run(w, version, m[1], m[2])
		}
		return
	}
	rpcError(w, 404, "NOT_FOUND", version, "Method not found: "+r.URL.Path)
}

func bearer(r *http.Request) string {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

// token is the OAuth 2.0 token endpoint, refresh_token grant only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "POST a form"})
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + r.PostForm.Get("grant_type")})
	case r.PostForm.Get("client_id") != ClientID || r.PostForm.Get("client_secret") != ClientSecret:
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "Unauthorized"})
	case r.PostForm.Get("refresh_token") != RefreshToken:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
	default:
		s.mu.Lock()
		s.seq++
		tok := fmt.Sprintf("ya29.emulator-access-%d", s.seq)
		s.tokens[tok] = true
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/adwords", "token_type": "Bearer"})
	}
}
