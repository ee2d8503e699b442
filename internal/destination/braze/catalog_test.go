package braze

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
)

func openCatalog(t *testing.T, s *brazetest.Server, key string) connector.Catalog {
	t.Helper()
	if key == "" {
		key = s.APIKey()
	}
	c, err := Plugin().Catalog(context.Background(), spec().WithDefaults(connector.Settings{"api_key": key, "base_url": s.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogObjectsNotListed(t *testing.T) {
	s := emulator(t)
	objs, err := openCatalog(t, s, "").Objects(context.Background())
	if !errors.Is(err, connector.ErrNotListed) || objs != nil {
		t.Fatalf("Objects = %v, %v; want connector.ErrNotListed", objs, err)
	}
	if !strings.Contains(err.Error(), "braze") || s.Requests() != 0 {
		t.Errorf("Objects: %v after %d requests; want an error naming braze and no request", err, s.Requests())
	}
}

func TestCatalogFields(t *testing.T) {
	n := func(i int) *int { return &i }
	many := make([]brazetest.CustomAttribute, 120)
	for i := range many {
		many[i] = brazetest.CustomAttribute{Name: fmt.Sprintf("attr_%03d", i), DataType: "Number"}
	}
	tests := []struct {
		name     string
		opts     []brazetest.Option
		write    map[string]any // sent through /users/track first, when set
		want     map[string]connector.FieldInfo
		custom   int // custom attributes listed
		requests int
	}{
		{name: "standard fields only", want: map[string]connector.FieldInfo{
			"external_id":                  {Name: "external_id", Type: "String", Label: "External user ID", Unique: true},
			"email":                        {Name: "email", Type: "String", Label: "Email", Unique: true},
			"user_alias":                   {Name: "user_alias", Type: "String", Label: "User alias (alias_name)", Unique: true},
			"braze_id":                     {Name: "braze_id", Type: "String", Label: "Braze ID", ReadOnly: true},
			"dob":                          {Name: "dob", Type: "Date", Label: "Date of birth (YYYY-MM-DD)"},
			"first_name":                   {Name: "first_name", Type: "String", Label: "First name"},
			"email_open_tracking_disabled": {Name: "email_open_tracking_disabled", Type: "Boolean", Label: "Email open tracking disabled"},
		}, requests: 1},
		{name: "custom attributes with status and description", opts: []brazetest.Option{brazetest.WithCustomAttributes(
			brazetest.CustomAttribute{Name: "plan", DataType: "String", Description: "Billing plan", TagNames: []string{"billing"}},
			brazetest.CustomAttribute{Name: "legacy_score", DataType: "Number", Status: "Blocklisted"},
			brazetest.CustomAttribute{Name: "favorites", DataType: "Array", ArrayLength: n(100)},
			brazetest.CustomAttribute{Name: "first_name", DataType: "String"},
		)}, want: map[string]connector.FieldInfo{
			"plan":         {Name: "plan", Type: "String", Label: "Billing plan"},
			"legacy_score": {Name: "legacy_score", Type: "Number", ReadOnly: true},
			"favorites":    {Name: "favorites", Type: "Array"},
			"first_name":   {Name: "first_name", Type: "String", Label: "First name"},
		}, custom: 3, requests: 1},
		{name: "learned from a write", write: map[string]any{"external_id": "ann", "first_name": "Ann", "vip": true, "ltv": 12.5, "renewal": "2026-01-02T03:04:05Z"},
			want: map[string]connector.FieldInfo{
				"vip":     {Name: "vip", Type: "Boolean"},
				"ltv":     {Name: "ltv", Type: "Number"},
				"renewal": {Name: "renewal", Type: "Time"},
			}, custom: 3, requests: 2},
		{name: "paged by the Link header's cursor", opts: []brazetest.Option{brazetest.WithCustomAttributes(many...)}, want: map[string]connector.FieldInfo{
			"attr_000": {Name: "attr_000", Type: "Number"},
			"attr_049": {Name: "attr_049", Type: "Number"},
			"attr_050": {Name: "attr_050", Type: "Number"},
			"attr_119": {Name: "attr_119", Type: "Number"},
		}, custom: 120, requests: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, tt.opts...)
			if tt.write != nil {
				var fields []connector.FieldValue
				for k, v := range tt.write {
					fields = append(fields, connector.FieldValue{Name: k, Value: v})
				}
				failed, _, err := deliver(t, open(t, s, "upsert", ""), &sleeps{}, connector.Record{Op: connector.OpUpsert, Key: "ann", Fields: fields})
				if err != nil || len(failed) > 0 {
					t.Fatalf("write: %v %v", err, failed)
				}
			}
			got, err := openCatalog(t, s, "").Fields(context.Background(), "users")
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]connector.FieldInfo{}
			for _, f := range got {
				if _, dup := byName[f.Name]; dup {
					t.Errorf("field %s listed twice", f.Name)
				}
				byName[f.Name] = f
			}
			if len(got) != len(standardAttributes)+tt.custom {
				t.Errorf("%d fields, want %d standard and %d custom", len(got), len(standardAttributes), tt.custom)
			}
			for name, want := range tt.want {
				if byName[name] != want {
					t.Errorf("field %s = %+v, want %+v", name, byName[name], want)
				}
			}
			if s.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", s.Requests(), tt.requests)
			}
		})
	}
}

func TestCatalogFieldsRefused(t *testing.T) {
	tests := []struct {
		name   string
		opts   []brazetest.Option
		key    string
		object string
		want   []string
		status int
	}{
		{name: "wrong key", key: "wrong-key-0001", want: []string{"braze: list custom attributes", "custom_attributes.get permission", "Invalid API key"}, status: http.StatusUnauthorized},
		{name: "key without custom_attributes.get", opts: []brazetest.Option{brazetest.WithPermissions("users.track", "users.delete")},
			want: []string{"braze: list custom attributes", "needs the custom_attributes.get permission"}, status: http.StatusUnauthorized},
		{name: "not users", object: "accounts", want: []string{"braze", "object must be users"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, tt.opts...)
			object := tt.object
			if object == "" {
				object = "users"
			}
			_, err := openCatalog(t, s, tt.key).Fields(context.Background(), object)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q shows the key", err)
			}
			if tt.status != 0 {
				var re *connector.RequestError
				if !errors.As(err, &re) || re.Status != tt.status || !re.Auth {
					t.Errorf("error %v: want an auth *connector.RequestError with status %d", err, tt.status)
				}
			}
		})
	}
}

// TestCatalogForbidden: a 403 is read as the missing permission too.
func TestCatalogForbidden(t *testing.T) {
	s := emulator(t)
	s.FailNext(http.StatusForbidden)
	_, err := openCatalog(t, s, "").Fields(context.Background(), "")
	var re *connector.RequestError
	if err == nil || !strings.Contains(err.Error(), "needs the custom_attributes.get permission") || !errors.As(err, &re) || re.Status != http.StatusForbidden {
		t.Fatalf("Fields after a 403: %v, want an error naming the permission", err)
	}
}

// TestCatalogCursorLoop: a server whose next link repeats a cursor is
// refused instead of read forever.
func TestCatalogCursorLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `</custom_attributes?cursor=again>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"message":"success","attributes":[{"name":"a","data_type":"String","status":"Active"}]}`)
	}))
	defer srv.Close()
	c, err := NewCatalog(context.Background(), spec().WithDefaults(connector.Settings{"api_key": "k", "base_url": srv.URL}), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fields(context.Background(), "users"); err == nil || !strings.Contains(err.Error(), "already read") {
		t.Fatalf("Fields: %v, want an error about a repeated cursor", err)
	}
}

func TestNextCursor(t *testing.T) {
	tests := []struct {
		name  string
		links []string
		want  string
		err   string
	}{
		{"none", nil, "", ""},
		{"prev only", []string{`</custom_attributes?cursor=c2tpcDow>; rel="prev"`}, "", ""},
		{"prev and next", []string{`</custom_attributes?cursor=c2tpcDow>; rel="prev",</custom_attributes?cursor=c2tpcDoxMTQ=>; rel="next"`}, "c2tpcDoxMTQ=", ""},
		{"absolute, unquoted, separate headers", []string{`<https://rest.iad-01.braze.com/custom_attributes?cursor=a>; rel=prev`, `<https://rest.iad-01.braze.com/custom_attributes?cursor=b%3D>; rel=next`}, "b=", ""},
		{"next without cursor", []string{`</custom_attributes>; rel="next"`}, "", "no cursor"},
		{"next not in angle brackets", []string{`/custom_attributes?cursor=x; rel="next"`}, "", "not <uri>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextCursor(tt.links)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("nextCursor: %q, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("nextCursor = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCatalogSettings(t *testing.T) {
	for _, tt := range []struct {
		settings connector.Settings
		want     string
	}{
		{connector.Settings{"base_url": "https://rest.iad-01.braze.com"}, "api_key is required"},
		{connector.Settings{"api_key": "k"}, "base_url"},
	} {
		if _, err := NewCatalog(context.Background(), spec().WithDefaults(tt.settings), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewCatalog(%v): %v, want an error saying %q", tt.settings, err, tt.want)
		}
	}
}
