package intercom

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
)

func TestFields(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", "", nil)
	fields, err := d.Fields(context.Background(), "contacts")
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
		{"external_id", connector.FieldInfo{Name: "external_id", Type: "string", Unique: true}},
		{"email", connector.FieldInfo{Name: "email", Type: "string", Unique: true}},
		{"signed_up_at", connector.FieldInfo{Name: "signed_up_at", Type: "date"}},
		{"owner_id", connector.FieldInfo{Name: "owner_id", Type: "integer"}},
		{"created_at", connector.FieldInfo{Name: "created_at", Type: "date", ReadOnly: true}},
		{"plan", connector.FieldInfo{Name: "plan", Type: "string"}},                    // custom, by its mapping name
		{"lifetime_value", connector.FieldInfo{Name: "lifetime_value", Type: "float"}}, // custom
		{"paid_subscriber", connector.FieldInfo{Name: "paid_subscriber", Type: "boolean"}},
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

func TestFieldsMapping(t *testing.T) {
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
			[]connector.FieldInfo{{Name: "tier", Type: "integer"}}},
		{"not api_writable custom attribute is read-only",
			[]intercomtest.DataAttribute{{Name: "score", FullName: "custom_attributes.score", DataType: "float", Custom: true}},
			[]connector.FieldInfo{{Name: "score", Type: "float", ReadOnly: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, intercomtest.WithDataAttributes(tt.attrs...))
			got, err := open(t, s, "upsert", "", nil).Fields(context.Background(), "")
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

func TestFieldsErrors(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", "", nil)
	if _, err := d.Fields(context.Background(), "companies"); err == nil {
		t.Error("Fields(companies): no error")
	}
	s.RevokeToken()
	_, err := d.Fields(context.Background(), "contacts")
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized || !re.Auth {
		t.Fatalf("Fields with a revoked token: %v, want a 401 auth RequestError", err)
	}
}
