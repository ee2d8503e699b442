package intercomtest

import (
	"net/http"
	"net/url"
	"slices"
)

// DataAttribute is one entry of the data attributes list (GET
// /data_attributes), in Intercom's field names.
type DataAttribute struct {
	Name        string `json:"name"`
	FullName    string `json:"full_name"`
	Label       string `json:"label"`
	DataType    string `json:"data_type"` // string, integer, float, boolean, date
	APIWritable bool   `json:"api_writable"`
	Custom      bool   `json:"custom"`
	Archived    bool   `json:"archived"`
}

// Custom returns a custom contact attribute, full_name
// custom_attributes.<name>, writable through the API.
func Custom(name, dataType string) DataAttribute {
	return DataAttribute{Name: name, FullName: "custom_attributes." + name, Label: name, DataType: dataType, APIWritable: true, Custom: true}
}

func standard(name, dataType string, writable bool) DataAttribute {
	return DataAttribute{Name: name, FullName: name, Label: name, DataType: dataType, APIWritable: writable}
}

// DefaultDataAttributes is the contact attribute list the emulator
// answers unless WithDataAttributes replaces it: the standard fields the
// contacts API takes, some Intercom sets itself (not api_writable), a
// nested one (location_data), and the custom attributes the emulator's
// tests write (plan, lifetime_value, bio) plus an archived one.
func DefaultDataAttributes() []DataAttribute {
	return []DataAttribute{
		standard("id", "string", false),
		standard("role", "string", true),
		standard("external_id", "string", true),
		standard("email", "string", true),
		standard("phone", "string", true),
		standard("name", "string", true),
		standard("avatar", "string", true),
		standard("owner_id", "integer", true),
		standard("signed_up_at", "date", true),
		standard("last_seen_at", "date", true),
		standard("unsubscribed_from_emails", "boolean", true),
		standard("created_at", "date", false),
		standard("updated_at", "date", false),
		standard("browser", "string", false),
		{Name: "city_name", FullName: "location_data.city_name", Label: "City", DataType: "string"},
		Custom("plan", "string"),
		Custom("lifetime_value", "float"),
		Custom("bio", "string"),
		Custom("paid_subscriber", "boolean"),
		{Name: "legacy_score", FullName: "custom_attributes.legacy_score", Label: "legacy_score", DataType: "integer", APIWritable: true, Custom: true, Archived: true},
	}
}

// WithDataAttributes replaces the contact attribute list GET
// /data_attributes answers.
func WithDataAttributes(attrs ...DataAttribute) Option {
	return func(s *Server) { s.attributes = slices.Clone(attrs) }
}

// listAttributes answers GET /data_attributes?model=…: the contact
// attributes for model=contact (or no model), archived ones only with
// include_archived=true; the emulator holds no company or conversation
// attributes.
func (s *Server) listAttributes(w http.ResponseWriter, q url.Values) {
	model := q.Get("model")
	switch model {
	case "", "contact", "company", "conversation":
	default:
		writeErrors(w, http.StatusBadRequest, "parameter_invalid", "model must be one of contact, company, conversation")
		return
	}
	data := []map[string]any{}
	for _, a := range s.attributes {
		if model != "" && model != "contact" || a.Archived && q.Get("include_archived") != "true" {
			continue
		}
		data = append(data, map[string]any{
			"type": "data_attribute", "model": "contact", "name": a.Name, "full_name": a.FullName,
			"label": a.Label, "description": "", "data_type": a.DataType, "api_writable": a.APIWritable,
			"ui_writable": true, "custom": a.Custom, "archived": a.Archived,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "list", "data": data})
}
