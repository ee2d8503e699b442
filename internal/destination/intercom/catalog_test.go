package intercom

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
)

func openCatalog(t *testing.T, s *intercomtest.Server) connector.Catalog {
	t.Helper()
	c, err := Plugin().Catalog(context.Background(), spec().WithDefaults(connector.Settings{"access_token": s.Token(), "base_url": s.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogObjectsNotListed(t *testing.T) {
	s := emulator(t)
	objs, err := openCatalog(t, s).Objects(context.Background())
	if !errors.Is(err, connector.ErrNotListed) || objs != nil {
		t.Fatalf("Objects = %v, %v; want connector.ErrNotListed", objs, err)
	}
	if !strings.Contains(err.Error(), "intercom") {
		t.Errorf("error %q does not name the destination", err)
	}
	if s.Requests() != 0 {
		t.Errorf("%d requests for a listing Intercom does not offer", s.Requests())
	}
}

func TestCatalogFields(t *testing.T) {
	s := emulator(t)
	fields, err := openCatalog(t, s).Fields(context.Background(), "contacts")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]connector.FieldInfo{}
	for _, f := range fields {
		if _, dup := byName[f.Name]; dup {
			t.Errorf("field %q listed twice", f.Name)
		}
		byName[f.Name] = f
	}
	tests := []struct {
		name string
		want connector.FieldInfo
	}{
		{"external_id", connector.FieldInfo{Name: "external_id", Type: "string", Label: "external_id", Unique: true}},
		{"email", connector.FieldInfo{Name: "email", Type: "string", Label: "email", Unique: true}},
		{"signed_up_at", connector.FieldInfo{Name: "signed_up_at", Type: "date", Label: "signed_up_at"}},
		{"owner_id", connector.FieldInfo{Name: "owner_id", Type: "integer", Label: "owner_id"}},
		{"created_at", connector.FieldInfo{Name: "created_at", Type: "date", Label: "created_at", ReadOnly: true}},
		{"plan", connector.FieldInfo{Name: "plan", Type: "string", Label: "plan"}},                              // custom, by its mapping name
		{"lifetime_value", connector.FieldInfo{Name: "lifetime_value", Type: "float", Label: "lifetime_value"}}, // custom
		{"paid_subscriber", connector.FieldInfo{Name: "paid_subscriber", Type: "boolean", Label: "paid_subscriber"}},
	}
	for _, tt := range tests {
		if got, ok := byName[tt.name]; !ok || got != tt.want {
			t.Errorf("field %s = %+v (listed %v), want %+v", tt.name, got, ok, tt.want)
		}
	}
	for _, absent := range []string{"city_name", "location_data.city_name", "custom_attributes.plan", "legacy_score"} {
		if _, ok := byName[absent]; ok {
			t.Errorf("field %q listed: nested, prefixed and archived attributes cannot be mapped", absent)
		}
	}
}

func TestCatalogFieldsMapping(t *testing.T) {
	tests := []struct {
		name  string
		attrs []intercomtest.DataAttribute
		want  []connector.FieldInfo
	}{
		{"standard outside the destination's top-level set is read-only",
			[]intercomtest.DataAttribute{{Name: "language_override", FullName: "language_override", DataType: "string", APIWritable: true}},
			[]connector.FieldInfo{{Name: "language_override", Type: "string", ReadOnly: true}}},
		{"custom named like a standard field is left out",
			[]intercomtest.DataAttribute{intercomtest.Custom("email", "string"), intercomtest.Custom("tier", "integer")},
			[]connector.FieldInfo{{Name: "tier", Type: "integer", Label: "tier"}}},
		{"not api_writable custom attribute is read-only",
			[]intercomtest.DataAttribute{{Name: "score", FullName: "custom_attributes.score", DataType: "float", Custom: true}},
			[]connector.FieldInfo{{Name: "score", Type: "float", ReadOnly: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, intercomtest.WithDataAttributes(tt.attrs...))
			got, err := openCatalog(t, s).Fields(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Fields = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Fields[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCatalogFieldsErrors(t *testing.T) {
	s := emulator(t)
	c := openCatalog(t, s)
	if _, err := c.Fields(context.Background(), "companies"); err == nil || !strings.Contains(err.Error(), "must be contacts") {
		t.Errorf("Fields(companies): %v, want an error saying the object must be contacts", err)
	}
	s.RevokeToken()
	_, err := c.Fields(context.Background(), "contacts")
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized || !re.Auth {
		t.Fatalf("Fields with a revoked token: %v, want a 401 auth RequestError", err)
	}
	if !strings.Contains(err.Error(), "intercom: list contact data attributes") || strings.Contains(err.Error(), s.Token()) {
		t.Errorf("error %q: want it to name the call and not show the token", err)
	}
}

func TestCatalogSettings(t *testing.T) {
	for _, tt := range []struct {
		settings connector.Settings
		want     string
	}{
		{connector.Settings{}, "access_token is required"},
		{connector.Settings{"access_token": "t", "base_url": "api.intercom.io"}, "base_url"},
	} {
		if _, err := NewCatalog(context.Background(), spec().WithDefaults(tt.settings), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewCatalog(%v): %v, want an error saying %q", tt.settings, err, tt.want)
		}
	}
}
