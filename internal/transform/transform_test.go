package transform_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/transform"
	"github.com/riptide-data/riptide/internal/value"
)

// columns and row are the model result most tests map.
var columns = []string{"id", "email", "name", "plan", "amount", "created", "tags", "active", "score", "code", "day", "blank"}

func testRow() []any {
	return []any{
		int64(7),
		"Ada@Example.com",
		"ada LOVELACE",
		nil, // plan is NULL
		value.Decimal("12.5"),
		time.Date(2024, 3, 1, 12, 30, 0, 500_000_000, time.UTC),
		[]any{"a", "b", int64(3)},
		true,
		3.5,
		"  X1 ",
		value.Date("2024-03-01"),
		"",
	}
}

func column(field, col string) config.Mapping { return config.Mapping{Field: field, Column: col} }

func static(field string, v any) config.Mapping {
	return config.Mapping{Field: field, Value: v, IsValue: true}
}

func tmpl(field, src string) config.Mapping { return config.Mapping{Field: field, Template: src} }

func sync(ms ...config.Mapping) *config.Sync { return &config.Sync{Name: "s", Mapping: ms} }

func mustNew(t *testing.T, s *config.Sync, cols []string) *transform.Mapper {
	t.Helper()
	m, err := transform.New(s, cols)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestApplyColumnsAndValues(t *testing.T) {
	tests := []struct {
		name    string
		mapping []config.Mapping
		want    []connector.FieldValue
	}{
		{
			name:    "column renamed",
			mapping: []config.Mapping{column("Email", "email")},
			want:    []connector.FieldValue{{Name: "Email", Value: "Ada@Example.com"}},
		},
		{
			name:    "columns keep canonical values and mapping order",
			mapping: []config.Mapping{column("when", "created"), column("amount", "amount"), column("id", "id"), column("plan", "plan"), column("tags", "tags")},
			want: []connector.FieldValue{
				{Name: "when", Value: time.Date(2024, 3, 1, 12, 30, 0, 500_000_000, time.UTC)},
				{Name: "amount", Value: value.Decimal("12.5")},
				{Name: "id", Value: int64(7)},
				{Name: "plan", Value: nil},
				{Name: "tags", Value: []any{"a", "b", int64(3)}},
			},
		},
		{
			name:    "one column under two fields",
			mapping: []config.Mapping{column("a", "email"), column("b", "email")},
			want:    []connector.FieldValue{{Name: "a", Value: "Ada@Example.com"}, {Name: "b", Value: "Ada@Example.com"}},
		},
		{
			name: "static values are normalised",
			mapping: []config.Mapping{
				static("int", 3),
				static("text", "3"),
				static("float", float32(1.5)),
				static("big", uint64(math.MaxUint64)),
				static("null", nil),
				static("bool", false),
				static("list", []string{"x", "y"}),
				static("doc", map[string]any{"b": 1, "a": "x"}),
			},
			want: []connector.FieldValue{
				{Name: "int", Value: int64(3)},
				{Name: "text", Value: "3"},
				{Name: "float", Value: 1.5},
				{Name: "big", Value: value.Decimal("18446744073709551615")},
				{Name: "null", Value: nil},
				{Name: "bool", Value: false},
				{Name: "list", Value: []any{"x", "y"}},
				{Name: "doc", Value: value.JSON(`{"a":"x","b":1}`)},
			},
		},
		{
			name:    "column, value and template together",
			mapping: []config.Mapping{column("id", "id"), static("source", "warehouse"), tmpl("label", "{{ .id }}:{{ .email | lower }}")},
			want: []connector.FieldValue{
				{Name: "id", Value: int64(7)},
				{Name: "source", Value: "warehouse"},
				{Name: "label", Value: "7:ada@example.com"},
			},
		},
		{
			name:    "no columns used",
			mapping: []config.Mapping{static("k", "v")},
			want:    []connector.FieldValue{{Name: "k", Value: "v"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustNew(t, sync(tt.mapping...), columns)
			got, err := m.Apply(testRow(), nil)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
			var names []string
			for _, f := range tt.want {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff(names, m.Fields()); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyTemplates(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"plain column", "{{ .email }}", "Ada@Example.com"},
		{"text around", "<{{ .name }}>", "<ada LOVELACE>"},
		{"lower", "{{ .email | lower }}", "ada@example.com"},
		{"lower as a call", "{{ lower .email }}", "ada@example.com"},
		{"upper", "{{ .email | upper }}", "ADA@EXAMPLE.COM"},
		{"title", "{{ .name | title }}", "Ada Lovelace"},
		{"title after hyphen and space only", `{{ "jean-luc o'neil  x" | title }}`, "Jean-Luc O'neil  X"},
		{"trim", "[{{ .code | trim }}]", "[X1]"},
		{"default on NULL", `{{ .plan | default "free" }}`, "free"},
		{"default on empty text", `{{ .blank | default "none" }}`, "none"},
		{"default keeps a value", `{{ .email | default "none" }}`, "Ada@Example.com"},
		{"default keeps false", `{{ false | default "none" }}`, "false"},
		{"sha256 known vector", `{{ "abc" | sha256 }}`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha256 pipeline", "{{ .email | lower | trim | sha256 }}", sha("ada@example.com")},
		{"sha256 of a number hashes its text", "{{ .id | sha256 }}", sha("7")},
		{"replace old new, value last", `{{ .email | replace "@" " at " }}`, "Ada at Example.com"},
		{"replace removes", `[{{ .code | replace " " "" }}]`, "[X1]"},
		{"replace every occurrence", `{{ "a-b-c" | replace "-" "+" }}`, "a+b+c"},
		{"join a list column", `{{ .tags | join "," }}`, "a,b,3"},
		{"join with a longer separator", `{{ .tags | join " | " }}`, "a | b | 3"},
		{"join of text is the text", `{{ .email | join "," }}`, "Ada@Example.com"},
		{"list column prints as JSON", "{{ .tags }}", `["a","b",3]`},
		{"range over a list column", "{{ range .tags }}[{{ . }}]{{ end }}", "[a][b][3]"},
		{"integer", "{{ .id }}", "7"},
		{"integer compares", "{{ if gt .id 5 }}big{{ else }}small{{ end }}", "big"},
		{"float", "{{ .score }}", "3.5"},
		{"float compares", "{{ if lt .score 3.0 }}lo{{ else }}hi{{ end }}", "hi"},
		{"bool", "{{ .active }}", "true"},
		{"bool is a condition", "{{ if .active }}on{{ else }}off{{ end }}", "on"},
		{"decimal as text", "{{ .amount }}", "12.5"},
		{"decimal is a string to printf", `{{ printf "%s EUR" .amount }}`, "12.5 EUR"},
		{"decimal through a function", `{{ .amount | replace "." "," }}`, "12,5"},
		{"timestamp as RFC 3339 text", "{{ .created }}", "2024-03-01T12:30:00.5Z"},
		{"timestamp is a string", `{{ slice .created 0 10 }}`, "2024-03-01"},
		{"date as text", "{{ .day }}", "2024-03-01"},
		{"NULL prints as nothing", "{{ .name }}|{{ .plan }}|", "ada LOVELACE||"},
		{"NULL through a function", "[{{ .plan | upper }}]", "[]"},
		{"NULL is false", "{{ if .plan }}paid{{ else }}none{{ end }}", "none"},
		{"NULL compares unequal", `{{ if eq .plan "pro" }}pro{{ else }}other{{ end }}`, "other"},
		{"NULL with with", "{{ with .plan }}{{ . }}{{ else }}none{{ end }}", "none"},
		{"dollar column", "{{ $.email | lower }}", "ada@example.com"},
		{"dollar column inside range", "{{ range .tags }}{{ $.id }}{{ end }}", "777"},
		{"variable", "{{ $e := .email }}{{ $e | upper }}", "ADA@EXAMPLE.COM"},
		{"parenthesised", `{{ (.email | lower) | replace "a" "4" }}`, "4d4@ex4mple.com"},
		{"constant only", "fixed", "fixed"},
		{"nested define", `{{ define "x" }}<{{ .id }}>{{ end }}{{ template "x" . }}`, "<7>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustNew(t, sync(tmpl("f", tt.src)), columns)
			got, err := m.Apply(testRow(), nil)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := []connector.FieldValue{{Name: "f", Value: tt.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Apply of %s (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestApplyTemplateError(t *testing.T) {
	m := mustNew(t, sync(column("id", "id"), tmpl("third", "{{ index .tags 5 }}")), columns)
	_, err := m.Apply(testRow(), nil)
	if err == nil {
		t.Fatal("Apply: no error for an index out of range")
	}
	if !strings.Contains(err.Error(), "mapping third") {
		t.Errorf("error %q does not name the mapping", err)
	}
	// Only that row fails: the next one maps.
	row := testRow()
	row[6] = []any{0, 1, 2, 3, 4, 5}
	got, err := m.Apply(row, nil)
	if err != nil {
		t.Fatalf("Apply of the next row: %v", err)
	}
	if got[1].Value != "5" {
		t.Errorf("third = %#v, want \"5\"", got[1].Value)
	}
}

func TestApplyReusesDst(t *testing.T) {
	m := mustNew(t, sync(column("a", "id"), tmpl("b", "{{ .email }}")), columns)
	dst := make([]connector.FieldValue, 5, 8)
	dst[0] = connector.FieldValue{Name: "stale", Value: "stale"}
	got, err := m.Apply(testRow(), dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || &got[0] != &dst[0] {
		t.Errorf("Apply returned %d fields in new storage; want 2 in dst's", len(got))
	}
	want := []connector.FieldValue{{Name: "a", Value: int64(7)}, {Name: "b", Value: "Ada@Example.com"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
}

func TestMapAll(t *testing.T) {
	cols := []string{"id", "email", "plan"}
	m := mustNew(t, &config.Sync{Name: "s", MapAll: true}, cols)
	got, err := m.Apply([]any{int64(1), "a@b.c", nil}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []connector.FieldValue{{Name: "id", Value: int64(1)}, {Name: "email", Value: "a@b.c"}, {Name: "plan", Value: nil}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(cols, m.Fields()); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
	if m.HashColumns() != nil {
		t.Errorf("HashColumns = %v, want nil (every column)", m.HashColumns())
	}
}

func TestNewErrors(t *testing.T) {
	pos := config.Pos{File: "riptide.yml", Line: 12, Col: 7}
	at := func(mp config.Mapping) config.Mapping { mp.Pos = pos; return mp }
	tests := []struct {
		name    string
		mapping config.Mapping
		want    []string // substrings of the error
	}{
		{
			name:    "column with a typo",
			mapping: at(column("mail", "emial")),
			want:    []string{"riptide.yml:12:7", "sync s", "mapping mail", `no column "emial"`, `did you mean "email"?`},
		},
		{
			name:    "column case differs",
			mapping: at(column("mail", "EMAIL")),
			want:    []string{`no column "EMAIL"`, `did you mean "email"?`},
		},
		{
			name:    "column unlike any",
			mapping: at(column("x", "zzzzzzzzzz")),
			want:    []string{`no column "zzzzzzzzzz"`, "(columns: id, email, name, plan,"},
		},
		{
			name:    "template with a typo",
			mapping: at(tmpl("mail", "{{ .emial | lower }}")),
			want:    []string{"riptide.yml:12:7", "sync s", "mapping mail", "uses .emial", `no column "emial"`, `did you mean "email"?`},
		},
		{
			name:    "template dollar column",
			mapping: at(tmpl("mail", "{{ $.emial }}")),
			want:    []string{"uses .emial", `did you mean "email"?`},
		},
		{
			name:    "template column in an if",
			mapping: at(tmpl("p", `{{ if .plna }}x{{ end }}`)),
			want:    []string{"uses .plna", `did you mean "plan"?`},
		},
		{
			name:    "template ranging over a missing column",
			mapping: at(tmpl("t", "{{ range .tgas }}{{ . }}{{ end }}")),
			want:    []string{"uses .tgas", `did you mean "tags"?`},
		},
		{
			name:    "template with a missing column after the whole row",
			mapping: at(tmpl("t", "{{ . }}{{ .nmae }}")),
			want:    []string{"uses .nmae", `did you mean "name"?`},
		},
		{
			name:    "template dollar column inside with",
			mapping: at(tmpl("t", "{{ with .email }}{{ $.nmae }}{{ end }}")),
			want:    []string{"uses .nmae"},
		},
		{
			name:    "template that does not parse",
			mapping: at(tmpl("t", "{{ .email ")),
			want:    []string{"riptide.yml:12:7", "mapping t"},
		},
		{
			name:    "template calling an unknown function",
			mapping: at(tmpl("t", "{{ .email | nosuch }}")),
			want:    []string{"mapping t", `"nosuch" not defined`},
		},
		{
			name:    "static value of an unsupported type",
			mapping: at(static("v", struct{}{})),
			want:    []string{"riptide.yml:12:7", "mapping v", "unsupported value type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := transform.New(sync(column("id", "id"), tt.mapping), columns)
			if err == nil {
				t.Fatalf("New succeeded with fields %v", m.Fields())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHashColumns(t *testing.T) {
	cols := []string{"a", "b", "c", "d"}
	tests := []struct {
		name    string
		mapping []config.Mapping
		want    []int // nil: every column
	}{
		{"one column", []config.Mapping{column("x", "b")}, []int{1}},
		{"column order, not mapping order, once each", []config.Mapping{column("x", "d"), column("y", "b"), column("z", "b")}, []int{1, 3}},
		{"static values only", []config.Mapping{static("x", 1)}, []int{}},
		{"template fields", []config.Mapping{tmpl("x", "{{ .c }}-{{ .a | upper }}")}, []int{0, 2}},
		{"template dollar field", []config.Mapping{tmpl("x", "{{ $.d }}")}, []int{3}},
		{"template if and else", []config.Mapping{tmpl("x", "{{ if .a }}{{ .b }}{{ else }}{{ .c }}{{ end }}")}, []int{0, 1, 2}},
		{"template parenthesised", []config.Mapping{tmpl("x", `{{ (.a | lower) | replace "x" .b }}`)}, []int{0, 1}},
		{"template field of a field", []config.Mapping{tmpl("x", "{{ .a.inner }}")}, []int{0}},
		{"template and column", []config.Mapping{column("x", "d"), tmpl("y", "{{ .a }}")}, []int{0, 3}},
		{"template using the row", []config.Mapping{column("x", "a"), tmpl("y", "{{ . }}")}, nil},
		{"template printf of the row", []config.Mapping{tmpl("y", `{{ printf "%v" . }}`)}, nil},
		{"template with range", []config.Mapping{tmpl("y", "{{ range .a }}{{ end }}")}, nil},
		{"template with with", []config.Mapping{tmpl("y", "{{ with .a }}{{ .notacolumn }}{{ end }}")}, nil},
		{"template with bare dollar", []config.Mapping{tmpl("y", "{{ $ }}")}, nil},
		{"template with a variable", []config.Mapping{tmpl("y", "{{ $v := .a }}{{ $v }}")}, nil},
		{"template calling a template", []config.Mapping{tmpl("y", `{{ define "t" }}{{ .a }}{{ end }}{{ template "t" . }}`)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustNew(t, sync(tt.mapping...), cols)
			got := m.HashColumns()
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("HashColumns = %#v, want %#v", got, tt.want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("HashColumns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	cols := []string{"id", "email", "name"}
	base := func() *config.Sync {
		return sync(column("id", "id"), static("tier", 3), tmpl("label", "{{ .name | upper }}"))
	}
	fp := func(t *testing.T, s *config.Sync, cols []string) uint64 {
		t.Helper()
		return mustNew(t, s, cols).Fingerprint()
	}
	want := fp(t, base(), cols)

	t.Run("stable", func(t *testing.T) {
		if got := fp(t, base(), cols); got != want {
			t.Errorf("fingerprint of the same mapping: %x, then %x", want, got)
		}
		s := base()
		for i := range s.Mapping {
			s.Mapping[i].Pos = config.Pos{File: "moved.yml", Line: 40 + i, Col: 3}
		}
		s.Name, s.Destination, s.Mode, s.MaxChangePct = "renamed", "other", config.ModeMirror, 10
		if got := fp(t, s, cols); got != want {
			t.Errorf("fingerprint changed with positions and sync settings outside the mapping: %x, want %x", got, want)
		}
	})

	changes := []struct {
		name   string
		change func(s *config.Sync)
	}{
		{"column field name", func(s *config.Sync) { s.Mapping[0].Field = "ID" }},
		{"column source", func(s *config.Sync) { s.Mapping[0].Column = "email" }},
		{"static field name", func(s *config.Sync) { s.Mapping[1].Field = "level" }},
		{"static value", func(s *config.Sync) { s.Mapping[1].Value = 4 }},
		{"static value type", func(s *config.Sync) { s.Mapping[1].Value = "3" }},
		{"static value to null", func(s *config.Sync) { s.Mapping[1].Value = nil }},
		{"template field name", func(s *config.Sync) { s.Mapping[2].Field = "title" }},
		{"template text", func(s *config.Sync) { s.Mapping[2].Template = "{{ .name | lower }}" }},
		{"template spacing", func(s *config.Sync) { s.Mapping[2].Template = "{{.name | upper}}" }},
		{"column becomes static", func(s *config.Sync) { s.Mapping[0] = static("id", "id") }},
		{"static becomes column", func(s *config.Sync) { s.Mapping[1] = column("tier", "email") }},
		{"field order", func(s *config.Sync) { s.Mapping[0], s.Mapping[1] = s.Mapping[1], s.Mapping[0] }},
		{"field added", func(s *config.Sync) { s.Mapping = append(s.Mapping, column("email", "email")) }},
		{"field removed", func(s *config.Sync) { s.Mapping = s.Mapping[:2] }},
		{"map all", func(s *config.Sync) { s.Mapping, s.MapAll = nil, true }},
		{"type added", func(s *config.Sync) { s.Mapping[0].Type = "string" }},
		{"type of template", func(s *config.Sync) { s.Mapping[2].Type = "integer" }},
	}
	seen := map[uint64]string{want: "base"}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.change(s)
			got := fp(t, s, cols)
			if got == want {
				t.Errorf("fingerprint did not change")
			}
			if other, ok := seen[got]; ok {
				t.Errorf("fingerprint equals that of %q", other)
			}
			seen[got] = c.name
		})
	}

	t.Run("map all follows the columns", func(t *testing.T) {
		all := &config.Sync{Name: "s", MapAll: true}
		a := fp(t, all, cols)
		if b := fp(t, all, cols); a != b {
			t.Errorf("map all: %x, then %x", a, b)
		}
		if b := fp(t, all, append(slices.Clone(cols), "extra")); a == b {
			t.Error("map all: a new column left the fingerprint unchanged")
		}
		if b := fp(t, all, []string{"email", "id", "name"}); a == b {
			t.Error("map all: reordered columns left the fingerprint unchanged")
		}
	})
}

// Every function config lets a template call exists, and no other.
func TestFuncsMatchConfig(t *testing.T) {
	var names []string
	for name := range transform.Funcs() {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(config.TemplateFuncNames))
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("config.TemplateFuncNames and transform.Funcs differ (-config +transform):\n%s", diff)
	}
}

func TestPIINormalisation(t *testing.T) {
	f := transform.Funcs()
	email := f["normalize_email"].(func(any) string)
	phone := f["normalize_phone"].(func(any) string)
	tests := []struct {
		fn   func(any) string
		in   any
		want string
	}{
		{email, "  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"},
		{email, nil, ""},
		{phone, "+1 (555) 010-9999", "+15550109999"},
		{phone, "020 7946 0958", "02079460958"},
		{phone, int64(4915112345678), "4915112345678"},
		{phone, "", ""},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("normalise %v = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTypeConversions: a mapping's type converts the column's or
// template's value for the destination field; what cannot be converted
// fails the row with the value and the type named, never a silent zero.
func TestTypeConversions(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 500_000_000, time.UTC)
	tests := []struct {
		in   any
		typ  string
		want any
		err  string
	}{
		{nil, "integer", nil, ""},
		{int64(7), "string", "7", ""},
		{value.Decimal("12.5"), "string", "12.5", ""},
		{ts, "string", "2024-03-01T12:30:00.5Z", ""},
		{" 42 ", "integer", int64(42), ""},
		{"42.0", "integer", int64(42), ""},
		{"42.5", "integer", nil, `cannot convert "42.5" (text) to integer`},
		{3.0, "integer", int64(3), ""},
		{3.5, "integer", nil, `cannot convert "3.5" (a number) to integer`},
		{value.Decimal("10"), "integer", int64(10), ""},
		{true, "integer", int64(1), ""},
		{"twelve", "integer", nil, `cannot convert "twelve" (text) to integer`},
		{"12.50", "number", value.Decimal("12.5"), ""},
		{"-3", "number", int64(-3), ""},
		{"1e3", "number", value.Decimal("1000"), ""},
		{"12 seats", "number", nil, `cannot convert "12 seats" (text) to number`},
		{3.5, "number", 3.5, ""},
		{"Yes", "boolean", true, ""},
		{"f", "boolean", false, ""},
		{int64(1), "boolean", true, ""},
		{int64(2), "boolean", nil, `cannot convert "2" (a number) to boolean`},
		{"maybe", "boolean", nil, `cannot convert "maybe" (text) to boolean`},
		{ts, "date", value.Date("2024-03-01"), ""},
		{"2024-03-01 23:59:59", "date", value.Date("2024-03-01"), ""},
		{"2024-03-01T01:00:00+02:00", "date", value.Date("2024-02-29"), ""}, // the UTC day
		{"01/03/2024", "date", nil, `cannot convert "01/03/2024" (text) to date`},
		{value.Date("2024-03-01"), "datetime", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2024-03-01 12:30:00", "datetime", time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC), ""},
		{int64(5), "datetime", nil, `cannot convert "5" (a number) to datetime`},
		{value.Date("2024-03-01"), "epoch_ms", int64(1709251200000), ""},
		{ts, "epoch_ms", int64(1709296200500), ""},
		{int64(1709251200000), "epoch_ms", int64(1709251200000), ""},
		{[]any{"a"}, "integer", nil, `cannot convert "[\"a\"]" (a list) to integer`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v as %s", tt.in, tt.typ), func(t *testing.T) {
			m := config.Mapping{Field: "f", Column: "c", Type: tt.typ}
			mp := mustNew(t, sync(m), []string{"c"})
			got, err := mp.Apply([]any{tt.in}, nil)
			if tt.err != "" {
				if err == nil || err.Error() != "mapping f: "+tt.err {
					t.Fatalf("got %v, %v; want error %q", got, err, "mapping f: "+tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0].Value); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	t.Run("template", func(t *testing.T) {
		m := config.Mapping{Field: "seats", Template: "{{ .c }}0", Type: "integer"}
		got, err := mustNew(t, sync(m), []string{"c"}).Apply([]any{int64(4)}, nil)
		if err != nil || got[0].Value != int64(40) {
			t.Fatalf("got %v, %v; want 40 as an integer", got, err)
		}
	})
}
