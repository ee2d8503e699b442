package hubspottest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PortalID is the emulated account's id, part of custom objects' fully
// qualified names (p{portal}_{name}).
const PortalID = 7878787

// CustomObject is a custom object of the account, as the schemas API
// describes it.
type CustomObject struct {
	ID       string // the object type id, "2-…"
	Name     string // e.g. "invoices"
	Singular string
	Plural   string
	// Properties are its properties; the first is its primary display
	// property.
	Properties []Property
}

// FullyQualifiedName is the name the object APIs take in place of the
// object type id.
func (c CustomObject) FullyQualifiedName() string {
	return "p" + strconv.Itoa(PortalID) + "_" + c.Name
}

// WithCustomObject adds a custom object: listed by the schemas API, and
// written and described by its object type id or fully qualified name.
func WithCustomObject(c CustomObject) Option {
	return func(s *Server) {
		s.schema[c.ID] = c.Properties
		s.custom = append(s.custom, c)
	}
}

// standardTypeIDs are the object type ids of the standard objects, which
// the object APIs take in place of their names.
var standardTypeIDs = map[string]string{
	"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets",
	"0-7": "products", "0-8": "line_items",
}

// canonical is the name the emulator keeps an object type under: a
// standard object's name for its type id, a custom object's type id for
// its fully qualified name. s.mu is held.
func (s *Server) canonical(object string) string {
	if name, ok := standardTypeIDs[object]; ok {
		return name
	}
	for _, c := range s.custom {
		if strings.EqualFold(object, c.FullyQualifiedName()) {
			return c.ID
		}
	}
	return object
}

// schemas answers GET /crm-object-schemas/v3/schemas (and its older alias
// /crm/v3/schemas): the account's custom object schemas.
func (s *Server) schemas(w http.ResponseWriter) {
	type labels struct {
		Singular string `json:"singular"`
		Plural   string `json:"plural"`
	}
	type property struct {
		Name           string `json:"name"`
		Label          string `json:"label"`
		Type           string `json:"type"`
		FieldType      string `json:"fieldType"`
		GroupName      string `json:"groupName"`
		DisplayOrder   int    `json:"displayOrder"`
		Calculated     bool   `json:"calculated"`
		ExternalOpts   bool   `json:"externalOptions"`
		Archived       bool   `json:"archived"`
		HasUniqueValue bool   `json:"hasUniqueValue"`
		CreatedAt      string `json:"createdAt"`
		UpdatedAt      string `json:"updatedAt"`
	}
	type schema struct {
		ID                     string     `json:"id"`
		ObjectTypeID           string     `json:"objectTypeId"`
		Name                   string     `json:"name"`
		FullyQualifiedName     string     `json:"fullyQualifiedName"`
		Labels                 labels     `json:"labels"`
		MetaType               string     `json:"metaType"`
		Archived               bool       `json:"archived"`
		PrimaryDisplayProperty string     `json:"primaryDisplayProperty,omitempty"`
		RequiredProperties     []string   `json:"requiredProperties"`
		SearchableProperties   []string   `json:"searchableProperties"`
		Properties             []property `json:"properties"`
		Associations           []any      `json:"associations"`
		CreatedAt              string     `json:"createdAt"`
		UpdatedAt              string     `json:"updatedAt"`
	}
	created := stamp(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	out := struct {
		Results []schema `json:"results"`
	}{Results: []schema{}}
	for _, c := range s.custom {
		sc := schema{
			ID: strings.TrimPrefix(c.ID, "2-"), ObjectTypeID: c.ID, Name: c.Name, FullyQualifiedName: c.FullyQualifiedName(),
			Labels: labels{Singular: c.Singular, Plural: c.Plural}, MetaType: "PORTAL_SPECIFIC",
			RequiredProperties: []string{}, SearchableProperties: []string{}, Properties: []property{}, Associations: []any{},
			CreatedAt: created, UpdatedAt: created,
		}
		for i, p := range c.Properties {
			typ := p.Type
			if typ == "" {
				typ = "string"
			}
			sc.Properties = append(sc.Properties, property{Name: p.Name, Label: p.Name, Type: typ, FieldType: fieldType(typ),
				GroupName: c.Name + "_information", DisplayOrder: -1, HasUniqueValue: p.Unique, CreatedAt: created, UpdatedAt: created})
			if i == 0 {
				sc.PrimaryDisplayProperty = p.Name
				sc.RequiredProperties = append(sc.RequiredProperties, p.Name)
				sc.SearchableProperties = append(sc.SearchableProperties, p.Name)
			}
		}
		out.Results = append(out.Results, sc)
	}
	slices.SortFunc(out.Results, func(a, b schema) int { return strings.Compare(a.ObjectTypeID, b.ObjectTypeID) })
	writeJSON(w, http.StatusOK, out)
}

func fieldType(typ string) string {
	switch typ {
	case "number":
		return "number"
	case "datetime", "date":
		return "date"
	}
	return "text"
}
