// Package metaaudiencestest is an emulator of the Marketing API's Custom
// Audience users edge, written from Meta's public reference: add and
// remove people (POST and DELETE /{version}/{audience_id}/users) with a
// multi-key payload of up to 10,000 rows, the access token as a
// parameter (form or JSON body, or query), answers with num_received,
// num_invalid_entries and invalid_entry_samples, and Graph API error
// bodies; and the ad account's customaudiences edge (GET
// /{version}/act_{ad_account_id}/customaudiences) with fields (id by
// default; name, subtype), limit (default 25) and cursor paging
// (paging.cursors.after, and paging.next as an absolute URL that repeats
// the access token, as Meta's does). The token is read from the
// parameters or an Authorization: Bearer/OAuth header. It keeps members in
// memory so tests can assert end state.
package metaaudiencestest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Defaults the emulator accepts.
const (
	DefaultToken    = "EAAemulatortoken0123456789"
	DefaultAudience = "23850000000000001"
	// DefaultAdAccount is the ad account (without act_) holding the
	// audiences.
	DefaultAdAccount = "1234567890123456"
	MaxRows          = 10000
)

// Server is a running emulator.
type Server struct {
	token     string
	account   string
	audiences []Audience
	addr      string
	hs        *httptest.Server

	mu       sync.Mutex
	members  map[string][]map[string]string // audience → members (schema key → entry)
	faults   []int
	requests int
	sessions int
}

// Option configures a Server.
type Option func(*Server)

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Audience is a Custom Audience of the emulator's ad account.
type Audience struct {
	ID      string
	Name    string
	Subtype string // CUSTOM (a customer list), WEBSITE, LOOKALIKE, …
}

// WithAudience adds a Custom Audience to the ad account (beyond
// DefaultAudience, a CUSTOM audience named "Emulator customers").
func WithAudience(id, name, subtype string) Option {
	return func(s *Server) { s.audiences = append(s.audiences, Audience{ID: id, Name: name, Subtype: subtype}) }
}

// WithToken sets the access token the emulator accepts.
func WithToken(t string) Option { return func(s *Server) { s.token = t } }

// New starts an emulator.
func New(opts ...Option) (*Server, error) {
	s := &Server{token: DefaultToken, account: DefaultAdAccount, addr: "127.0.0.1:0", members: map[string][]map[string]string{},
		audiences: []Audience{{ID: DefaultAudience, Name: "Emulator customers", Subtype: "CUSTOM"}}}
	for _, o := range opts {
		o(s)
	}
	for _, a := range s.audiences {
		s.members[a.ID] = nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("meta audiences emulator: listen on %s: %w", s.addr, err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.hs.Listener.Close()
	s.hs.Listener = ln
	s.hs.Config.ReadHeaderTimeout = 10 * time.Second
	s.hs.Start()
	return s, nil
}

// URL is the Graph API root to give as base_url.
func (s *Server) URL() string { return s.hs.URL }

// Token is the access token the emulator accepts.
func (s *Server) Token() string { return s.token }

// Audience is the id of the default Custom Audience.
func (s *Server) Audience() string { return s.audiences[0].ID }

// AdAccount is the ad account id (without act_) holding the audiences.
func (s *Server) AdAccount() string { return s.account }

// Close stops the emulator.
func (s *Server) Close() error { s.hs.Close(); return nil }

// FailNext answers the next requests with Graph API error codes, in order:
// 190 (invalid token), 17/613/80003 (throttling, 400), 1 (unknown, 500),
// or any other code as a 400.
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, codes...)
}

// Requests is the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Members returns copies of an audience's members.
func (s *Server) Members(audience string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]string
	for _, m := range s.members[audience] {
		out = append(out, maps.Clone(m))
	}
	return out
}

// Has reports whether a member of the audience carries entry for key.
func (s *Server) Has(audience, key, entry string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.members[audience] {
		if m[key] == entry {
			return true
		}
	}
	return false
}

var (
	usersPath     = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/([0-9]+)/users$`)
	audiencesPath = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/act_([0-9]+)/customaudiences$`)
	hexRE         = regexp.MustCompile(`^[0-9a-f]{64}$`)
	madidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	knownKeys     = map[string]bool{"EXTERN_ID": true, "EMAIL": true, "PHONE": true, "GEN": true, "DOBY": true, "DOBM": true, "DOBD": true, "LN": true, "FN": true, "FI": true, "CT": true, "ST": true, "ZIP": true, "COUNTRY": true, "MADID": true}
	// matchKeys identify a member on their own.
	matchKeys = []string{"EXTERN_ID", "EMAIL", "PHONE", "MADID"}
)

func graphError(w http.ResponseWriter, status int, typ string, code, sub int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "AemulatorTrace"}
	if sub != 0 {
		e["error_subcode"] = sub
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// params merges the query with a form or JSON body, as the Graph API does.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil || len(data) == 0 {
		return out, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				out[k] = str
			} else {
				out[k] = string(v)
			}
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		out[k] = v[0]
	}
	return out, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var fault int
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	p, err := params(r)
	if err != nil {
		graphError(w, 400, "OAuthException", 100, 0, "(#100) The request body could not be parsed")
		return
	}
	token := p["access_token"]
	if h := r.Header.Get("Authorization"); token == "" && h != "" {
		// Graph takes the token as a Bearer or OAuth authorization too.
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			token = t
		} else if t, ok := strings.CutPrefix(h, "OAuth "); ok {
			token = t
		}
	}
	if token != s.token || fault == 190 {
		graphError(w, 400, "OAuthException", 190, 463, "Error validating access token: The session is invalid.")
		return
	}
	switch fault {
	case 0:
	case 1:
		graphError(w, 500, "OAuthException", 1, 0, "An unknown error occurred")
		return
	case 80003:
		w.Header().Set("X-Business-Use-Case-Usage", `{"1":[{"type":"custom_audience","call_count":100,"estimated_time_to_regain_access":1}]}`)
		graphError(w, 400, "OAuthException", 80003, 2446079, "There have been too many calls to this ad-account.")
		return
	default:
		graphError(w, 400, "OAuthException", fault, 0, "injected fault")
		return
	}
	if m := audiencesPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		s.listAudiences(w, r, m[1], p)
		return
	}
	m := usersPath.FindStringSubmatch(r.URL.Path)
	if m == nil || (r.Method != http.MethodPost && r.Method != http.MethodDelete) {
		graphError(w, 400, "GraphMethodException", 100, 33, "Unsupported request - method type: "+strings.ToLower(r.Method))
		return
	}
	s.users(w, r.Method, m[1], p["payload"])
}

func (s *Server) users(w http.ResponseWriter, method, audience, raw string) {
	var payload struct {
		Schema json.RawMessage `json:"schema"`
		Data   [][]string      `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &payload); err != nil {
		graphError(w, 400, "OAuthException", 100, 0, "(#100) Invalid parameter: payload is not valid JSON")
		return
	}
	var schema []string
	if json.Unmarshal(payload.Schema, &schema) != nil {
		var one string
		if json.Unmarshal(payload.Schema, &one) != nil {
			graphError(w, 400, "OAuthException", 100, 0, "(#100) Invalid parameter: schema")
			return
		}
		schema = []string{one}
	}
	for _, k := range schema {
		if !knownKeys[k] {
			graphError(w, 400, "OAuthException", 100, 1870062, "(#100) Invalid schema key "+k)
			return
		}
	}
	if len(payload.Data) == 0 || len(payload.Data) > MaxRows {
		graphError(w, 400, "OAuthException", 100, 1870065, fmt.Sprintf("(#100) data must hold 1 to %d rows", MaxRows))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.members[audience]
	if !ok {
		graphError(w, 400, "GraphMethodException", 100, 33, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist", audience))
		return
	}
	invalid := 0
	samples := map[string]string{}
	for _, row := range payload.Data {
		if len(row) != len(schema) {
			graphError(w, 400, "OAuthException", 100, 1870064, "(#100) every data row must have as many entries as the schema")
			return
		}
		entry := map[string]string{}
		bad := ""
		for j, k := range schema {
			v := row[j]
			switch {
			case v == "":
			case k == "MADID" && !madidRE.MatchString(v), k != "MADID" && k != "EXTERN_ID" && !hexRE.MatchString(v):
				bad = v
				samples[v] = "Invalid " + k + " format"
			default:
				entry[k] = v
			}
		}
		if bad != "" || len(entry) == 0 {
			invalid++
			continue
		}
		i := find(members, entry)
		switch {
		case method == http.MethodPost && i < 0:
			members = append(members, entry)
		case method == http.MethodPost:
			maps.Copy(members[i], entry)
		case i >= 0:
			members = append(members[:i], members[i+1:]...)
		}
	}
	s.members[audience] = members
	s.sessions++
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"audience_id":           audience,
		"session_id":            fmt.Sprint(s.sessions),
		"num_received":          len(payload.Data),
		"num_invalid_entries":   invalid,
		"invalid_entry_samples": samples,
	})
}

// find is the member sharing an identifying entry with e, or -1.
func find(members []map[string]string, e map[string]string) int {
	for i, m := range members {
		for _, k := range matchKeys {
			if e[k] != "" && m[k] == e[k] {
				return i
			}
		}
	}
	return -1
}
