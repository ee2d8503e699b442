package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
)

func TestTypeFits(t *testing.T) {
	tests := []struct {
		column, field string
		want          bool
	}{
		{"BIGINT", "number", true},
		{"DECIMAL(12,2)", "number", true},
		{"numeric", "currency", true},
		{"VARCHAR", "number", false},
		{"text", "double", false},
		{"BOOLEAN", "number", false},
		{"TIMESTAMP WITH TIME ZONE", "datetime", true},
		{"VARCHAR", "datetime", true}, // ISO text the vendor parses
		{"INTEGER", "datetime", false},
		{"DATE", "date", true},
		{"BOOLEAN", "bool", true},
		{"TINYINT", "boolean", true}, // MySQL's 0/1 booleans
		{"VARCHAR", "bool", false},
		{"JSON", "number", false},
		{"int4[]", "string", true}, // text fields take anything
		{"BIGINT", "string", true},
		{"GEOMETRY", "number", true}, // unknown kinds are not judged
		{"BIGINT", "enumeration", true},
	}
	for _, tt := range tests {
		if got := fits(warehouseClass(tt.column), destinationClass(tt.field)); got != tt.want {
			t.Errorf("column %s into field %s: fits = %v, want %v", tt.column, tt.field, got, tt.want)
		}
	}
}

// fakeCatalog lists fixed objects and fields; nil lists stand for a
// vendor API that offers none.
type fakeCatalog struct {
	objects []connector.ObjectInfo
	fields  map[string][]connector.FieldInfo
	err     error
	calls   *int
}

func (c fakeCatalog) Objects(context.Context) ([]connector.ObjectInfo, error) {
	*c.calls++
	if c.err != nil {
		return nil, c.err
	}
	if c.objects == nil {
		return nil, connector.ErrNotListed
	}
	return c.objects, nil
}

func (c fakeCatalog) Fields(_ context.Context, object string) ([]connector.FieldInfo, error) {
	if c.fields == nil {
		return nil, connector.ErrNotListed
	}
	return c.fields[object], nil
}

func TestCheckDestinations(t *testing.T) {
	contacts := []connector.FieldInfo{
		{Name: "email", Type: "string", Unique: true}, {Name: "plan", Type: "string"},
		{Name: "created", Type: "datetime", ReadOnly: true}, {Name: "seats", Type: "number"},
	}
	objects := []connector.ObjectInfo{{Name: "contacts", Aliases: []string{"0-1"}}, {Name: "Account__c", Custom: true}}
	tests := []struct {
		name    string
		object  string
		mapping [][2]string // field, column
		ident   []string
		catalog *fakeCatalog // nil: the destination has no catalog
		want    []string     // problem substrings, in order
		skipped bool
	}{
		{name: "fits", object: "contacts", catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}}},
		{name: "alias", object: "0-1", catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"0-1": contacts}}},
		{name: "case-insensitive", object: "account__C", catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"account__C": {{Name: "email"}, {Name: "plan"}}}}},
		{name: "unset object is the default one", object: "", catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"": contacts}}},
		{name: "unknown object", object: "contact", catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{}},
			want: []string{`sync s: crm destination crm has no object "contact" (did you mean "contacts"?)`}},
		{name: "unknown and read-only fields", object: "contacts", mapping: [][2]string{{"emial", "email"}, {"created", "plan"}},
			catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}},
			want:    []string{`has no field "emial" (did you mean "email"?)`, `field "created" is read-only`}},
		{name: "identifier not unique", object: "contacts", ident: []string{"plan"},
			catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}},
			want:    []string{`identifier "plan" of crm contacts does not hold unique values`}},
		{name: "type never fits", object: "contacts", mapping: [][2]string{{"email", "email"}, {"seats", "plan"}},
			catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}},
			want:    []string{`column plan is text (VARCHAR) in the model, but crm contacts field "seats" holds a number (add type: number to the mapping to convert the text)`}},
		{name: "converted text fits", object: "contacts", mapping: [][2]string{{"email", "email"}, {"seats", "plan:number"}},
			catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}}},
		{name: "conversion that never fits", object: "contacts", mapping: [][2]string{{"email", "email"}, {"seats", "plan:date"}},
			catalog: &fakeCatalog{objects: objects, fields: map[string][]connector.FieldInfo{"contacts": contacts}},
			want:    []string{`mapping seats converts to date, but crm contacts field "seats" holds a number`}},
		{name: "objects not listed, fields are", object: "anything", mapping: [][2]string{{"emial", "email"}},
			catalog: &fakeCatalog{fields: map[string][]connector.FieldInfo{"anything": contacts}},
			want:    []string{`has no field "emial"`}},
		{name: "nothing listed", object: "anything", mapping: [][2]string{{"whatever", "email"}}, catalog: &fakeCatalog{}},
		{name: "listing fails", object: "contacts", catalog: &fakeCatalog{err: errors.New("401 Unauthorized")},
			want: []string{`sync s: list crm objects: 401 Unauthorized`}},
		{name: "no catalog", object: "contacts", skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sync1("s", config.ModeUpsert)
			s.Object, s.Identifier = tt.object, tt.ident
			if tt.mapping != nil {
				s.Mapping = nil
				for _, m := range tt.mapping {
					col, typ, _ := strings.Cut(m[1], ":")
					s.Mapping = append(s.Mapping, config.Mapping{Field: m[0], Column: col, Type: typ})
				}
			}
			b := setup(t, s)
			b.wh.colTypes = map[string]string{"id": "BIGINT", "email": "VARCHAR", "plan": "VARCHAR"}
			calls := 0
			if tt.catalog != nil {
				tt.catalog.calls = &calls
				p := b.engine.Destinations["crm"]
				p.Catalog = func(context.Context, connector.Settings, string) (connector.Catalog, error) { return *tt.catalog, nil }
				b.engine.Destinations["crm"] = p
			}
			problems, checked, skipped, err := b.engine.CheckDestinations(context.Background(), []string{"s"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.skipped != (len(skipped) == 1) || !tt.skipped && len(tt.want) == 0 && len(checked) != 1 {
				t.Errorf("checked %v, skipped %v", checked, skipped)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("problems %v, want %d: %q", problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(problems[i].Message, w) {
					t.Errorf("problem %d: %q, want it to contain %q", i, problems[i].Message, w)
				}
			}
		})
	}
}

// TestCheckDestinationsListsObjectsOnce: syncs of one destination share
// its object listing (one API call, not one per sync).
func TestCheckDestinationsListsObjectsOnce(t *testing.T) {
	a, c := sync1("a", config.ModeUpsert), sync1("c", config.ModeUpsert)
	a.Object, c.Object = "contacts", "contacts"
	b := setup(t, a, c)
	calls := 0
	cat := fakeCatalog{objects: []connector.ObjectInfo{{Name: "contacts"}}, calls: &calls}
	p := b.engine.Destinations["crm"]
	p.Catalog = func(context.Context, connector.Settings, string) (connector.Catalog, error) { return cat, nil }
	b.engine.Destinations["crm"] = p
	if _, checked, _, err := b.engine.CheckDestinations(context.Background(), []string{"a", "c"}); err != nil || len(checked) != 2 {
		t.Fatalf("checked %v, %v", checked, err)
	}
	if calls != 1 {
		t.Errorf("objects listed %d times for two syncs of one destination, want 1", calls)
	}
}

// TestOnWaitNamesTheSync: the engine tells OnWait of a sync's delivery
// waits with the sync's name and the kind of wait.
func TestOnWaitNamesTheSync(t *testing.T) {
	b := setup(t, sync1("s", config.ModeUpsert))
	b.crm.status = []int{503}
	var got []string
	b.engine.OnWait = func(sync, kind string, d time.Duration) { got = append(got, sync+" "+kind) }
	b.users(row(1, "a@x", "free"))
	if res := b.run(Options{}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if len(got) != 1 || got[0] != "s retry" {
		t.Errorf("OnWait heard %q, want one retry wait of sync s", got)
	}
}
