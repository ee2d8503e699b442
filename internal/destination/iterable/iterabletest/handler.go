package iterabletest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBody bounds a request body, as Iterable bounds request sizes.
const maxBody = 4 << 20

type identity struct {
	Email  string `json:"email"`
	UserID string `json:"userId"`
}

// failed is the failedUpdates object of a bulk answer.
type failed struct {
	InvalidEmails    []string `json:"invalidEmails,omitempty"`
	InvalidUserIDs   []string `json:"invalidUserIds,omitempty"`
	NotFoundEmails   []string `json:"notFoundEmails,omitempty"`
	NotFoundUserIDs  []string `json:"notFoundUserIds,omitempty"`
	ConflictEmails   []string `json:"conflictEmails,omitempty"`
	ConflictUserIDs  []string `json:"conflictUserIds,omitempty"`
	ForgottenEmails  []string `json:"forgottenEmails,omitempty"`
	ForgottenUserIDs []string `json:"forgottenUserIds,omitempty"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Header.Get("Api-Key") != s.apiKey {
		writeMsg(w, http.StatusUnauthorized, "Invalid API key", "BadApiKey")
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
		writeMsg(w, status, "emulated failure", "GenericError")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeMsg(w, http.StatusRequestEntityTooLarge, "request body too large", "BatchTooLarge")
		return
	}
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == "/api/users/getFields":
		writeJSON(w, http.StatusOK, map[string]any{"fields": s.fields})
	case r.Method == http.MethodGet && path == "/api/lists":
		s.getLists(w)
	case r.Method == http.MethodPost && path == "/api/users/bulkUpdate":
		s.bulkUpdate(w, body)
	case r.Method == http.MethodPost && (path == "/api/lists/subscribe" || path == "/api/lists/unsubscribe"):
		s.subscription(w, body, path == "/api/lists/subscribe")
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/api/users/byUserId/"):
		s.delete(w, "", strings.TrimPrefix(path, "/api/users/byUserId/"))
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/api/users/"):
		s.delete(w, strings.TrimPrefix(path, "/api/users/"), "")
	default:
		writeMsg(w, http.StatusNotFound, "Not found: "+r.Method+" "+r.URL.Path, "NotFound")
	}
}

func (s *Server) bulkUpdate(w http.ResponseWriter, body []byte) {
	var req struct {
		Users []struct {
			identity
			DataFields   map[string]any `json:"dataFields"`
			PreferUserID bool           `json:"preferUserId"`
		} `json:"users"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeMsg(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error(), "BadJsonBody")
		return
	}
	if len(req.Users) == 0 || len(req.Users) > MaxBatchUsers {
		writeMsg(w, http.StatusBadRequest, fmt.Sprintf("users must hold 1 to %d users", MaxBatchUsers), "BadParams")
		return
	}
	var f failed
	ok := 0
	for _, u := range req.Users {
		switch {
		case u.Email == "" && u.UserID == "":
			f.InvalidEmails = append(f.InvalidEmails, "")
			continue
		case u.Email != "" && !validEmail(u.Email):
			f.InvalidEmails = append(f.InvalidEmails, u.Email)
			continue
		}
		user := s.find(u.Email, u.UserID)
		if user == nil {
			user = &User{Email: u.Email, UserID: u.UserID, DataFields: map[string]any{}}
			s.users = append(s.users, user)
		}
		if u.Email == "" {
			// Matched by userId: keep any email the user has.
		} else if u.UserID != "" {
			user.UserID = u.UserID
		}
		for k, v := range u.DataFields {
			user.DataFields[k] = v
			s.learn(k, v)
		}
		ok++
	}
	writeJSON(w, http.StatusOK, bulkAnswer(ok, f))
}

func (s *Server) subscription(w http.ResponseWriter, body []byte, subscribe bool) {
	var req struct {
		ListID      *int       `json:"listId"`
		Subscribers []identity `json:"subscribers"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeMsg(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error(), "BadJsonBody")
		return
	}
	if req.ListID == nil {
		writeMsg(w, http.StatusBadRequest, "listId is required", "BadParams")
		return
	}
	members, exists := s.lists[*req.ListID]
	if !exists {
		writeMsg(w, http.StatusBadRequest, fmt.Sprintf("List %d does not exist", *req.ListID), "BadParams")
		return
	}
	if t := s.listInfo[*req.ListID].Type; t != "Standard" {
		writeMsg(w, http.StatusBadRequest, fmt.Sprintf("List %d is a %s list; only static lists take subscribers", *req.ListID, t), "BadParams")
		return
	}
	if len(req.Subscribers) > MaxBatchUsers {
		writeMsg(w, http.StatusBadRequest, fmt.Sprintf("at most %d subscribers per request", MaxBatchUsers), "BadParams")
		return
	}
	var f failed
	ok := 0
	for _, sub := range req.Subscribers {
		if sub.Email != "" && !validEmail(sub.Email) || sub.Email == "" && sub.UserID == "" {
			f.InvalidEmails = append(f.InvalidEmails, sub.Email)
			continue
		}
		u := s.find(sub.Email, sub.UserID)
		switch {
		case u == nil && !subscribe:
			if sub.Email != "" {
				f.NotFoundEmails = append(f.NotFoundEmails, sub.Email)
			} else {
				f.NotFoundUserIDs = append(f.NotFoundUserIDs, sub.UserID)
			}
			continue
		case u == nil && sub.Email == "":
			// Subscribing by userId needs an existing user.
			f.NotFoundUserIDs = append(f.NotFoundUserIDs, sub.UserID)
			continue
		case u == nil:
			u = &User{Email: sub.Email, DataFields: map[string]any{}}
			s.users = append(s.users, u)
		}
		if subscribe {
			members[u] = true
		} else {
			delete(members, u)
		}
		ok++
	}
	writeJSON(w, http.StatusOK, bulkAnswer(ok, f))
}

func (s *Server) delete(w http.ResponseWriter, escapedEmail, escapedUserID string) {
	email, err1 := url.PathUnescape(escapedEmail)
	userID, err2 := url.PathUnescape(escapedUserID)
	if err1 != nil || err2 != nil || (email == "" && userID == "") {
		writeMsg(w, http.StatusBadRequest, "invalid user identifier in path", "BadParams")
		return
	}
	u := s.find(email, userID)
	if u == nil {
		writeMsg(w, http.StatusNotFound, "User does not exist", "NotFound")
		return
	}
	s.remove(u)
	writeMsg(w, http.StatusOK, "User deleted", "Success")
}

// learn adds a data field first written by bulkUpdate to the project's
// fields, typed from its value, as Iterable does; known fields keep their
// type.
func (s *Server) learn(name string, v any) {
	if _, ok := s.fields[name]; ok {
		return
	}
	if s.fields == nil {
		s.fields = map[string]string{}
	}
	s.fields[name] = fieldType(v)
}

func fieldType(v any) string {
	switch v := v.(type) {
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "long"
		}
		return "double"
	case map[string]any:
		return "object"
	case []any:
		if len(v) > 0 {
			if _, ok := v[0].(map[string]any); ok {
				return "nested"
			}
			return fieldType(v[0])
		}
	}
	return "string"
}

func bulkAnswer(ok int, f failed) map[string]any {
	n := len(f.InvalidEmails) + len(f.InvalidUserIDs) + len(f.NotFoundEmails) + len(f.NotFoundUserIDs)
	return map[string]any{"successCount": ok, "failCount": n, "failedUpdates": f}
}

func validEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	return at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " \t")
}

// allow counts the request against the fixed window.
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
	writeMsg(w, http.StatusTooManyRequests, "Rate limit exceeded", "RateLimitExceeded")
}

func writeMsg(w http.ResponseWriter, status int, msg, code string) {
	writeJSON(w, status, map[string]any{"msg": msg, "code": code, "params": nil})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// getLists answers GET /api/lists: every list, unpaged, in the order the
// lists were made, createdAt in epoch milliseconds.
func (s *Server) getLists(w http.ResponseWriter) {
	lists := make([]map[string]any, 0, len(s.listOrder))
	for _, id := range s.listOrder {
		l := s.listInfo[id]
		lists = append(lists, map[string]any{"id": l.ID, "name": l.Name, "listType": l.Type, "createdAt": l.created.UnixMilli()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": lists})
}
