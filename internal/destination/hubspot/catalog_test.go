package hubspot

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

var invoices = hubspottest.CustomObject{ID: "2-424242", Name: "invoices", Singular: "Invoice", Plural: "Invoices",
	Properties: []hubspottest.Property{{Name: "invoice_number", Unique: true}, {Name: "amount", Type: "number"}, {Name: "hs_object_id", Unique: true, ReadOnly: true, Type: "number"}}}

func openCatalog(t *testing.T, set connector.Settings) *Catalog {
	t.Helper()
	c, err := Plugin().Catalog(context.Background(), spec().WithDefaults(set), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.(*Catalog).Close)
	return c.(*Catalog)
}

// auths are the two ways a catalog signs in: a private app's token and
// a public app's OAuth refresh token.
func auths(s *hubspottest.Server) map[string]connector.Settings {
	return map[string]connector.Settings{
		"private app": {"access_token": s.Token(), "base_url": s.URL()},
		"public app":  oauthSettingsFor(s),
	}
}

func TestCatalogObjects(t *testing.T) {
	s := emulator(t, hubspottest.WithCustomObject(invoices))
	for auth, set := range auths(s) {
		t.Run(auth, func(t *testing.T) {
			objects, err := openCatalog(t, set).Objects(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]connector.ObjectInfo{}
			for _, o := range objects {
				got[o.Name] = o
			}
			tests := []connector.ObjectInfo{
				{Name: "contacts", Label: "Contacts", Aliases: []string{"0-1"}},
				{Name: "companies", Label: "Companies", Aliases: []string{"0-2"}},
				{Name: "deals", Label: "Deals", Aliases: []string{"0-3"}},
				{Name: "tickets", Label: "Tickets", Aliases: []string{"0-5"}},
				{Name: "line_items", Label: "Line items", Aliases: []string{"0-8"}},
				{Name: "2-424242", Label: "Invoices", Custom: true, Aliases: []string{"p7878787_invoices"}},
			}
			for _, want := range tests {
				if !reflect.DeepEqual(got[want.Name], want) {
					t.Errorf("object %s = %+v, want %+v", want.Name, got[want.Name], want)
				}
			}
			if len(objects) != len(standardObjects)+1 {
				t.Errorf("%d objects, want the %d standard ones and the custom one", len(objects), len(standardObjects))
			}
		})
	}
}

func TestCatalogFields(t *testing.T) {
	s := emulator(t, hubspottest.WithCustomObject(invoices))
	c := openCatalog(t, auths(s)["private app"])
	tests := []struct {
		object string
		want   map[string]connector.FieldInfo // a subset
	}{
		{"contacts", map[string]connector.FieldInfo{
			"email":        {Name: "email", Label: "email", Type: "string", Unique: true},
			"hs_object_id": {Name: "hs_object_id", Label: "hs_object_id", Type: "number", Unique: true, ReadOnly: true},
			"createdate":   {Name: "createdate", Label: "createdate", Type: "datetime", ReadOnly: true},
			"firstname":    {Name: "firstname", Label: "firstname", Type: "string"},
		}},
		// The object type id and the custom object's names reach the same
		// properties.
		{"0-1", map[string]connector.FieldInfo{"email": {Name: "email", Label: "email", Type: "string", Unique: true}}},
		{"2-424242", map[string]connector.FieldInfo{
			"invoice_number": {Name: "invoice_number", Label: "invoice_number", Type: "string", Unique: true},
			"amount":         {Name: "amount", Label: "amount", Type: "number"},
		}},
		{"p7878787_invoices", map[string]connector.FieldInfo{"amount": {Name: "amount", Label: "amount", Type: "number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			fields, err := c.Fields(context.Background(), tt.object)
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
	// An object the account lacks is HubSpot's refusal, named.
	_, err := c.Fields(context.Background(), "2-999")
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != 400 || !strings.Contains(err.Error(), "list 2-999 properties") {
		t.Errorf("unknown object: %v", err)
	}
	if _, err := c.Fields(context.Background(), "contacts/batch"); err == nil || !strings.Contains(err.Error(), `not "contacts/batch"`) {
		t.Errorf("bad object name: %v", err)
	}
}

func TestCatalogAuth(t *testing.T) {
	s := emulator(t, hubspottest.WithTokenTTL(time.Minute))
	ctx := context.Background()

	// A wrong private-app token: HubSpot's 401, an auth failure that does
	// not show the token.
	const wrong = "pat-na1-wrong-6d1c"
	c := openCatalog(t, connector.Settings{"access_token": wrong, "base_url": s.URL()})
	for name, call := range map[string]func() error{
		"objects": func() error { _, err := c.Objects(ctx); return err },
		"fields":  func() error { _, err := c.Fields(ctx, "contacts"); return err },
	} {
		err := call()
		if !connector.IsAuth(err) || !strings.Contains(err.Error(), "INVALID_AUTHENTICATION") || strings.Contains(err.Error(), wrong) {
			t.Errorf("%s with a wrong token: %v", name, err)
		}
	}

	// A public app whose refresh token was revoked: the token endpoint's
	// refusal.
	set := oauthSettingsFor(s)
	set["refresh_token"] = "revoked-refresh"
	if _, err := openCatalog(t, set).Objects(ctx); !connector.IsAuth(err) || !strings.Contains(err.Error(), "hubspot token request refused") {
		t.Errorf("revoked refresh token: %v", err)
	}

	// Settings naming no credentials are refused up front.
	if _, err := NewCatalog(ctx, spec().WithDefaults(connector.Settings{"base_url": s.URL()}), ""); err == nil || !strings.Contains(err.Error(), "set either access_token") {
		t.Errorf("no credentials: %v", err)
	}
}
