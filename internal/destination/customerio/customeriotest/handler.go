package customeriotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// entryError is an element of a 207 answer's errors: the refused entry by
// its index in the batch, why, and which field.
type entryError struct {
	BatchIndex *int   `json:"batch_index,omitempty"`
	Reason     string `json:"reason"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
}

type entry struct {
	Type        string                     `json:"type"`
	Identifiers map[string]json.RawMessage `json:"identifiers"`
	Action      string                     `json:"action"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++

	if site, key, ok := r.BasicAuth(); !ok || site != s.siteID || key != s.apiKey || s.revoked {
		writeJSON(w, http.StatusUnauthorized, meta("Unauthorized request"))
		return
	}
	v1ID, isV1 := strings.CutPrefix(r.URL.EscapedPath(), "/api/v1/customers/")
	switch {
	case r.URL.Path == "/api/v2/batch" && r.Method == http.MethodPost:
	case isV1 && v1ID != "" && !strings.Contains(v1ID, "/") && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
	default:
		writeJSON(w, http.StatusNotFound, meta("Not found: "+r.Method+" "+r.URL.Path))
		return
	}
	if !s.allow(w) {
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		if status == http.StatusTooManyRequests {
			tooMany(w)
			return
		}
		writeJSON(w, status, meta("Internal server error"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatchBytes+1))
	if err != nil || len(body) > MaxBatchBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []entryError{{Reason: "too_large", Message: fmt.Sprintf("request body exceeds %d bytes", MaxBatchBytes)}}})
		return
	}
	if isV1 {
		s.v1(w, r, v1ID, body)
		return
	}
	s.batch(w, body)
}

// allow counts the request against the fixed window and answers 429 when
// the window's requests are spent.
func (s *Server) allow(w http.ResponseWriter) bool {
	if s.limit.Requests <= 0 || s.limit.Per <= 0 {
		return true
	}
	now := s.now()
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.limit.Per)) {
		s.windowStart = now.Truncate(s.limit.Per)
		s.windowCount = 0
	}
	if s.windowCount >= s.limit.Requests {
		tooMany(w)
		return false
	}
	s.windowCount++
	return true
}

func tooMany(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(1))
	writeJSON(w, http.StatusTooManyRequests, meta("Too many requests"))
}

func (s *Server) batch(w http.ResponseWriter, body []byte) {
	var req struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []entryError{{Reason: "invalid", Message: "invalid JSON: " + err.Error()}}})
		return
	}
	if len(req.Batch) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []entryError{{Reason: "required", Field: "batch", Message: "batch must hold at least one entry"}}})
		return
	}
	var errs []entryError
	for i, raw := range req.Batch {
		if e := s.apply(raw); e != nil {
			e.BatchIndex = &i
			errs = append(errs, *e)
		}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusMultiStatus, map[string]any{"errors": errs})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// apply validates one batch entry and carries it out; it returns why it
// refused the entry.
func (s *Server) apply(raw json.RawMessage) *entryError {
	if len(raw) > MaxEntryBytes {
		return &entryError{Reason: "too_large", Message: fmt.Sprintf("entry exceeds %d bytes", MaxEntryBytes)}
	}
	var e entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&e); err != nil {
		return &entryError{Reason: "invalid", Message: "invalid entry: " + err.Error()}
	}
	if e.Type != "person" {
		return &entryError{Reason: "invalid", Field: "type", Message: fmt.Sprintf("type %q is not supported by the emulator (person is)", e.Type)}
	}
	if len(e.Identifiers) != 1 {
		return &entryError{Reason: "required", Field: "identifiers", Message: "identifiers must hold exactly one of id, email or cio_id"}
	}
	var kind, value string
	for k, v := range e.Identifiers {
		kind = k
		if json.Unmarshal(v, &value) != nil || value == "" {
			return &entryError{Reason: "invalid", Field: "identifiers." + k, Message: k + " must be a non-empty string"}
		}
	}
	if kind != "id" && kind != "email" && kind != "cio_id" {
		return &entryError{Reason: "invalid", Field: "identifiers", Message: fmt.Sprintf("identifier %q is not one of id, email, cio_id", kind)}
	}
	if len(value) > MaxIDBytes {
		return &entryError{Reason: "too_long", Field: "identifiers." + kind, Message: fmt.Sprintf("%s cannot be longer than %d bytes", kind, MaxIDBytes)}
	}
	p := s.find(kind, value)
	switch e.Action {
	case "delete":
		if p != nil {
			delete(s.people, p.CioID)
		}
		return nil
	case "identify":
	default:
		return &entryError{Reason: "invalid", Field: "action", Message: fmt.Sprintf("action %q is not supported by the emulator (identify, delete are)", e.Action)}
	}
	attrs, msg := decodeAttributes(e.Attributes)
	if msg != "" {
		return &entryError{Reason: "invalid", Field: "attributes", Message: msg}
	}
	if p == nil {
		if kind == "cio_id" {
			return &entryError{Reason: "not_found", Field: "identifiers.cio_id", Message: "no person has cio_id " + value}
		}
		p = s.create()
		s.set(p, kind, value)
	}
	s.update(p, attrs)
	return nil
}

// decodeAttributes checks the documented identify limits and decodes the
// values; it returns the first limit broken.
func decodeAttributes(raw map[string]json.RawMessage) (map[string]any, string) {
	if len(raw) > MaxAttributes {
		return nil, fmt.Sprintf("cannot identify more than %d attributes in one request", MaxAttributes)
	}
	out := make(map[string]any, len(raw))
	for k, r := range raw {
		if len(k) > MaxNameBytes {
			return nil, fmt.Sprintf("attribute name cannot be longer than %d bytes", MaxNameBytes)
		}
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Sprintf("value for attribute '%s' is not valid JSON", k)
		}
		if str, ok := v.(string); (ok && len(str) > MaxValueBytes) || (!ok && len(r) > MaxValueBytes) {
			return nil, fmt.Sprintf("value for attribute '%s' cannot be longer than %d bytes", k, MaxValueBytes)
		}
		out[k] = v
	}
	return out, ""
}

func (s *Server) update(p *Person, attrs map[string]any) {
	for k, v := range attrs {
		s.set(p, k, v)
	}
	p.UpdatedAt = s.now().UTC()
}

// v1 serves the v1 calls the official client makes: PUT (identify) and
// DELETE of /api/v1/customers/{identifier}. A path identifier holding @ is
// an email, one starting cio_ a cio_id, as the reference describes.
func (s *Server) v1(w http.ResponseWriter, r *http.Request, escaped string, body []byte) {
	value, err := url.PathUnescape(escaped)
	if err != nil || len(value) > MaxIDBytes {
		writeJSON(w, http.StatusBadRequest, meta(fmt.Sprintf("id cannot be longer than %d bytes", MaxIDBytes)))
		return
	}
	kind := "id"
	switch {
	case strings.HasPrefix(value, "cio_"):
		kind, value = "cio_id", strings.TrimPrefix(value, "cio_")
	case strings.Contains(value, "@"):
		kind = "email"
	}
	p := s.find(kind, value)
	if r.Method == http.MethodDelete {
		if p != nil {
			delete(s.people, p.CioID)
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	var raw map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &raw); err != nil {
			writeJSON(w, http.StatusBadRequest, meta("invalid JSON: "+err.Error()))
			return
		}
	}
	attrs, msg := decodeAttributes(raw)
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, meta(msg))
		return
	}
	if p == nil {
		if kind == "cio_id" {
			writeJSON(w, http.StatusNotFound, meta("no person has cio_id "+value))
			return
		}
		p = s.create()
		s.set(p, kind, value)
	}
	s.update(p, attrs)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func meta(msg string) map[string]any { return map[string]any{"meta": map[string]any{"error": msg}} }

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
