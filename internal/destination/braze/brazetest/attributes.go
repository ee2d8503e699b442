package brazetest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CustomAttributePage is how many custom attributes one page of the
// export holds, as Braze documents.
const CustomAttributePage = 50

// PermissionCustomAttributes is the REST API key permission the custom
// attribute export needs.
const PermissionCustomAttributes = "custom_attributes.get"

// CustomAttribute is a custom attribute the workspace knows, as "Export
// custom attributes" lists it.
type CustomAttribute struct {
	Name        string
	DataType    string // String, Number, Boolean, Time, Array, Object
	Status      string // Active (the default) or Blocklisted
	Description string
	ArrayLength *int // the maximum array length of an Array, else nil
	TagNames    []string
}

// WithCustomAttributes sets custom attributes the workspace knows before
// any write; /users/track adds the ones it is sent, as Braze does.
func WithCustomAttributes(attrs ...CustomAttribute) Option {
	return func(s *Server) {
		for _, a := range attrs {
			s.customAttrs[a.Name] = a
		}
	}
}

// WithPermissions restricts the API key to the given permissions
// (users.track, users.delete, custom_attributes.get); by default it has
// all of them. A request the key has no permission for is answered 401.
func WithPermissions(perms ...string) Option {
	return func(s *Server) { s.perms = slices.Clone(perms) }
}

// permitted reports whether the key holds the permission an endpoint
// needs.
func (s *Server) permitted(perm string) bool {
	return s.perms == nil || slices.Contains(s.perms, perm)
}

// standardFields are the attributes object's keys that are profile
// fields or identifiers, not custom attributes.
var standardFields = map[string]bool{
	"external_id": true, "user_alias": true, "braze_id": true, "email": true, "phone": true,
	"_update_existing_only": true, "push_token_import": true,
	"country": true, "current_location": true, "date_of_first_session": true, "date_of_last_session": true,
	"dob": true, "email_subscribe": true, "email_open_tracking_disabled": true, "email_click_tracking_disabled": true,
	"facebook": true, "first_name": true, "gender": true, "home_city": true, "language": true, "last_name": true,
	"marked_email_as_spam_at": true, "push_subscribe": true, "push_tokens": true, "subscription_groups": true,
	"time_zone": true, "twitter": true,
}

// learn records a custom attribute the first time a write sets it, typed
// from its value as Braze infers it.
func (s *Server) learn(name string, v any) {
	if standardFields[name] || v == nil {
		return
	}
	if _, ok := s.customAttrs[name]; ok {
		return
	}
	a := CustomAttribute{Name: name, Status: "Active"}
	switch x := v.(type) {
	case bool:
		a.DataType = "Boolean"
	case float64:
		a.DataType = "Number"
	case []any:
		a.DataType = "Array"
		n := 500 // Braze's default maximum array length
		a.ArrayLength = &n
	case map[string]any:
		a.DataType = "Object"
		if _, isDate := x["$time"]; isDate {
			a.DataType = "Time"
		}
	case string:
		a.DataType = "String"
		if _, err := time.Parse(time.RFC3339, x); err == nil {
			a.DataType = "Time"
		}
	}
	s.customAttrs[name] = a
}

// exportCustomAttributes answers GET /custom_attributes: 50 attributes a
// page in alphabetical order, the next page named by a cursor in the Link
// header's rel="next" link (and the previous by rel="prev").
func (s *Server) exportCustomAttributes(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.customAttrs))
	for n := range s.customAttrs {
		names = append(names, n)
	}
	slices.Sort(names)
	offset := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, ok := decodeCursor(c)
		if !ok || n > len(names) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid cursor"})
			return
		}
		offset = n
	}
	end := min(offset+CustomAttributePage, len(names))
	attrs := make([]map[string]any, 0, end-offset)
	for _, n := range names[offset:end] {
		a := s.customAttrs[n]
		status := a.Status
		if status == "" {
			status = "Active"
		}
		tags := a.TagNames
		if tags == nil {
			tags = []string{}
		}
		attrs = append(attrs, map[string]any{
			"name": a.Name, "data_type": a.DataType, "status": status, "description": a.Description,
			"array_length": a.ArrayLength, "tag_names": tags,
		})
	}
	var links []string
	if offset > 0 {
		links = append(links, `</custom_attributes?cursor=`+encodeCursor(max(offset-CustomAttributePage, 0))+`>; rel="prev"`)
	}
	if end < len(names) {
		links = append(links, `</custom_attributes?cursor=`+encodeCursor(end)+`>; rel="next"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ","))
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "success", "attributes": attrs})
}

// Cursors are opaque to clients; the emulator's hold the offset of the
// page.
func encodeCursor(offset int) string {
	return url.QueryEscape("skip:" + strconv.Itoa(offset))
}

func decodeCursor(c string) (int, bool) {
	rest, ok := strings.CutPrefix(c, "skip:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// CustomAttributes returns the custom attributes the workspace knows, by
// name.
func (s *Server) CustomAttributes() map[string]CustomAttribute {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]CustomAttribute, len(s.customAttrs))
	for n, a := range s.customAttrs {
		a.TagNames = slices.Clone(a.TagNames)
		out[n] = a
	}
	return out
}
