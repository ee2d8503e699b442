package mailchimptest

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
)

// MergeField is one merge field of an audience, as GET
// /3.0/lists/{list_id}/merge-fields lists it.
type MergeField struct {
	Tag      string // merge tag, e.g. FNAME
	Name     string
	Type     string // text, number, address, phone, date, url, imageurl, radio, dropdown, birthday or zip
	Required bool
	Public   bool
}

// DefaultMergeFields returns the merge fields Mailchimp gives a new
// audience, plus PLAN, a custom text field.
func DefaultMergeFields() []MergeField {
	return []MergeField{
		{Tag: "FNAME", Name: "First Name", Type: "text", Public: true},
		{Tag: "LNAME", Name: "Last Name", Type: "text", Public: true},
		{Tag: "ADDRESS", Name: "Address", Type: "address", Public: true},
		{Tag: "PHONE", Name: "Phone Number", Type: "phone", Public: true},
		{Tag: "BIRTHDAY", Name: "Birthday", Type: "birthday", Public: true},
		{Tag: "PLAN", Name: "Plan", Type: "text"},
	}
}

// WithMergeFields sets the merge fields every audience lists (default
// DefaultMergeFields). Batch subscribe does not check merge tags against
// them. WithMergeFields() lists none.
func WithMergeFields(fields ...MergeField) Option {
	return func(s *Server) { s.mergeFields = slices.Clone(fields) }
}

var mergeFieldsPath = regexp.MustCompile(`^/3\.0/lists/([^/]+)/merge-fields$`)

// listMergeFields is list merge fields: count (default 10, at most 1000)
// and offset page through them, total_items counts them all.
func (s *Server) listMergeFields(w http.ResponseWriter, r *http.Request, listID string) {
	count, offset, ok := paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	_, ok = s.lists[listID]
	all := s.mergeFields
	s.mu.Unlock()
	if !ok {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	page := []map[string]any{}
	for i := offset; i < len(all) && i < offset+count; i++ {
		f := all[i]
		page = append(page, map[string]any{
			"merge_id": i + 1, "tag": f.Tag, "name": f.Name, "type": f.Type,
			"required": f.Required, "default_value": "", "public": f.Public,
			"display_order": i + 2, "list_id": listID,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"merge_fields": page, "list_id": listID, "total_items": len(all)})
}

// paging reads count (default 10, at most 1000) and offset, the Marketing
// API's paging of collections; a bad value is answered 400 and ok is
// false.
func paging(w http.ResponseWriter, r *http.Request) (count, offset int, ok bool) {
	count = 10
	for name, dst := range map[string]*int{"count": &count, "offset": &offset} {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || name == "count" && n > 1000 {
			problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated: "+name+" must be a number (count at most 1000).")
			return 0, 0, false
		}
		*dst = n
	}
	return count, offset, true
}

// listLists is get lists info: the audiences in the order they were
// given, paged by count and offset, total_items counting them all.
func (s *Server) listLists(w http.ResponseWriter, r *http.Request) {
	count, offset, ok := paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := []map[string]any{}
	for i := offset; i < len(s.listIDs) && i < offset+count; i++ {
		id := s.listIDs[i]
		name, ok := s.listNames[id]
		if !ok {
			name = "Audience " + id
		}
		page = append(page, map[string]any{"id": id, "web_id": i + 1, "name": name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": page, "total_items": len(s.listIDs)})
}
