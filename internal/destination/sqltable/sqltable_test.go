package sqltable

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

func TestResolveIdentifier(t *testing.T) {
	tests := []struct {
		name   string
		target connector.Target
		want   []string
		err    string
	}{
		{"default from the primary key", connector.Target{Mode: "upsert", Fields: []string{"email", "id"}, PrimaryKey: []string{"id"}}, []string{"id"}, ""},
		{"composite default in key order", connector.Target{Mode: "mirror", Fields: []string{"b", "x", "a"}, PrimaryKey: []string{"a", "b"}}, []string{"a", "b"}, ""},
		{"declared", connector.Target{Mode: "upsert", Fields: []string{"email", "id"}, PrimaryKey: []string{"id"}, Identifier: []string{"email"}}, []string{"email"}, ""},
		{"no default", connector.Target{Mode: "upsert", Fields: []string{"email"}, PrimaryKey: []string{"id"}}, nil, "set identifier"},
		{"declared but not mapped", connector.Target{Mode: "upsert", Fields: []string{"email"}, PrimaryKey: []string{"id"}, Identifier: []string{"id"}}, nil, `identifier column "id" is not a mapped field`},
		{"mirror with a partial key", connector.Target{Mode: "mirror", Fields: []string{"a"}, PrimaryKey: []string{"a", "b"}}, nil, "one column per primary key column"},
	}
	for _, tt := range tests {
		got, err := ResolveIdentifier(tt.target)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseObject(t *testing.T) {
	tests := []struct {
		in          string
		quote       byte
		qual, table string
		err         string // the whole message; "" for success
	}{
		{in: "users", quote: '"', table: "users"},
		{in: "Users", quote: '"', table: "Users"},
		{in: "crm.users", quote: '"', qual: "crm", table: "users"},
		{in: `"my.table"`, quote: '"', table: "my.table"},
		{in: `app."odd.name"`, quote: '"', qual: "app", table: "odd.name"},
		{in: `"A ""b"""."c d"`, quote: '"', qual: `A "b"`, table: "c d"},
		{in: "`my.table`", quote: '"', qual: "`my", table: "table`"}, // backticks are plain text to PostgreSQL
		{in: "crm.`odd.name`", quote: '`', qual: "crm", table: "odd.name"},
		{in: "`a``b`.`c d`", quote: '`', qual: "a`b", table: "c d"},
		{in: `"x"`, quote: '`', table: `"x"`},
		{in: "", quote: '"', err: `object "": empty table or schema name; set object to "table" or "schema.table"`},
		{in: "", quote: '`', err: `object "": empty table or database name; set object to "table" or "database.table"`},
		{in: "a.", quote: '"', err: `object "a.": empty table or schema name; set object to "table" or "schema.table"`},
		{in: ".a", quote: '`', err: `object ".a": empty table or database name; set object to "table" or "database.table"`},
		{in: "a.b.c", quote: '"', err: `object "a.b.c": want "table" or "schema.table"`},
		{in: "a.b.c", quote: '`', err: `object "a.b.c": want "table" or "database.table"`},
		{in: `"open`, quote: '"', err: `object "\"open": unterminated quoted name`},
		{in: "`open``", quote: '`', err: "object \"`open``\": unterminated quoted name"},
		{in: `"a"b`, quote: '"', err: `object "\"a\"b": unexpected text after a quoted name`},
	}
	for _, tt := range tests {
		word := map[byte]string{'"': "schema", '`': "database"}[tt.quote]
		qual, table, err := ParseObject(tt.in, tt.quote, word)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseObject(%q, %c) = %q, %q, %v; want error %q", tt.in, tt.quote, qual, table, err, tt.err)
			}
			continue
		}
		if err != nil || qual != tt.qual || table != tt.table {
			t.Errorf("ParseObject(%q, %c) = %q, %q, %v; want %q, %q", tt.in, tt.quote, qual, table, err, tt.qual, tt.table)
		}
	}
}

func TestRuns(t *testing.T) {
	ops := func(s string) []connector.Record {
		var recs []connector.Record
		for _, op := range strings.Fields(s) {
			recs = append(recs, connector.Record{Op: connector.Op(op)})
		}
		return recs
	}
	tests := []struct {
		recs string
		want []string // start:op×len
	}{
		{"", nil},
		{"upsert", []string{"0:upsert×1"}},
		{"upsert upsert upsert", []string{"0:upsert×3"}},
		{"upsert delete upsert upsert delete", []string{"0:upsert×1", "1:delete×1", "2:upsert×2", "4:delete×1"}},
		{"insert update update delete delete", []string{"0:insert×1", "1:update×2", "3:delete×2"}},
	}
	for _, tt := range tests {
		var got []string
		for start, run := range Runs(ops(tt.recs)) {
			for _, r := range run {
				if r.Op != run[0].Op {
					t.Errorf("Runs(%s): run at %d mixes %s and %s", tt.recs, start, run[0].Op, r.Op)
				}
			}
			got = append(got, fmt.Sprintf("%d:%s×%d", start, run[0].Op, len(run)))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Runs(%s) (-want +got):\n%s", tt.recs, diff)
		}
	}
	var n int
	for range Runs(ops("insert delete insert")) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("Runs went on after break")
	}
}

func TestNoMatch(t *testing.T) {
	r := connector.Record{Op: connector.OpUpdate, Fields: []connector.FieldValue{{Name: "org", Value: "a"}, {Name: "id", Value: int64(99)}, {Name: "x", Value: nil}}}
	tests := []struct {
		ident []string
		want  string
	}{
		{[]string{"id"}, `no row of "public"."users" matches identifier (id=99)`},
		{[]string{"org", "id"}, `no row of "public"."users" matches identifier (org=a, id=99)`},
		{[]string{"x"}, `no row of "public"."users" matches identifier (x=<nil>)`},
	}
	for _, tt := range tests {
		if got := NoMatch(`"public"."users"`, tt.ident, r); got != tt.want {
			t.Errorf("NoMatch(%v) = %q, want %q", tt.ident, got, tt.want)
		}
	}
}

func TestNonIdent(t *testing.T) {
	tests := []struct {
		fields, ident, want []string
	}{
		{[]string{"id", "email", "plan"}, []string{"id"}, []string{"email", "plan"}},
		{[]string{"org", "role", "n"}, []string{"n", "org"}, []string{"role"}},
		{[]string{"id"}, []string{"id"}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, NonIdent(tt.fields, tt.ident)); diff != "" {
			t.Errorf("NonIdent(%v, %v) (-want +got):\n%s", tt.fields, tt.ident, diff)
		}
	}
}

func rec(key string, fields ...any) connector.Record {
	r := connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: strings.Split(key, "|")}
	for i := 0; i < len(fields); i += 2 {
		r.Fields = append(r.Fields, connector.FieldValue{Name: fields[i].(string), Value: fields[i+1]})
	}
	return r
}

func TestFirstNonNull(t *testing.T) {
	recs := []connector.Record{
		rec("1", "id", int64(1), "a", nil, "b", "x"),
		rec("2", "id", int64(2), "b", "y", "a", int64(7)), // out of mapping order
		rec("3", "id", int64(3)),
	}
	tests := []struct {
		i     int
		field string
		want  any
	}{
		{0, "id", int64(1)},
		{1, "a", int64(7)},
		{2, "b", "x"},
		{3, "c", nil},
	}
	for _, tt := range tests {
		if got := FirstNonNull(recs, tt.i, tt.field); got != tt.want {
			t.Errorf("FirstNonNull(%d, %q) = %v, want %v", tt.i, tt.field, got, tt.want)
		}
	}
}

// argsMismatch says how bind arguments differ from want, or the error
// from a non-retryable RequestError with the message wantErr when that is
// set; "" when they match.
func argsMismatch(got []any, err error, want []any, wantErr string) string {
	if wantErr != "" {
		var re *connector.RequestError
		if !errors.As(err, &re) || re.Message != wantErr || re.Retryable || re.Auth {
			return fmt.Sprintf("err = %#v, want a RequestError %q", err, wantErr)
		}
		return ""
	}
	if err != nil {
		return err.Error()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return "(-want +got):\n" + diff
	}
	return ""
}

func TestFieldArgs(t *testing.T) {
	fields := []string{"id", "name"}
	conv := func(i int, v any) any { return fmt.Sprintf("%s:%v", fields[i], v) }
	tests := []struct {
		name string
		recs []connector.Record
		want []any
		err  string
	}{
		{"none", nil, []any{}, ""},
		{"in mapping order", []connector.Record{rec("1", "id", 1, "name", "a"), rec("2", "id", 2, "name", nil)},
			[]any{"id:1", "name:a", "id:2", "name:<nil>"}, ""},
		{"out of mapping order", []connector.Record{rec("1", "name", "a", "id", 1, "extra", true)}, []any{"id:1", "name:a"}, ""},
		{"missing field", []connector.Record{rec("1", "id", 1, "name", "a"), rec("2", "id", 2)}, nil,
			`record lacks a mapped field "name" (key 2)`},
	}
	for _, tt := range tests {
		got, err := FieldArgs(tt.recs, fields, conv)
		if msg := argsMismatch(got, err, tt.want, tt.err); msg != "" {
			t.Errorf("%s: %s", tt.name, msg)
		}
	}
}

func TestKeyArgs(t *testing.T) {
	ident := []string{"org", "n"}
	conv := func(i int, part string) (any, error) {
		if part == "bad" {
			return nil, errors.New("not a number")
		}
		return ident[i] + "=" + part, nil
	}
	tests := []struct {
		name string
		keys []string
		want []any
		err  string
	}{
		{"none", nil, []any{}, ""},
		{"in order", []string{"a|1", "b|2"}, []any{"org=a", "n=1", "org=b", "n=2"}, ""},
		{"too few parts", []string{"a|1", "b"}, nil, `delete of key "b": the key has 1 part(s) but the identifier has 2 column(s)`},
		{"refused part", []string{"a|bad"}, nil, `delete of key "a|bad": not a number`},
	}
	for _, tt := range tests {
		var recs []connector.Record
		for _, k := range tt.keys {
			r := rec(k)
			r.Op = connector.OpDelete
			recs = append(recs, r)
		}
		got, err := KeyArgs(recs, ident, conv)
		if msg := argsMismatch(got, err, tt.want, tt.err); msg != "" {
			t.Errorf("%s: %s", tt.name, msg)
		}
	}
}

func TestHasKey(t *testing.T) {
	tests := []struct {
		keys [][]string
		cols []string
		want bool
	}{
		{nil, []string{"id"}, false},
		{[][]string{{"id"}}, []string{"id"}, true},
		{[][]string{{"email"}, {"n", "org"}}, []string{"org", "n"}, true},
		{[][]string{{"org", "n", "role"}}, []string{"org", "n"}, false},
		{[][]string{{"org"}}, []string{"org", "n"}, false},
		{[][]string{{"ID"}}, []string{"id"}, false}, // names compare exactly
	}
	for _, tt := range tests {
		keys := make([][]string, len(tt.keys))
		for i, k := range tt.keys {
			keys[i] = append([]string(nil), k...)
		}
		if got := HasKey(keys, tt.cols); got != tt.want {
			t.Errorf("HasKey(%v, %v) = %v, want %v", tt.keys, tt.cols, got, tt.want)
		}
		if fmt.Sprint(keys) != fmt.Sprint(tt.keys) {
			t.Errorf("HasKey reordered its keys: %v", keys)
		}
	}
}
