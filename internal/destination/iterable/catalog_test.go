package iterable

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
)

func openCatalog(t *testing.T, em *iterabletest.Server, key string) connector.Catalog {
	t.Helper()
	c, err := Plugin().Catalog(context.Background(), spec().WithDefaults(connector.Settings{"api_key": key, "base_url": em.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCatalogObjects lists users and the static lists by their object
// names, leaving out lists that take no subscribers.
func TestCatalogObjects(t *testing.T) {
	tests := []struct {
		name  string
		lists []iterabletest.List
		want  []connector.ObjectInfo
	}{
		{name: "no lists", want: []connector.ObjectInfo{{Name: "users", Label: "Users", Aliases: []string{"user"}}}},
		{name: "static and dynamic lists", lists: []iterabletest.List{
			{ID: 12, Name: "Newsletter"}, {ID: 7, Name: "Engaged", Type: "Dynamic"}, {ID: 3}, {ID: 9, Name: "Do not mail", Type: "Suppression"},
		}, want: []connector.ObjectInfo{
			{Name: "users", Label: "Users", Aliases: []string{"user"}},
			{Name: "list:12", Label: "Newsletter"},
			{Name: "list:3", Label: "List 3"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em := emulator(t)
			for _, l := range tt.lists {
				em.AddList(l)
			}
			got, err := openCatalog(t, em, em.APIKey()).Objects(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("objects %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || got[i].Label != tt.want[i].Label || strings.Join(got[i].Aliases, ",") != strings.Join(tt.want[i].Aliases, ",") {
					t.Errorf("object %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestCatalogFields lists the emulator's user fields as a mapping names
// them: identifiers unique, Iterable's own fields read-only, sub-fields
// left out, data fields learned from a write, and only identifiers for a
// list.
func TestCatalogFields(t *testing.T) {
	ctx := context.Background()
	em := emulator(t, iterabletest.WithFields(map[string]string{
		"email": "string", "signupDate": "date", "firstName": "string", "lifetimeValue": "double",
		"cart": "nested", "cart.price": "double",
	}))
	// A data field written once becomes a project field (Iterable infers
	// its type); userId is reported even though the project never stored one.
	failed, err := deliver(t, open(t, em.URL(), em.APIKey(), "", "email"), &sleeps{},
		connector.Record{Op: connector.OpUpsert, Key: "a@example.com", Fields: []connector.FieldValue{
			{Name: "email", Value: "a@example.com"}, {Name: "vip", Value: true}}})
	if err != nil || len(failed) > 0 {
		t.Fatalf("write: %v %v", err, failed)
	}
	users := map[string]connector.FieldInfo{
		"email":         {Name: "email", Type: "string", Unique: true},
		"userId":        {Name: "userId", Type: "string", Unique: true},
		"signupDate":    {Name: "signupDate", Type: "date", ReadOnly: true},
		"firstName":     {Name: "firstName", Type: "string"},
		"lifetimeValue": {Name: "lifetimeValue", Type: "double"},
		"cart":          {Name: "cart", Type: "nested"},
		"vip":           {Name: "vip", Type: "boolean"},
	}
	tests := []struct {
		name, object string
		want         map[string]connector.FieldInfo
	}{
		{"users", "users", users},
		{"unset object", "", users},
		{"list", "list:12", map[string]connector.FieldInfo{
			"email":  {Name: "email", Type: "string", Unique: true},
			"userId": {Name: "userId", Type: "string", Unique: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := openCatalog(t, em, em.APIKey()).Fields(ctx, tt.object)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d fields %+v, want %d", len(got), got, len(tt.want))
			}
			for _, f := range got {
				if w, ok := tt.want[f.Name]; !ok || f != w {
					t.Errorf("field %+v, want %+v", f, w)
				}
			}
		})
	}
}

func TestCatalogRefused(t *testing.T) {
	tests := []struct {
		name string
		call func(connector.Catalog) error
		want string
	}{
		{"objects", func(c connector.Catalog) error { _, err := c.Objects(context.Background()); return err }, "iterable: list lists"},
		{"fields", func(c connector.Catalog) error { _, err := c.Fields(context.Background(), "users"); return err }, "iterable: list user fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em := emulator(t)
			err := tt.call(openCatalog(t, em, "wrong-key-123"))
			if !connector.IsAuth(err) {
				t.Fatalf("err = %v, want an auth failure", err)
			}
			var re *connector.RequestError
			if !errors.As(err, &re) || re.Status != 401 {
				t.Errorf("err = %v, want a 401 *connector.RequestError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Invalid API key") {
				t.Errorf("err = %q, want it to say %q and Iterable's message", err, tt.want)
			}
			if strings.Contains(err.Error(), "wrong-key-123") {
				t.Errorf("err = %q shows the key", err)
			}
		})
	}
}

func TestCatalogSettings(t *testing.T) {
	for _, tt := range []struct {
		settings connector.Settings
		want     string
	}{
		{connector.Settings{}, "api_key is required"},
		{connector.Settings{"api_key": "k", "base_url": "not a url"}, "base_url"},
	} {
		if _, err := NewCatalog(context.Background(), spec().WithDefaults(tt.settings), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewCatalog(%v): %v, want an error saying %q", tt.settings, err, tt.want)
		}
	}
}
