package salesforcetest

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Field is one field of an sObject's schema, as sObject Describe reports
// it.
type Field struct {
	Name       string `json:"name"`
	Label      string `json:"label"` // the name when empty
	Type       string `json:"type"`  // Salesforce's type: string, email, double, picklist, id…
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
	ExternalID bool   `json:"externalId"`
	Unique     bool   `json:"unique"`
	Nillable   bool   `json:"nillable"`
}

// text is a writable field; extID an external ID field (unique, as
// riptide's upserts require).
func text(name, typ string) Field {
	return Field{Name: name, Type: typ, Createable: true, Updateable: true, Nillable: true}
}

func extID(name string) Field {
	return Field{Name: name, Type: "string", Createable: true, Updateable: true, ExternalID: true, Unique: true, Nillable: true}
}

// defaultSchema is the schema of a new emulator's org: Contact and
// Account with the standard fields tests use and two custom external ID
// fields (Ext_Id__c, and Ext__c of the package tests).
func defaultSchema() map[string][]Field {
	common := func(extra ...Field) []Field {
		return append([]Field{
			{Name: "Id", Type: "id"},
			{Name: "CreatedDate", Type: "datetime"},
			{Name: "LastModifiedDate", Type: "datetime"},
			extID("Ext_Id__c"),
			extID("Ext__c"),
			text("LeadSource", "picklist"),
			text("Lifetime_Value__c", "double"),
		}, extra...)
	}
	contactLast := text("LastName", "string")
	contactLast.Nillable = false
	accountName := text("Name", "string")
	accountName.Nillable = false
	return map[string][]Field{
		"ContactHistory": {{Name: "Id", Type: "id"}, {Name: "ContactId", Type: "reference"}, {Name: "Field", Type: "picklist"}, {Name: "CreatedDate", Type: "datetime"}},
		"Contact": common(text("Email", "email"), text("FirstName", "string"), contactLast,
			text("Phone", "phone"), text("Birthdate", "date"), text("HasOptedOutOfEmail", "boolean"),
			text("AccountId", "reference")),
		"Account": common(accountName, text("Website", "url"), text("AnnualRevenue", "currency"), text("Industry", "picklist")),
	}
}

// WithObject adds fields to an sObject's schema, creating the sObject if
// the org has none of that name; a field of an existing name replaces it.
func WithObject(sobject string, fields ...Field) Option {
	return func(s *Server) {
		cur := s.schema[sobject]
		for _, f := range fields {
			replaced := false
			for i := range cur {
				if strings.EqualFold(cur[i].Name, f.Name) {
					cur[i], replaced = f, true
				}
			}
			if !replaced {
				cur = append(cur, f)
			}
		}
		s.schema[sobject] = cur
	}
}

// field finds a field of sobject; Salesforce's field names are case
// insensitive.
func (s *Server) field(sobject, name string) (Field, bool) {
	for _, f := range s.schema[sobject] {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// WithReadOnlyObject adds an sObject the org lists and describes but
// takes no writes of, as Salesforce's history and share objects.
func WithReadOnlyObject(sobject string, fields ...Field) Option {
	return func(s *Server) {
		WithObject(sobject, fields...)(s)
		s.readOnly[sobject] = true
	}
}

// objectInfo is the part of an sObject's description Describe Global
// and sObject Describe share.
func (s *Server) objectInfo(sobject string) map[string]any {
	writable := !s.readOnly[sobject]
	return map[string]any{
		"name": sobject, "label": label(sobject), "labelPlural": label(sobject) + "s",
		"custom": strings.HasSuffix(sobject, "__c"), "customSetting": false,
		"createable": writable, "updateable": writable, "deletable": writable,
		"queryable": true, "retrieveable": true, "searchable": true, "layoutable": writable,
		"keyPrefix": nil,
		"urls": map[string]string{
			"sobject":  "/services/data/v62.0/sobjects/" + sobject,
			"describe": "/services/data/v62.0/sobjects/" + sobject + "/describe",
		},
	}
}

// label is Salesforce's default label of an API name: Invoice__c is
// "Invoice".
func label(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, "__c"), "_", " ")
}

// describeGlobal serves Describe Global: every sObject of the org.
func (s *Server) describeGlobal(w http.ResponseWriter) {
	names := slices.Sorted(maps.Keys(s.schema))
	list := make([]map[string]any, len(names))
	for i, n := range names {
		list[i] = s.objectInfo(n)
	}
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": MaxRecords, "sobjects": list})
}

// describe serves sObject Describe: the sObject's properties and fields.
func (s *Server) describe(w http.ResponseWriter, sobject string) {
	fields, ok := s.schema[sobject]
	if !ok {
		fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	out := s.objectInfo(sobject)
	described := make([]Field, len(fields))
	for i, f := range fields {
		if f.Label == "" {
			f.Label = label(f.Name)
		}
		if s.readOnly[sobject] {
			f.Createable, f.Updateable = false, false
		}
		described[i] = f
	}
	out["fields"] = described
	writeJSON(w, http.StatusOK, out)
}

// checkFields refuses what Salesforce refuses of a write's fields: names
// the sObject lacks (INVALID_FIELD) and fields the write cannot set
// (INVALID_FIELD_FOR_INSERT_UPDATE). create tells an insert from an
// update.
func (s *Server) checkFields(sobject string, fields map[string]any, create bool) *apiError {
	if _, ok := s.schema[sobject]; !ok {
		return &apiError{StatusCode: "INVALID_TYPE", Message: "sObject type '" + sobject + "' is not supported.", Fields: []string{}}
	}
	if s.readOnly[sobject] {
		return &apiError{StatusCode: "INVALID_TYPE_FOR_OPERATION", Message: "entity type " + sobject + " does not support this operation", Fields: []string{}}
	}
	for name := range fields {
		f, ok := s.field(sobject, name)
		switch {
		case !ok:
			return &apiError{StatusCode: "INVALID_FIELD", Message: "No such column '" + name + "' on sobject of type " + sobject, Fields: []string{name}}
		case create && !f.Createable, !create && !f.Updateable:
			return &apiError{StatusCode: "INVALID_FIELD_FOR_INSERT_UPDATE", Message: "Unable to create/update fields: " + name + ". Please check the security settings of this field and verify that it is read/write for your profile or permission set.", Fields: []string{name}}
		}
	}
	return nil
}
