package iterable

import (
	"context"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
)

// TestFields lists the emulator's user fields as a mapping names them:
// identifiers unique, Iterable's own fields read-only, sub-fields left
// out, data fields learned from a write, and only identifiers for a list.
func TestFields(t *testing.T) {
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
	tests := []struct {
		name, object string
		want         map[string]connector.FieldInfo
	}{
		{"users", "", map[string]connector.FieldInfo{
			"email":         {Name: "email", Type: "string", Unique: true},
			"userId":        {Name: "userId", Type: "string", Unique: true},
			"signupDate":    {Name: "signupDate", Type: "date", ReadOnly: true},
			"firstName":     {Name: "firstName", Type: "string"},
			"lifetimeValue": {Name: "lifetimeValue", Type: "double"},
			"cart":          {Name: "cart", Type: "nested"},
			"vip":           {Name: "vip", Type: "boolean"},
		}},
		{"list", "list:12", map[string]connector.FieldInfo{
			"email":  {Name: "email", Type: "string", Unique: true},
			"userId": {Name: "userId", Type: "string", Unique: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, em.URL(), em.APIKey(), tt.object, "email").Fields(ctx, tt.object)
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

func TestFieldsBadKey(t *testing.T) {
	em := emulator(t)
	_, err := open(t, em.URL(), "wrong", "", "email").Fields(context.Background(), "")
	if !connector.IsAuth(err) {
		t.Fatalf("err = %v, want an auth failure", err)
	}
}
