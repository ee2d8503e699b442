package intercomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const maxBody = 1 << 20

// windowSpan is the span Intercom counts an app's requests over.
const windowSpan = 10 * time.Second

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.versions[r.Header.Get("Intercom-Version")]++

	if r.Header.Get("Authorization") != "Bearer "+s.token || s.revoked {
		// Intercom sends no rate-limit headers without valid credentials.
		writeErrors(w, http.StatusUnauthorized, "unauthorized", "Access Token Invalid")
		return
	}
	if !s.allow(w) {
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		if status == http.StatusTooManyRequests {
			s.tooMany(w)
			return
		}
		writeErrors(w, status, "server_error", "Internal server error")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeErrors(w, http.StatusRequestEntityTooLarge, "request_too_large", "request body too large")
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	switch {
	case path == "data_attributes" && r.Method == http.MethodGet:
		s.listAttributes(w, r.URL.Query())
	case path == "contacts" && r.Method == http.MethodPost:
		s.createContact(w, body)
	case path == "contacts/search" && r.Method == http.MethodPost:
		s.search(w, body)
	case len(parts) == 2 && parts[0] == "contacts" && r.Method == http.MethodPut:
		s.updateContact(w, parts[1], body)
	case len(parts) == 2 && parts[0] == "contacts" && r.Method == http.MethodGet:
		if c := s.contacts[parts[1]]; c != nil {
			writeJSON(w, http.StatusOK, render(c))
			return
		}
		notFound(w)
	case len(parts) == 3 && parts[0] == "contacts" && parts[2] == "archive" && r.Method == http.MethodPost:
		c := s.contacts[parts[1]]
		if c == nil {
			notFound(w)
			return
		}
		c.Archived = true
		writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "external_id": nullable(c.ExternalID), "type": "contact", "archived": true})
	default:
		writeErrors(w, http.StatusNotFound, "not_found", "Resource Not Found: "+r.Method+" /"+path)
	}
}

// allow counts the request against the 10-second window, sets the
// rate-limit headers and answers 429 when the window is spent.
func (s *Server) allow(w http.ResponseWriter) bool {
	if s.limit <= 0 {
		return true
	}
	now := s.now()
	if s.windowStart.IsZero() || now.Sub(s.windowStart) >= windowSpan {
		s.windowStart = now.Truncate(windowSpan)
		s.windowCount = 0
	}
	if s.windowCount >= s.limit {
		s.tooMany(w)
		return false
	}
	s.windowCount++
	s.rateHeaders(w, s.limit-s.windowCount)
	return true
}

func (s *Server) rateHeaders(w http.ResponseWriter, remaining int) {
	limit := s.limit
	reset := s.windowStart.Add(windowSpan)
	if limit <= 0 {
		limit, reset = 0, s.now().Add(windowSpan)
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

func (s *Server) tooMany(w http.ResponseWriter) {
	s.rateHeaders(w, 0)
	writeErrors(w, http.StatusTooManyRequests, "rate_limit_exceeded", fmt.Sprintf("Exceeded rate limit of %d in 10_seconds", s.limit))
}

// fields is a create or update body.
type fields struct {
	Role             *string                    `json:"role"`
	ExternalID       *string                    `json:"external_id"`
	Email            *string                    `json:"email"`
	Name             *string                    `json:"name"`
	Phone            *string                    `json:"phone"`
	SignedUpAt       *int64                     `json:"signed_up_at"`
	CustomAttributes map[string]json.RawMessage `json:"custom_attributes"`
}

func decodeFields(w http.ResponseWriter, body []byte) (*fields, bool) {
	var f fields
	if err := json.Unmarshal(body, &f); err != nil {
		writeErrors(w, http.StatusBadRequest, "parameter_invalid", "Invalid JSON: "+err.Error())
		return nil, false
	}
	if f.Role != nil && *f.Role != "user" && *f.Role != "lead" {
		writeErrors(w, http.StatusBadRequest, "parameter_invalid", "role must be user or lead")
		return nil, false
	}
	if f.Email != nil && *f.Email != "" && !strings.Contains(*f.Email, "@") {
		writeErrors(w, http.StatusBadRequest, "parameter_invalid", "Invalid email address: "+*f.Email)
		return nil, false
	}
	for k, raw := range f.CustomAttributes {
		var str string
		if json.Unmarshal(raw, &str) == nil && len(str) > MaxCustomValueBytes {
			writeErrors(w, http.StatusBadRequest, "parameter_invalid", fmt.Sprintf("Custom attribute '%s' value is longer than %d characters", k, MaxCustomValueBytes))
			return nil, false
		}
	}
	return &f, true
}

func (s *Server) createContact(w http.ResponseWriter, body []byte) {
	f, ok := decodeFields(w, body)
	if !ok {
		return
	}
	role := "user"
	if f.Role != nil {
		role = *f.Role
	}
	ext, email := deref(f.ExternalID), deref(f.Email)
	if role == "user" && ext == "" && email == "" {
		writeErrors(w, http.StatusBadRequest, "parameter_not_found", "A user requires an email or an external_id")
		return
	}
	if c := s.conflict(nil, role, ext, email); c != nil {
		writeErrors(w, http.StatusConflict, "conflict", "A contact matching those details already exists with id="+c.ID)
		return
	}
	c := s.create()
	c.Role = role
	s.apply(c, f)
	writeJSON(w, http.StatusOK, render(c))
}

func (s *Server) updateContact(w http.ResponseWriter, id string, body []byte) {
	c := s.contacts[id]
	if c == nil || c.Archived {
		notFound(w)
		return
	}
	f, ok := decodeFields(w, body)
	if !ok {
		return
	}
	role := c.Role
	if f.Role != nil {
		role = *f.Role
	}
	ext, email := c.ExternalID, c.Email
	if f.ExternalID != nil {
		ext = *f.ExternalID
	}
	if f.Email != nil {
		email = *f.Email
	}
	if other := s.conflict(c, role, ext, email); other != nil {
		writeErrors(w, http.StatusConflict, "conflict", "A contact matching those details already exists with id="+other.ID)
		return
	}
	c.Role = role
	s.apply(c, f)
	writeJSON(w, http.StatusOK, render(c))
}

// apply sets the fields given; custom attributes merge, null removing one.
func (s *Server) apply(c *Contact, f *fields) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.ExternalID, f.ExternalID)
	set(&c.Email, f.Email)
	set(&c.Name, f.Name)
	set(&c.Phone, f.Phone)
	if f.SignedUpAt != nil {
		c.SignedUpAt = *f.SignedUpAt
	}
	for k, raw := range f.CustomAttributes {
		var v any
		_ = json.Unmarshal(raw, &v)
		if v == nil {
			delete(c.CustomAttributes, k)
			continue
		}
		c.CustomAttributes[k] = v
	}
	c.UpdatedAt = s.now().Unix()
}

// filter is a search query: a single filter (field, operator, value) or a
// group (operator AND/OR, value a list of filters).
type filter struct {
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

func (s *Server) search(w http.ResponseWriter, body []byte) {
	var req struct {
		Query      *filter `json:"query"`
		Pagination struct {
			PerPage int `json:"per_page"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Query == nil {
		writeErrors(w, http.StatusBadRequest, "parameter_not_found", "query is required")
		return
	}
	perPage := req.Pagination.PerPage
	if perPage <= 0 {
		perPage = 50
	}
	if perPage > 150 {
		writeErrors(w, http.StatusBadRequest, "parameter_invalid", "per_page must be at most 150")
		return
	}
	var data []any
	total := 0
	for _, id := range s.order {
		c := s.contacts[id]
		if c.Archived {
			continue // archived contacts are not searchable
		}
		ok, msg := match(c, req.Query, 0)
		if msg != "" {
			writeErrors(w, http.StatusBadRequest, "parameter_invalid", msg)
			return
		}
		if ok {
			total++
			if len(data) < perPage {
				data = append(data, render(c))
			}
		}
	}
	if data == nil {
		data = []any{}
	}
	pages := (total + perPage - 1) / perPage
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "list", "data": data, "total_count": total,
		"pages": map[string]any{"type": "pages", "page": 1, "per_page": perPage, "total_pages": pages},
	})
}

// match evaluates a query on a contact; it returns why the query is
// invalid.
func match(c *Contact, q *filter, depth int) (bool, string) {
	switch q.Operator {
	case "AND", "OR":
		if depth >= 2 {
			return false, "queries nest at most 2 levels"
		}
		var subs []filter
		if err := json.Unmarshal(q.Value, &subs); err != nil || len(subs) == 0 || len(subs) > 15 {
			return false, "an AND/OR query's value must be a list of 1 to 15 filters"
		}
		for i := range subs {
			ok, msg := match(c, &subs[i], depth+1)
			if msg != "" {
				return false, msg
			}
			if ok && q.Operator == "OR" {
				return true, ""
			}
			if !ok && q.Operator == "AND" {
				return false, ""
			}
		}
		return q.Operator == "AND", ""
	case "=", "!=":
	default:
		return false, fmt.Sprintf("operator %q is not supported by the emulator (=, !=, AND, OR are)", q.Operator)
	}
	var want *string
	if err := json.Unmarshal(q.Value, &want); err != nil {
		return false, "value must be a string or null for field " + q.Field
	}
	var got string
	switch q.Field {
	case "id":
		got = c.ID
	case "external_id":
		got = c.ExternalID
	case "email":
		got = c.Email
	case "role":
		got = c.Role
	case "name":
		got = c.Name
	default:
		return false, fmt.Sprintf("field %q is not searchable in the emulator (id, external_id, email, role, name are)", q.Field)
	}
	eq := want == nil && got == "" || want != nil && got == *want
	return eq == (q.Operator == "="), ""
}

func render(c *Contact) map[string]any {
	attrs := c.CustomAttributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return map[string]any{
		"type": "contact", "id": c.ID, "workspace_id": "emulator", "role": c.Role,
		"external_id": nullable(c.ExternalID), "email": c.Email, "name": nullable(c.Name),
		"phone": nullable(c.Phone), "signed_up_at": nullableInt(c.SignedUpAt),
		"custom_attributes": attrs, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func notFound(w http.ResponseWriter) {
	writeErrors(w, http.StatusNotFound, "not_found", "User Not Found")
}

func writeErrors(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"type": "error.list", "request_id": "emulator",
		"errors": []map[string]any{{"code": code, "message": msg}},
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
