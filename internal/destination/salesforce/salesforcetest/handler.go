package salesforcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// apiError is an element of Salesforce's error arrays.
type apiError struct {
	StatusCode string   `json:"statusCode,omitempty"` // in collection results
	ErrorCode  string   `json:"errorCode,omitempty"`  // in request errors
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

type result struct {
	ID      *string    `json:"id"`
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
	Created *bool      `json:"created,omitempty"`
}

var dataPath = regexp.MustCompile(`^/services/data/v\d+\.\d/(.+)$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.URL.Path == "/services/oauth2/token" {
		s.token(w, r)
		return
	}
	m := dataPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.tokens[tok] {
		fail(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		switch status {
		case http.StatusForbidden:
			fail(w, status, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		case http.StatusTooManyRequests:
			// Salesforce's concurrent-request limit; it names no wait.
			fail(w, status, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
		default:
			fail(w, status, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
		}
		return
	}
	if !s.spend(w) {
		return
	}
	rest := m[1]
	switch {
	case rest == "limits" && r.Method == http.MethodGet:
		s.limits(w)
	case rest == "sobjects" && r.Method == http.MethodGet:
		s.describeGlobal(w)
	case rest == "query" && r.Method == http.MethodGet:
		s.query(w, r.URL.Query().Get("q"))
	case rest == "jobs/ingest" || strings.HasPrefix(rest, "jobs/ingest/"):
		s.ingest(w, r, strings.TrimPrefix(rest, "jobs/ingest"))
	case rest == "composite/sobjects" && r.Method == http.MethodPost:
		s.collection(w, r, "", "")
	case rest == "composite/sobjects" && r.Method == http.MethodDelete:
		s.delete(w, r)
	case strings.HasPrefix(rest, "sobjects/") && strings.HasSuffix(rest, "/describe") && r.Method == http.MethodGet:
		s.describe(w, strings.TrimSuffix(strings.TrimPrefix(rest, "sobjects/"), "/describe"))
	case strings.HasPrefix(rest, "composite/sobjects/") && r.Method == http.MethodPatch:
		typ, ext, ok := strings.Cut(strings.TrimPrefix(rest, "composite/sobjects/"), "/")
		if !ok || typ == "" || ext == "" || strings.Contains(ext, "/") {
			fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
			return
		}
		s.collection(w, r, typ, ext)
	default:
		fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist: "+r.Method+" "+rest)
	}
}

// token serves the refresh_token and client_credentials grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "must use HTTP POST"})
		return
	}
	grant := r.PostForm.Get("grant_type")
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	switch {
	case grant != "refresh_token" && grant != "client_credentials":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	case id != s.clientID:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client_id", "error_description": "client identifier invalid"})
		return
	case secret != s.clientSecret:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"})
		return
	case grant == "refresh_token" && r.PostForm.Get("refresh_token") != s.refreshToken:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "expired access/refresh token"})
		return
	}
	s.grants = append(s.grants, grant)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": s.issue(),
		"instance_url": s.URL(),
		"id":           s.URL() + "/id/00Driptide/005riptide",
		"token_type":   "Bearer",
		"issued_at":    fmt.Sprint(time.Now().UnixMilli()),
		"signature":    "cmlwdGlkZS1lbXVsYXRvcg==",
	})
}

// collection serves create (POST, typ "") and upsert (PATCH by the
// external ID field ext).
func (s *Server) collection(w http.ResponseWriter, r *http.Request, typ, ext string) {
	var body struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Cannot deserialize the request body: "+err.Error())
		return
	}
	if len(body.Records) > MaxRecords {
		fail(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", fmt.Sprintf("Record limit exceeded: %d records, the limit is %d", len(body.Records), MaxRecords))
		return
	}
	results := make([]result, len(body.Records))
	type write struct {
		rec     *Record // nil: create
		typ     string
		fields  map[string]any
		created bool
	}
	writes := make([]*write, len(body.Records))
	failed := false
	for i, rec := range body.Records {
		attrs, _ := rec["attributes"].(map[string]any)
		rtyp, _ := attrs["type"].(string)
		fields := map[string]any{}
		for k, v := range rec {
			if k != "attributes" {
				fields[k] = v
			}
		}
		e := s.validate(typ, ext, rtyp, fields)
		var wr *write
		if e == nil && ext != "" {
			switch matches := s.byField(typ, ext, fields[ext]); len(matches) {
			case 0:
				wr = &write{typ: typ, fields: fields, created: true}
			case 1:
				wr = &write{rec: matches[0], fields: fields}
			default:
				e = &apiError{StatusCode: "DUPLICATE_EXTERNAL_ID", Message: fmt.Sprintf("%s: more than one record found for external id field: %v", ext, fields[ext]), Fields: []string{ext}}
			}
		} else if e == nil {
			wr = &write{typ: rtyp, fields: fields, created: true}
		}
		if e == nil {
			e = s.checkFields(rtyp, fields, wr.created)
		}
		if e != nil {
			failed = true
			results[i].Errors = []apiError{*e}
			continue
		}
		writes[i] = wr
	}
	for i, wr := range writes {
		if wr == nil {
			continue
		}
		if failed && body.AllOrNone {
			results[i].Errors = []apiError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}
			continue
		}
		if wr.rec == nil {
			wr.rec = s.create(wr.typ, wr.fields)
		} else {
			for k, v := range wr.fields {
				wr.rec.Fields[k] = v
			}
		}
		id := wr.rec.ID
		results[i] = result{ID: &id, Success: true, Errors: []apiError{}}
		if ext != "" {
			c := wr.created
			results[i].Created = &c
		}
	}
	writeJSON(w, http.StatusOK, results)
}

func (s *Server) validate(typ, ext, rtyp string, fields map[string]any) *apiError {
	switch {
	case rtyp == "":
		return &apiError{StatusCode: "INVALID_TYPE", Message: "Must send a concrete entity type.", Fields: []string{}}
	case typ != "" && rtyp != typ:
		return &apiError{StatusCode: "INVALID_TYPE", Message: fmt.Sprintf("Records of type %s can't be upserted through %s", rtyp, typ), Fields: []string{}}
	case fields["Id"] != nil:
		return &apiError{StatusCode: "INVALID_FIELD", Message: "Id: records in a create or upsert request must not set Id", Fields: []string{"Id"}}
	}
	if ext != "" {
		if v := fields[ext]; v == nil || v == "" {
			return &apiError{StatusCode: "MISSING_ARGUMENT", Message: ext + " not specified", Fields: []string{ext}}
		}
	}
	// Salesforce validates email-typed fields; the standard ones are named
	// Email.
	if v, ok := fields["Email"].(string); ok && v != "" && !strings.Contains(v, "@") {
		return &apiError{StatusCode: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: " + v, Fields: []string{"Email"}}
	}
	return nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) == 1 && ids[0] == "" {
		fail(w, http.StatusBadRequest, "MISSING_ARGUMENT", "ids not specified")
		return
	}
	if len(ids) > MaxRecords {
		fail(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", fmt.Sprintf("Record limit exceeded: %d ids, the limit is %d", len(ids), MaxRecords))
		return
	}
	allOrNone := r.URL.Query().Get("allOrNone") == "true"
	results := make([]result, len(ids))
	missing := false
	for i, id := range ids {
		if s.records[id] == nil {
			missing = true
			results[i].Errors = []apiError{{StatusCode: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}}
		}
	}
	for i, id := range ids {
		if s.records[id] == nil {
			continue
		}
		if missing && allOrNone {
			results[i].Errors = []apiError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}
			continue
		}
		delete(s.records, id)
		results[i] = result{ID: &id, Success: true, Errors: []apiError{}}
	}
	writeJSON(w, http.StatusOK, results)
}

var soql = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(\w+)\s*(?:IN\s*\((.*)\)|=\s*('(?:[^'\\]|\\.)*')))?\s*$`)

// query serves the SOQL subset the destination and tests use.
func (s *Server) query(w http.ResponseWriter, q string) {
	m := soql.FindStringSubmatch(q)
	if m == nil {
		fail(w, http.StatusBadRequest, "MALFORMED_QUERY", "unexpected token in: "+q)
		return
	}
	var cols []string
	for c := range strings.SplitSeq(m[1], ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	typ, field := m[2], m[3]
	var want map[string]bool
	if field != "" {
		list := m[4] + m[5]
		vals, err := literals(list)
		if err != nil {
			fail(w, http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
			return
		}
		want = map[string]bool{}
		for _, v := range vals {
			want[v] = true
		}
	}
	records := []map[string]any{}
	for _, r := range s.records {
		if r.Type != typ {
			continue
		}
		if want != nil {
			v := r.ID
			if field != "Id" {
				v = fmt.Sprint(r.Fields[field])
			}
			if !want[v] {
				continue
			}
		}
		row := map[string]any{"attributes": map[string]string{"type": typ, "url": "/services/data/v62.0/sobjects/" + typ + "/" + r.ID}}
		for _, c := range cols {
			if c == "Id" {
				row["Id"] = r.ID
			} else {
				row[c] = r.Fields[c]
			}
		}
		records = append(records, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalSize": len(records), "done": true, "records": records})
}

// literals parses a comma-separated list of SOQL string literals.
func literals(list string) ([]string, error) {
	var out []string
	rest := strings.TrimSpace(list)
	for rest != "" {
		if rest[0] != '\'' {
			return nil, fmt.Errorf("expected a quoted string at %q", rest)
		}
		var b strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '\''; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			b.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("unterminated string in %q", list)
		}
		out = append(out, b.String())
		rest = strings.TrimSpace(rest[i+1:])
		if r, ok := strings.CutPrefix(rest, ","); ok {
			rest = strings.TrimSpace(r)
		} else if rest != "" {
			return nil, fmt.Errorf("expected a comma at %q", rest)
		}
	}
	return out, nil
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []apiError{{ErrorCode: code, Message: msg, Fields: []string{}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
