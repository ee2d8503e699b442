package salesforce

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

// catalog connects the Catalog the plugin declares to the emulator.
func catalog(t *testing.T, s *salesforcetest.Server, secret string) *Catalog {
	t.Helper()
	set := spec().WithDefaults(connector.Settings{"client_id": s.ClientID(), "client_secret": secret, "refresh_token": s.RefreshToken(), "base_url": s.URL()})
	c, err := Plugin().Catalog(context.Background(), set, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.(*Catalog).Close)
	return c.(*Catalog)
}

func invoiceOrg(t *testing.T) *salesforcetest.Server {
	t.Helper()
	s, err := salesforcetest.New(salesforcetest.WithObject("Invoice__c",
		salesforcetest.Field{Name: "Id", Type: "id"},
		salesforcetest.Field{Name: "Number__c", Label: "Invoice Number", Type: "string", Createable: true, Unique: true},
		salesforcetest.Field{Name: "Amount__c", Type: "currency", Createable: true, Updateable: true},
	), salesforcetest.WithReadOnlyObject("Invoice__History", salesforcetest.Field{Name: "Id", Type: "id"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCatalogObjects(t *testing.T) {
	s := invoiceOrg(t)
	c := catalog(t, s, s.ClientSecret())
	objects, err := c.Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]connector.ObjectInfo{}
	for _, o := range objects {
		got[o.Name] = o
	}
	tests := []struct {
		name   string
		want   connector.ObjectInfo
		listed bool
	}{
		{"Contact", connector.ObjectInfo{Name: "Contact", Label: "Contact"}, true},
		{"Account", connector.ObjectInfo{Name: "Account", Label: "Account"}, true},
		{"Invoice__c", connector.ObjectInfo{Name: "Invoice__c", Label: "Invoice", Custom: true}, true},
		// Neither createable nor updateable: no sync can write them.
		{"ContactHistory", connector.ObjectInfo{}, false},
		{"Invoice__History", connector.ObjectInfo{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := got[tt.name]
			if ok != tt.listed {
				t.Fatalf("listed = %v, want %v (objects %v)", ok, tt.listed, objects)
			}
			if ok && !reflect.DeepEqual(o, tt.want) {
				t.Errorf("object = %+v, want %+v", o, tt.want)
			}
		})
	}
}

func TestCatalogFields(t *testing.T) {
	s := invoiceOrg(t)
	c := catalog(t, s, s.ClientSecret())
	ctx := context.Background()
	tests := []struct {
		object string
		want   map[string]connector.FieldInfo // a subset of the fields
	}{
		{"Contact", map[string]connector.FieldInfo{
			"Id":                {Name: "Id", Label: "Id", Type: "id", ReadOnly: true},
			"Email":             {Name: "Email", Label: "Email", Type: "email"},
			"LastName":          {Name: "LastName", Label: "LastName", Type: "string"},
			"LeadSource":        {Name: "LeadSource", Label: "LeadSource", Type: "picklist"},
			"Ext_Id__c":         {Name: "Ext_Id__c", Label: "Ext Id", Type: "string", Unique: true},
			"Lifetime_Value__c": {Name: "Lifetime_Value__c", Label: "Lifetime Value", Type: "double"},
		}},
		{"Account", map[string]connector.FieldInfo{
			"Id":   {Name: "Id", Label: "Id", Type: "id", ReadOnly: true},
			"Name": {Name: "Name", Label: "Name", Type: "string"},
		}},
		{"Invoice__c", map[string]connector.FieldInfo{
			"Id":        {Name: "Id", Label: "Id", Type: "id", ReadOnly: true},
			"Number__c": {Name: "Number__c", Label: "Invoice Number", Type: "string", Unique: true},
			"Amount__c": {Name: "Amount__c", Label: "Amount", Type: "currency"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			fields, err := c.Fields(ctx, tt.object)
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
	_, err := c.Fields(ctx, "Nope__c")
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != 404 || !strings.Contains(err.Error(), "describe Nope__c") {
		t.Errorf("unknown sObject: %v", err)
	}
	// A name no sObject can have is refused before asking.
	if _, err := c.Fields(ctx, "Contact/describe"); err == nil || !strings.Contains(err.Error(), `not "Contact/describe"`) {
		t.Errorf("bad name: %v", err)
	}

	// An expired session is renewed, as for writes.
	s.ExpireSessions()
	if _, err := c.Fields(ctx, "Contact"); err != nil {
		t.Errorf("after the session expired: %v", err)
	}
	if _, err := c.Objects(ctx); err != nil {
		t.Errorf("objects after the session expired: %v", err)
	}
}

func TestCatalogAuthFailure(t *testing.T) {
	s := emulator(t)
	const wrong = "wrong-secret-b1e2"
	c := catalog(t, s, wrong)
	for name, call := range map[string]func() error{
		"objects": func() error { _, err := c.Objects(context.Background()); return err },
		"fields":  func() error { _, err := c.Fields(context.Background(), "Contact"); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !connector.IsAuth(err) || !strings.Contains(err.Error(), "salesforce token request refused: invalid_client") {
				t.Fatalf("error %v, want the token endpoint's refusal as an auth failure", err)
			}
			if strings.Contains(err.Error(), wrong) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
	// Settings the catalog cannot connect with are refused up front.
	if _, err := NewCatalog(context.Background(), spec().WithDefaults(connector.Settings{"client_id": "x"}), ""); err == nil || !strings.Contains(err.Error(), "client_secret") {
		t.Errorf("missing secret: %v", err)
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
