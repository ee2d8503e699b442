package brazetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"time"
)

// minorError is an element of a response's errors.
type minorError struct {
	Type       string `json:"type"`
	InputArray string `json:"input_array,omitempty"`
	Index      *int   `json:"index,omitempty"`
}

type alias struct {
	Name  string `json:"alias_name"`
	Label string `json:"alias_label"`
}

const noData = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++

	if r.Header.Get("Authorization") != "Bearer "+s.key || s.revoked {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid API key"})
		return
	}
	perm := map[string]string{"POST /users/track": "users.track", "POST /users/delete": "users.delete",
		"GET /custom_attributes": PermissionCustomAttributes}[r.Method+" "+r.URL.Path]
	if perm == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found: " + r.Method + " " + r.URL.Path})
		return
	}
	if !s.permitted(perm) {
		// The emulator's wording: Braze's reference does not quote the
		// answer to a key lacking the endpoint's permission.
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "The API key does not have access to this endpoint"})
		return
	}
	// The export has its own quota (1,000 an hour, shared with other
	// export endpoints), not /users/track's: the emulator does not count
	// it against the limit.
	if r.URL.Path != "/custom_attributes" && !s.allow(w) {
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		if status == http.StatusTooManyRequests {
			s.tooMany(w)
			return
		}
		writeJSON(w, status, map[string]any{"message": "Internal server error"})
		return
	}
	switch r.URL.Path {
	case "/custom_attributes":
		s.exportCustomAttributes(w, r)
	case "/users/track":
		s.track(w, r)
	default:
		s.delete(w, r)
	}
}

// allow counts the request against the fixed window and answers 429 when
// the window's requests are spent. Every answer carries the headers.
func (s *Server) allow(w http.ResponseWriter) bool {
	if s.limits.Requests <= 0 || s.limits.Per <= 0 {
		return true
	}
	now := s.now()
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.limits.Per)) {
		s.windowStart = now.Truncate(s.limits.Per)
		s.windowCount = 0
	}
	s.rateHeaders(w)
	if s.windowCount >= s.limits.Requests {
		s.tooMany(w)
		return false
	}
	s.windowCount++
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(s.limits.Requests-s.windowCount))
	return true
}

func (s *Server) rateHeaders(w http.ResponseWriter) {
	limit, reset := s.limits.Requests, s.windowStart.Add(s.limits.Per)
	if limit <= 0 {
		limit, reset = 3000, s.now().Add(time.Second)
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-s.windowCount)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
}

// ceilUnix is t in epoch seconds, rounded up so a client waiting until it
// never comes back early.
func ceilUnix(t time.Time) int64 {
	if t.Truncate(time.Second).Equal(t) {
		return t.Unix()
	}
	return t.Unix() + 1
}

func (s *Server) tooMany(w http.ResponseWriter) {
	s.rateHeaders(w)
	w.Header().Set("X-RateLimit-Remaining", "0")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "API rate limit exceeded"})
}

func (s *Server) track(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Attributes []map[string]json.RawMessage `json:"attributes"`
		Events     []json.RawMessage            `json:"events"`
		Purchases  []json.RawMessage            `json:"purchases"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid JSON in request body: " + err.Error()})
		return
	}
	if n := len(req.Attributes) + len(req.Events) + len(req.Purchases); n == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": noData})
		return
	} else if n > MaxTrackObjects {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": fmt.Sprintf("Too many objects: %d given, at most %d attributes, events and purchases are allowed per request", n, MaxTrackObjects)})
		return
	}
	var errs []minorError
	processed := 0
	for i, obj := range req.Attributes {
		msg, ok := s.apply(obj)
		if !ok {
			errs = append(errs, minorError{Type: msg, InputArray: "attributes", Index: &i})
			continue
		}
		processed++
	}
	if processed == 0 && len(req.Events)+len(req.Purchases) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": noData, "errors": errs})
		return
	}
	body := map[string]any{"message": "success", "attributes_processed": processed}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusCreated, body)
}

// apply validates one attributes object and writes it to its profile. It
// returns the non-fatal error's type when it refuses the object.
func (s *Server) apply(obj map[string]json.RawMessage) (string, bool) {
	attrs := map[string]any{}
	for k, raw := range obj {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Sprintf("'%s' is not valid", k), false
		}
		attrs[k] = v
	}
	updateOnly := false
	if v, ok := attrs["_update_existing_only"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return "'_update_existing_only' must be a boolean", false
		}
		updateOnly = b
	}
	var u *User
	var al *alias
	externalID, hasExt := attrs["external_id"].(string)
	email, hasEmail := attrs["email"].(string)
	switch {
	case hasExt && externalID != "":
		u = s.byExternalID(externalID)
	case attrs["user_alias"] != nil:
		if err := json.Unmarshal(obj["user_alias"], &al); err != nil || al.Name == "" || al.Label == "" {
			return "'user_alias' must have a non-empty alias_name and alias_label", false
		}
		if _, set := attrs["_update_existing_only"]; !set {
			updateOnly = true // Braze's default for aliases
		}
		u = s.byAlias(al.Label, al.Name)
	case hasEmail && email != "":
		u = s.byEmail(email)
	default:
		return "Missing identifier: one of 'external_id', 'user_alias', 'braze_id', 'email' or 'phone' is required", false
	}
	if msg, ok := validate(attrs); !ok {
		return msg, false
	}
	if u == nil {
		if updateOnly {
			return "", true // update-only: nothing to update, nothing created
		}
		u = s.create()
		if al != nil {
			u.Aliases[al.Label] = al.Name
		}
	}
	for k, v := range attrs {
		switch k {
		case "_update_existing_only", "user_alias", "braze_id", "push_token_import":
			continue
		}
		s.set(u, k, v)
		s.learn(k, v)
	}
	u.UpdatedAt = s.now().UTC()
	return "", true
}

// validate checks the profile fields whose formats Braze defines.
func validate(attrs map[string]any) (string, bool) {
	if v, ok := attrs["email"]; ok && v != nil {
		e, isStr := v.(string)
		if a, err := mail.ParseAddress(e); !isStr || err != nil || a.Address != e {
			return fmt.Sprintf("'email' is not a valid email address: %v", v), false
		}
	}
	if v, ok := attrs["dob"]; ok && v != nil {
		d, isStr := v.(string)
		if _, err := time.Parse(time.DateOnly, d); !isStr || err != nil {
			return "'dob' must be a date in YYYY-MM-DD format", false
		}
	}
	if v, ok := attrs["gender"]; ok && v != nil {
		switch v {
		case "M", "F", "O", "N", "P", "U":
		default:
			return "'gender' must be one of M, F, O, N, P, U", false
		}
	}
	return "", true
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ExternalIDs    []string `json:"external_ids"`
		UserAliases    []alias  `json:"user_aliases"`
		BrazeIDs       []string `json:"braze_ids"`
		EmailAddresses []string `json:"email_addresses"`
		PhoneNumbers   []string `json:"phone_numbers"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid JSON in request body: " + err.Error()})
		return
	}
	kinds, n := 0, 0
	for _, l := range []int{len(req.ExternalIDs), len(req.UserAliases), len(req.BrazeIDs), len(req.EmailAddresses), len(req.PhoneNumbers)} {
		if l > 0 {
			kinds++
			n += l
		}
	}
	switch {
	case kinds == 0:
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "One of external_ids, user_aliases, braze_ids, email_addresses or phone_numbers is required"})
		return
	case kinds > 1:
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Only one of external_ids, user_aliases, braze_ids, email_addresses or phone_numbers may be given in a request"})
		return
	case n > MaxDeleteUsers:
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": fmt.Sprintf("Too many users: %d given, at most %d are allowed per request", n, MaxDeleteUsers)})
		return
	}
	deleted := 0
	drop := func(u *User) {
		if u != nil {
			delete(s.users, u.BrazeID)
			deleted++
		}
	}
	for _, id := range req.ExternalIDs {
		drop(s.byExternalID(id))
	}
	for _, a := range req.UserAliases {
		drop(s.byAlias(a.Label, a.Name))
	}
	for _, id := range req.BrazeIDs {
		drop(s.users[id])
	}
	for _, e := range req.EmailAddresses {
		// Every profile with the address goes, as Braze documents.
		for u := s.byEmail(e); u != nil; u = s.byEmail(e) {
			drop(u)
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"message": "success", "deleted": deleted})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
