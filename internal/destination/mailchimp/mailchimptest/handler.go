package mailchimptest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// lower is how Mailchimp compares email addresses: case-insensitively.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Hash is a member's subscriber hash: the MD5 of the lowercased email.
func Hash(email string) string {
	sum := md5.Sum([]byte(lower(email)))
	return hex.EncodeToString(sum[:])
}

var (
	listPath   = regexp.MustCompile(`^/3\.0/lists/([^/]+)$`)
	memberPath = regexp.MustCompile(`^/3\.0/lists/([^/]+)/members/([^/]+)$`)
	// emailRE is the emulator's stand-in for Mailchimp's address check:
	// a local part, an @ and a dotted domain.
	emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$`)
)

var validStatus = map[string]bool{"subscribed": true, "unsubscribed": true, "cleaned": true, "pending": true, "transactional": true}

// problem writes Mailchimp's error body, RFC 7807 problem details.
func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":     "https://mailchimp.com/developer/marketing/docs/errors/",
		"title":    title,
		"status":   status,
		"detail":   detail,
		"instance": "00000000-0000-0000-0000-000000000000",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	over := s.inFlight > MaxConnections
	var fault int
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if _, key, ok := r.BasicAuth(); !ok || key != s.apiKey {
		problem(w, http.StatusUnauthorized, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
		return
	}
	if over {
		problem(w, http.StatusTooManyRequests, "Too Many Requests", fmt.Sprintf("You have exceeded the limit of %d simultaneous connections.", MaxConnections))
		return
	}
	if fault != 0 {
		if fault == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			problem(w, fault, "Too Many Requests", fmt.Sprintf("You have exceeded the limit of %d simultaneous connections.", MaxConnections))
			return
		}
		problem(w, fault, http.StatusText(fault), "injected fault")
		return
	}
	switch {
	case r.URL.Path == "/3.0/ping" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"health_status": "Everything's Chimpy!"})
	case listPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		s.batch(w, r, listPath.FindStringSubmatch(r.URL.Path)[1])
	case r.URL.Path == "/3.0/lists" && r.Method == http.MethodGet:
		s.listLists(w, r)
	case mergeFieldsPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		s.listMergeFields(w, r, mergeFieldsPath.FindStringSubmatch(r.URL.Path)[1])
	case memberPath.MatchString(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		m := memberPath.FindStringSubmatch(r.URL.Path)
		s.member(w, r, m[1], m[2])
	default:
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
	}
}

type batchMember struct {
	EmailAddress string         `json:"email_address"`
	Status       string         `json:"status"`
	StatusIfNew  string         `json:"status_if_new"`
	MergeFields  map[string]any `json:"merge_fields"`
	Tags         []string       `json:"tags"`
}

// batch is batch subscribe or unsubscribe list members.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, listID string) {
	var body struct {
		Members        []batchMember `json:"members"`
		UpdateExisting bool          `json:"update_existing"`
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The request body could not be read.")
		return
	}
	if err := json.Unmarshal(data, &body); err != nil {
		problem(w, http.StatusBadRequest, "JSON Parse Error", "We encountered an unspecified JSON parsing error.")
		return
	}
	if len(body.Members) > MaxMembers {
		problem(w, http.StatusBadRequest, "Invalid Resource", fmt.Sprintf("The resource submitted could not be validated: members may hold at most %d items.", MaxMembers))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.lists[listID]
	if !ok {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	created, updated := []map[string]any{}, []map[string]any{}
	errs := []map[string]string{}
	seen := map[string]bool{}
	fail := func(email, msg, code string) {
		errs = append(errs, map[string]string{"email_address": email, "error": msg, "error_code": code})
	}
	for _, bm := range body.Members {
		email := strings.TrimSpace(bm.EmailAddress)
		switch {
		case !emailRE.MatchString(email):
			fail(email, email+" looks fake or invalid, please enter a real email address.", "ERROR_GENERIC")
			continue
		case seen[lower(email)]:
			fail(email, email+" is a duplicate in this request.", "ERROR_DUPLICATE")
			continue
		case bm.Status != "" && !validStatus[bm.Status], bm.StatusIfNew != "" && !validStatus[bm.StatusIfNew]:
			fail(email, "Invalid status for "+email+".", "ERROR_GENERIC")
			continue
		}
		if bad := badMergeField(bm.MergeFields); bad != "" {
			fail(email, bad, "ERROR_GENERIC")
			continue
		}
		seen[lower(email)] = true
		h := Hash(email)
		m, exists := list[h]
		if exists && !body.UpdateExisting {
			fail(email, email+" is already a list member, do you want to update? please provide update_existing:true in the request body", "ERROR_CONTACT_EXISTS")
			continue
		}
		if !exists || m.Status == "archived" {
			status := bm.Status
			if status == "" {
				status = bm.StatusIfNew
			}
			if status == "" {
				fail(email, "Status is required for new members.", "ERROR_GENERIC")
				continue
			}
			if !exists {
				m = &Member{ID: h, EmailAddress: email, MergeFields: map[string]any{}}
				list[h] = m
			}
			m.Status = status
		} else if bm.Status != "" {
			m.Status = bm.Status
		}
		for k, v := range bm.MergeFields {
			m.MergeFields[k] = v
		}
		for _, t := range bm.Tags {
			if !contains(m.Tags, t) {
				m.Tags = append(m.Tags, t)
			}
		}
		m.LastChanged = s.now().UTC()
		if exists {
			updated = append(updated, m.json(listID))
		} else {
			created = append(created, m.json(listID))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"new_members":     created,
		"updated_members": updated,
		"errors":          errs,
		"total_created":   len(created),
		"total_updated":   len(updated),
		"error_count":     len(errs),
	})
}

// badMergeField stands in for Mailchimp's merge field validation: merge
// tags are up to 10 letters, digits or underscores, and text values up to
// 255 characters.
func badMergeField(fields map[string]any) string {
	for k, v := range fields {
		if len(k) == 0 || len(k) > 10 || strings.ContainsFunc(k, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
		}) {
			return fmt.Sprintf("Your merge fields were invalid: %s is not a valid merge tag.", k)
		}
		if t, ok := v.(string); ok && len([]rune(t)) > 255 {
			return fmt.Sprintf("Your merge fields were invalid: %s must be at most 255 characters.", k)
		}
	}
	return ""
}

// member is get and archive a list member.
func (s *Server) member(w http.ResponseWriter, r *http.Request, listID, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.lists[listID]
	if !ok {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	m, ok := list[strings.ToLower(hash)]
	if !ok {
		// The API also takes an email address in place of the hash.
		m, ok = list[Hash(hash)]
	}
	if !ok || (r.Method == http.MethodDelete && m.Status == "archived") {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, m.json(listID))
		return
	}
	s.archives++
	m.Status = "archived"
	m.LastChanged = s.now().UTC()
	w.WriteHeader(http.StatusNoContent)
}

func (m *Member) json(listID string) map[string]any {
	tags := make([]map[string]any, 0, len(m.Tags))
	for i, t := range m.Tags {
		tags = append(tags, map[string]any{"id": i + 1, "name": t})
	}
	return map[string]any{
		"id":            m.ID,
		"email_address": m.EmailAddress,
		"status":        m.Status,
		"merge_fields":  m.MergeFields,
		"tags":          tags,
		"tags_count":    len(tags),
		"list_id":       listID,
		"last_changed":  m.LastChanged.Format("2006-01-02T15:04:05+00:00"),
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
