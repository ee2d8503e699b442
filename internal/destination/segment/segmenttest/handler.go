package segmenttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// message is the part of a Segment call the emulator reads.
type message struct {
	Type        string         `json:"type"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	Event       string         `json:"event"`
	Traits      map[string]any `json:"traits"`
	Properties  map[string]any `json:"properties"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
}

type batchRequest struct {
	Batch    []json.RawMessage `json:"batch"`
	WriteKey string            `json:"writeKey"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++

	if r.URL.Path != "/v1/batch" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]any{"success": false, "message": "not found: " + r.Method + " " + r.URL.Path})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": "content-type must be application/json"})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": "read body: " + err.Error()})
		return
	}
	if len(data) > MaxBody {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": fmt.Sprintf("payload too large: a batch request may be at most %d bytes", MaxBody)})
		return
	}
	var req batchRequest
	if err := json.Unmarshal(data, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": "invalid JSON: " + err.Error()})
		return
	}
	if s.revoked || s.key(r, req.WriteKey) != s.writeKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"success": false, "message": "invalid write key"})
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		if status == http.StatusTooManyRequests {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(time.Second).UnixMilli(), 10))
			writeJSON(w, status, map[string]any{"success": false, "message": "too many requests"})
			return
		}
		writeJSON(w, status, map[string]any{"success": false, "message": http.StatusText(status)})
		return
	}
	for _, raw := range req.Batch {
		if len(bytes.TrimSpace(raw)) > MaxEvent {
			writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": fmt.Sprintf("payload too large: an event may be at most %d bytes", MaxEvent)})
			return
		}
	}
	for i, raw := range req.Batch {
		var m message
		if err := json.Unmarshal(raw, &m); err != nil {
			s.rejected = append(s.rejected, Rejected{Reason: "invalid event: " + err.Error()})
			continue
		}
		if i >= MaxEvents {
			s.rejected = append(s.rejected, Rejected{MessageID: m.MessageID, Reason: fmt.Sprintf("batch has more than %d events", MaxEvents)})
			continue
		}
		if reason := s.accept(m); reason != "" {
			s.rejected = append(s.rejected, Rejected{MessageID: m.MessageID, Reason: reason})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// key is the write key of a request: the Basic auth user name, or the body's
// writeKey (Segment's libraries send it there).
func (s *Server) key(r *http.Request, bodyKey string) string {
	if user, _, ok := r.BasicAuth(); ok {
		return user
	}
	return bodyKey
}

// accept applies one call, returning why Segment would drop it, if it would.
func (s *Server) accept(m message) string {
	switch {
	case m.UserID == "" && m.AnonymousID == "":
		return "no_user_anon_id: the event has neither userId nor anonymousId"
	case len(m.MessageID) >= 100:
		return "messageId must be under 100 characters"
	case m.Type != "identify" && m.Type != "track":
		return "unsupported type " + strconv.Quote(m.Type) + " (the emulator takes identify and track)"
	case m.Type == "track" && m.Event == "":
		return "track event is missing its event name"
	}
	if m.MessageID != "" {
		if s.seen[m.MessageID] {
			return "" // a duplicate: Segment drops it silently
		}
		s.seen[m.MessageID] = true
	}
	s.calls++
	id := m.UserID
	if id == "" {
		id = "anonymous:" + m.AnonymousID
	}
	if m.Type == "identify" {
		if s.profiles[id] == nil {
			s.profiles[id] = map[string]any{}
		}
		maps.Copy(s.profiles[id], m.Traits)
		return ""
	}
	s.events = append(s.events, Event{UserID: id, Event: m.Event, Properties: m.Properties, MessageID: m.MessageID, Timestamp: m.Timestamp})
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
