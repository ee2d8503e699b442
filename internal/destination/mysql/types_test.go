package mysql

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable/sqltabletest"
	"github.com/riptide-data/riptide/internal/value"
)

// TestDeleteTypedKeys deletes by key parts whose text MySQL would not read
// back by itself: timestamps, booleans and bytes.
func TestDeleteTypedKeys(t *testing.T) {
	f := setup(t, `CREATE TABLE ev (at DATETIME(6), flag BOOLEAN, raw VARBINARY(16), PRIMARY KEY (at, flag, raw))`)
	target := connector.Target{Sync: "e", RunID: "r", Mode: "mirror", Object: "ev",
		Fields: []string{"at", "flag", "raw"}, PrimaryKey: []string{"at", "flag", "raw"}}
	d := f.open(t, nil, target)
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	row := func(flag bool) connector.Record {
		r := rec("upsert", "", "at", at, "flag", flag, "raw", []byte{0, 0xff})
		r.KeyParts = []string{value.Text(at), value.Text(flag), value.Text([]byte{0, 0xff})}
		return r
	}
	ctx := context.Background()
	if err := d.Write(ctx, batch(row(true), row(false))); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, batch(del(row(true).KeyParts...))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"2024-05-06T07:08:09.123456Z", "0"}}, f.dump(t, `SELECT at, flag FROM ev`)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCollation matches string identifiers by the column's collation, as
// its unique key does, even when the column's character set is not the
// connection's.
func TestCollation(t *testing.T) {
	f := setup(t, `CREATE TABLE acct (code VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_german2_ci PRIMARY KEY, name TEXT)`,
		`INSERT INTO acct VALUES ('abc', 'old'), ('straße', 'old')`)
	target := connector.Target{Sync: "a", RunID: "r", Mode: "update", Object: "acct",
		Fields: []string{"code", "name"}, PrimaryKey: []string{"code"}}
	d := f.open(t, nil, target)
	ctx := context.Background()
	if err := d.Write(ctx, batch(rec("update", "ABC", "code", "ABC", "name", "new"), rec("update", "STRASSE", "code", "STRASSE", "name", "new"))); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"abc", "new"}, {"straße", "new"}}
	if diff := cmp.Diff(want, f.dump(t, `SELECT code, name FROM acct ORDER BY name, code`)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCreateTableRoundTrip writes every canonical value type into a table
// the destination creates, updates every value, and reads each back.
func TestCreateTableRoundTrip(t *testing.T) {
	f := setup(t)
	first := []connector.FieldValue{
		{Name: "id", Value: "k-1"},
		{Name: "n", Value: int64(-9007199254740993)},
		{Name: "x", Value: 0.1},
		{Name: "amount", Value: value.Decimal("12345678901234567890.123456789")},
		{Name: "ok", Value: true},
		{Name: "at", Value: time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)},
		{Name: "day", Value: value.Date("2024-02-29")},
		{Name: "doc", Value: value.JSON(`{"a":[1,2.5],"b":"x"}`)},
		{Name: "tags", Value: []any{"a", int64(2), nil, value.Decimal("1.5")}},
		{Name: "raw", Value: []byte{0, 1, 2, 255}},
		{Name: "note", Value: "multi\nline 'quoted' \"text\" ✓ 🌊"},
		{Name: "empty", Value: nil},
	}
	second := []connector.FieldValue{
		{Name: "id", Value: "k-1"},
		{Name: "n", Value: int64(7)},
		{Name: "x", Value: -2.5e-300},
		{Name: "amount", Value: value.Decimal("-0.000000001")},
		{Name: "ok", Value: false},
		{Name: "at", Value: time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{Name: "day", Value: value.Date("1970-01-01")},
		{Name: "doc", Value: value.JSON(`[]`)},
		{Name: "tags", Value: []any{}},
		{Name: "raw", Value: []byte("\x00'\\")},
		{Name: "note", Value: ""},
		{Name: "empty", Value: "now set"},
	}
	names := sqltabletest.Names(first)
	target := connector.Target{Sync: "all_types", RunID: "r", Mode: "upsert", Object: "all_types",
		Fields: names, PrimaryKey: []string{"id"}}
	d := f.open(t, connector.Settings{"create_table": true}, target)
	nulls := sqltabletest.Nulls(first)
	nulls[0].Value = "k-2"
	ctx := context.Background()
	if err := d.Write(ctx, batch(
		connector.Record{Op: "upsert", Key: "k-1", KeyParts: []string{"k-1"}, Fields: first},
		connector.Record{Op: "upsert", Key: "k-2", KeyParts: []string{"k-2"}, Fields: nulls},
	)); err != nil {
		t.Fatal(err)
	}

	types := f.dump(t, `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'all_types' ORDER BY ORDINAL_POSITION`)
	for _, r := range types {
		if r[1] == "json" {
			r[1] = "longtext" // MariaDB's JSON is LONGTEXT with a validity check
		}
		r[1] = strings.TrimSuffix(r[1], "(20)") // MariaDB shows bigint(20)
	}
	wantTypes := [][]string{{"id", "varchar(255)"}, {"n", "bigint"}, {"x", "double"}, {"amount", "decimal(38,9)"},
		{"ok", "tinyint(1)"}, {"at", "datetime(6)"}, {"day", "date"}, {"doc", "longtext"}, {"tags", "longtext"},
		{"raw", "blob"}, {"note", "text"}, {"empty", "text"}}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("column types (-want +got):\n%s", diff)
	}
	if got := f.dump(t, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'all_types' AND CONSTRAINT_NAME = 'PRIMARY'`); !cmp.Equal(got, [][]string{{"id"}}) {
		t.Errorf("primary key = %v, want id", got)
	}
	readBack := func(id string) []any {
		t.Helper()
		var (
			key, amount, doc, tags, note string
			n                            int64
			x                            float64
			ok                           bool
			at, day                      time.Time
			raw                          []byte
			empty                        sql.NullString
		)
		err := f.db.QueryRow(`SELECT id, n, x, amount, ok, at, day, doc, tags, raw, note, empty FROM all_types WHERE id = ?`, id).
			Scan(&key, &n, &x, &amount, &ok, &at, &day, &doc, &tags, &raw, &note, &empty)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := value.ParseDecimal(amount)
		if err != nil {
			t.Fatal(err)
		}
		got := []any{key, n, x, dec, ok, value.Timestamp(at), value.DateOf(day), canonJSON(t, doc), canonJSON(t, tags), raw, note, nil}
		if empty.Valid {
			got[11] = empty.String
		}
		return got
	}
	want := func(fields []connector.FieldValue) []any {
		out := make([]any, len(fields))
		for i, fv := range fields {
			out[i] = fv.Value
		}
		out[7] = canonJSON(t, string(fields[7].Value.(value.JSON)))
		out[8] = canonJSON(t, value.Text(fields[8].Value))
		return out
	}
	if diff := cmp.Diff(want(first), readBack("k-1")); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for i, v := range f.dump(t, `SELECT n, x, amount, ok, at, day, doc, tags, raw, note, empty FROM all_types WHERE id = 'k-2'`)[0] {
		if v != "<null>" {
			t.Errorf("column %d of the null row = %q, want NULL", i+1, v)
		}
	}

	// Updates bind through a derived table: every type must survive it.
	update, err := f.build(connector.Settings{"create_table": true}, connector.Target{Sync: "all_types", RunID: "r2", Mode: "update",
		Object: "all_types", Fields: names, PrimaryKey: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer update.Close(ctx)
	if err := update.Write(ctx, batch(connector.Record{Op: "update", Key: "k-1", KeyParts: []string{"k-1"}, Fields: second})); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want(second), readBack("k-1")); diff != "" {
		t.Errorf("round trip through update (-want +got):\n%s", diff)
	}
}

func canonJSON(t *testing.T, s string) value.JSON {
	t.Helper()
	j, err := value.ParseJSON([]byte(s))
	if err != nil {
		t.Fatalf("read back JSON %q: %v", s, err)
	}
	return j
}
