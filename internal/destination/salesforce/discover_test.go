package salesforce

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

func TestFields(t *testing.T) {
	s, err := salesforcetest.New(salesforcetest.WithObject("Invoice__c",
		salesforcetest.Field{Name: "Id", Type: "id"},
		salesforcetest.Field{Name: "Number__c", Type: "string", Createable: true, Unique: true},
		salesforcetest.Field{Name: "Amount__c", Type: "currency", Createable: true, Updateable: true},
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := open(t, s, "upsert", nil)
	ctx := context.Background()
	tests := []struct {
		object string
		want   map[string]connector.FieldInfo // a subset of the fields
	}{
		{"", map[string]connector.FieldInfo{ // the sync's object, Contact
			"Id":                {Name: "Id", Type: "id", ReadOnly: true},
			"Email":             {Name: "Email", Type: "email"},
			"LastName":          {Name: "LastName", Type: "string"},
			"FirstName":         {Name: "FirstName", Type: "string"},
			"LeadSource":        {Name: "LeadSource", Type: "picklist"},
			"Ext_Id__c":         {Name: "Ext_Id__c", Type: "string", Unique: true},
			"Lifetime_Value__c": {Name: "Lifetime_Value__c", Type: "double"},
		}},
		{"Account", map[string]connector.FieldInfo{
			"Id":   {Name: "Id", Type: "id", ReadOnly: true},
			"Name": {Name: "Name", Type: "string"},
		}},
		{"Invoice__c", map[string]connector.FieldInfo{
			"Id":        {Name: "Id", Type: "id", ReadOnly: true},
			"Number__c": {Name: "Number__c", Type: "string", Unique: true},
			"Amount__c": {Name: "Amount__c", Type: "currency"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			fields, err := d.Fields(ctx, tt.object)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]connector.FieldInfo{}
			for _, f := range fields {
				got[f.Name] = f
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("field %s = %+v, want %+v", name, got[name], want)
				}
			}
		})
	}

	// An unknown sObject is Salesforce's 404 NOT_FOUND.
	_, err = d.Fields(ctx, "Nope__c")
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != 404 || !strings.Contains(err.Error(), "describe Nope__c") {
		t.Errorf("unknown sObject: %v", err)
	}

	// An expired session is renewed, as for writes.
	s.ExpireSessions()
	if _, err := d.Fields(ctx, "Contact"); err != nil {
		t.Errorf("after the session expired: %v", err)
	}
}

// TestUnknownFieldsRefused checks the emulator refuses what Salesforce
// refuses: a field the sObject lacks and a field no write can set.
func TestUnknownFieldsRefused(t *testing.T) {
	s := emulator(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		field connector.FieldValue
		want  string
	}{
		{"unknown", connector.FieldValue{Name: "Nope__c", Value: "x"}, "INVALID_FIELD: No such column 'Nope__c' on sobject of type Contact"},
		{"read-only", connector.FieldValue{Name: "CreatedDate", Value: "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{"known", connector.FieldValue{Name: "FirstName", Value: "Ann"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := open(t, s, "upsert", nil)
			rec := contact(connector.OpUpsert, tt.name, tt.name+"@example.com")
			rec.Fields = append(rec.Fields, tt.field)
			err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{rec}})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Records("Contact", "Ext__c")[tt.name].Fields["FirstName"]; got != "Ann" {
					t.Errorf("FirstName = %v", got)
				}
				return
			}
			var rows *connector.RowErrors
			if !errors.As(err, &rows) || !strings.Contains(rows.Failed[0], tt.want) {
				t.Fatalf("error %v, want a row error with %q", err, tt.want)
			}
			if _, ok := s.Records("Contact", "Ext__c")[tt.name]; ok {
				t.Error("the refused record was written")
			}
		})
	}
}
