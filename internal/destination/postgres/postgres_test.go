package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable/sqltabletest"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// fixture is one test's database: an admin connection for setting up and
// reading back, and the URL the destination connects with.
type fixture struct {
	url  string
	conn *pgx.Conn
}

func setup(t *testing.T, ddl ...string) fixture {
	t.Helper()
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, s := range ddl {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return fixture{url: url, conn: conn}
}

func (f fixture) open(t *testing.T, settings connector.Settings, target connector.Target) connector.Destination {
	t.Helper()
	return sqltabletest.Open(t, Plugin(), f.url, settings, target)
}

func (f fixture) build(settings connector.Settings, target connector.Target) (connector.Destination, error) {
	return sqltabletest.Build(Plugin(), f.url, settings, target)
}

// dump returns the query's rows as text, NULL as "<null>"; the query
// casts what it selects to text.
func (f fixture) dump(t *testing.T, sql string) [][]string {
	t.Helper()
	rows, err := f.conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = "<null>"
			} else {
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	rec         = sqltabletest.Rec
	user        = sqltabletest.User
	del         = sqltabletest.Del
	batch       = sqltabletest.Batch
	usersTarget = sqltabletest.UsersTarget()
)

const usersDDL = `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, plan text, score int)`

// TestOps applies a sequence of batches to one table and checks the
// table and the returned error after each.
func TestOps(t *testing.T) {
	f := setup(t, usersDDL)
	d := f.open(t, nil, usersTarget)
	steps := []struct {
		name    string
		batch   *connector.Batch
		wantErr string // substring of a non-retryable RequestError; "" for success
		wantRow map[int]string
		want    [][]string
	}{
		{
			name:  "upsert creates",
			batch: batch(user("upsert", 1, "a@x.io", "free"), user("upsert", 2, "b@x.io", nil), user("upsert", 3, "c@x.io", "pro")),
			want:  [][]string{{"1", "a@x.io", "free"}, {"2", "b@x.io", "<null>"}, {"3", "c@x.io", "pro"}},
		},
		{
			name:  "upsert updates and creates",
			batch: batch(user("upsert", 2, "b2@x.io", "team"), user("upsert", 4, "d@x.io", "free")),
			want:  [][]string{{"1", "a@x.io", "free"}, {"2", "b2@x.io", "team"}, {"3", "c@x.io", "pro"}, {"4", "d@x.io", "free"}},
		},
		{
			name:  "insert",
			batch: batch(user("insert", 5, "e@x.io", "free")),
			want:  [][]string{{"1", "a@x.io", "free"}, {"2", "b2@x.io", "team"}, {"3", "c@x.io", "pro"}, {"4", "d@x.io", "free"}, {"5", "e@x.io", "free"}},
		},
		{
			name:    "insert duplicate fails the batch",
			batch:   batch(user("insert", 6, "f@x.io", "free"), user("insert", 5, "dup@x.io", "free")),
			wantErr: `duplicate key value violates unique constraint "users_pkey": Key (id)=(5) already exists.`,
			want:    [][]string{{"1", "a@x.io", "free"}, {"2", "b2@x.io", "team"}, {"3", "c@x.io", "pro"}, {"4", "d@x.io", "free"}, {"5", "e@x.io", "free"}},
		},
		{
			name:    "update existing, missing one is a row error",
			batch:   batch(user("update", 3, "c3@x.io", nil), user("update", 99, "zz@x.io", "pro"), user("update", 1, "a@x.io", "pro")),
			wantRow: map[int]string{1: "no row of \"public\".\"users\" matches identifier (id=99)"},
			want:    [][]string{{"1", "a@x.io", "pro"}, {"2", "b2@x.io", "team"}, {"3", "c3@x.io", "<null>"}, {"4", "d@x.io", "free"}, {"5", "e@x.io", "free"}},
		},
		{
			name:  "delete",
			batch: batch(del("1"), del("4"), del("77")),
			want:  [][]string{{"2", "b2@x.io", "team"}, {"3", "c3@x.io", "<null>"}, {"5", "e@x.io", "free"}},
		},
		{
			name:  "mixed ops apply in order",
			batch: batch(user("upsert", 7, "g@x.io", "free"), del("7"), user("upsert", 8, "h@x.io", nil), del("2")),
			want:  [][]string{{"3", "c3@x.io", "<null>"}, {"5", "e@x.io", "free"}, {"8", "h@x.io", "<null>"}},
		},
	}
	for _, s := range steps {
		err := d.Write(context.Background(), s.batch)
		switch {
		case s.wantErr != "":
			var re *connector.RequestError
			if !errors.As(err, &re) || re.Retryable || re.Auth || re.Status != 0 {
				t.Fatalf("%s: err = %#v, want a non-retryable RequestError", s.name, err)
			}
			if re.Message != s.wantErr {
				t.Errorf("%s: message = %q, want %q", s.name, re.Message, s.wantErr)
			}
		case s.wantRow != nil:
			var rowErrs *connector.RowErrors
			if !errors.As(err, &rowErrs) {
				t.Fatalf("%s: err = %v, want RowErrors", s.name, err)
			}
			if diff := cmp.Diff(s.wantRow, rowErrs.Failed); diff != "" {
				t.Errorf("%s: row errors (-want +got):\n%s", s.name, diff)
			}
		case err != nil:
			t.Fatalf("%s: %v", s.name, err)
		}
		got := f.dump(t, `SELECT id::text, email, plan FROM users ORDER BY id`)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: table (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestCompositeKey(t *testing.T) {
	f := setup(t, `CREATE TABLE members (org text, n int, role text, PRIMARY KEY (org, n))`)
	target := connector.Target{Sync: "m", RunID: "r", Mode: "mirror", Object: "members",
		Fields: []string{"org", "n", "role"}, PrimaryKey: []string{"org", "n"}}
	d := f.open(t, nil, target)
	member := func(org string, n int64, role string) connector.Record {
		r := rec("upsert", "", "org", org, "n", n, "role", role)
		r.KeyParts = []string{org, fmt.Sprint(n)}
		r.Key = value.JoinKey(r.KeyParts)
		return r
	}
	ctx := context.Background()
	if err := d.Write(ctx, batch(member("a|b", 1, "admin"), member("a|b", 2, "user"), member("c", 1, "user"))); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, batch(member("c", 1, "owner"), del("a|b", "1"), del("c", "2"))); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a|b", "2", "user"}, {"c", "1", "owner"}}
	if diff := cmp.Diff(want, f.dump(t, `SELECT org, n::text, role FROM members ORDER BY org, n`)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// TestCreateTableRoundTrip writes every canonical value type into a table
// the destination creates, and reads each back.
func TestCreateTableRoundTrip(t *testing.T) {
	f := setup(t)
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	fields := []connector.FieldValue{
		{Name: "id", Value: "k-1"},
		{Name: "n", Value: int64(-9007199254740993)},
		{Name: "x", Value: 0.1},
		{Name: "amount", Value: value.Decimal("12345678901234567890.000000000001")},
		{Name: "ok", Value: true},
		{Name: "at", Value: ts},
		{Name: "day", Value: value.Date("2024-02-29")},
		{Name: "doc", Value: value.JSON(`{"a":[1,2.50],"b":"x"}`)},
		{Name: "tags", Value: []any{"a", int64(2), nil, value.Decimal("1.5")}},
		{Name: "raw", Value: []byte{0, 1, 2, 255}},
		{Name: "note", Value: "multi\nline 'quoted' \"text\" ✓"},
		{Name: "empty", Value: nil},
	}
	names := sqltabletest.Names(fields)
	target := connector.Target{Sync: "all_types", RunID: "r", Mode: "upsert", Object: "all_types",
		Fields: names, PrimaryKey: []string{"id"}}
	d := f.open(t, connector.Settings{"create_table": true}, target)
	nulls := sqltabletest.Nulls(fields)
	nulls[0].Value = "k-2"
	err := d.Write(context.Background(), batch(
		connector.Record{Op: "upsert", Key: "k-1", KeyParts: []string{"k-1"}, Fields: fields},
		connector.Record{Op: "upsert", Key: "k-2", KeyParts: []string{"k-2"}, Fields: nulls},
	))
	if err != nil {
		t.Fatal(err)
	}

	types := f.dump(t, `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'all_types'::regclass AND attnum > 0 ORDER BY attnum`)
	wantTypes := [][]string{{"id", "text"}, {"n", "bigint"}, {"x", "double precision"}, {"amount", "numeric"},
		{"ok", "boolean"}, {"at", "timestamp with time zone"}, {"day", "date"}, {"doc", "jsonb"}, {"tags", "jsonb"},
		{"raw", "bytea"}, {"note", "text"}, {"empty", "text"}}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("column types (-want +got):\n%s", diff)
	}
	pk := f.dump(t, `SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'all_types'::regclass AND i.indisprimary`)
	if diff := cmp.Diff([][]string{{"id"}}, pk); diff != "" {
		t.Errorf("primary key (-want +got):\n%s", diff)
	}

	var (
		id, amount, day, doc, tags, note string
		n                                int64
		x                                float64
		ok                               bool
		at                               time.Time
		raw                              []byte
		empty                            *string
	)
	err = f.conn.QueryRow(context.Background(), `SELECT id, n, x, amount::text, ok, at, day::text, doc::text, tags::text, raw, note, empty
		FROM all_types WHERE id = 'k-1'`).Scan(&id, &n, &x, &amount, &ok, &at, &day, &doc, &tags, &raw, &note, &empty)
	if err != nil {
		t.Fatal(err)
	}
	canonJSON := func(s string) value.JSON {
		j, err := value.ParseJSON([]byte(s))
		if err != nil {
			t.Fatalf("read back JSON %q: %v", s, err)
		}
		return j
	}
	dec, err := value.ParseDecimal(amount)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{id, n, x, dec, ok, value.Timestamp(at), value.Date(day), canonJSON(doc), canonJSON(tags), raw, note, nil}
	if empty != nil {
		got[11] = *empty
	}
	want := make([]any, len(fields))
	for i, fv := range fields {
		want[i] = fv.Value
	}
	// jsonb normalises numbers: 2.50 reads back as 2.50, and the array
	// column holds the array as JSON.
	want[7] = canonJSON(`{"a":[1,2.50],"b":"x"}`)
	want[8] = canonJSON(`["a",2,null,1.5]`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	nullRow := f.dump(t, `SELECT n, x, amount, ok, at, day, doc, tags, raw, note, empty FROM all_types WHERE id = 'k-2'`)
	for i, v := range nullRow[0] {
		if v != "<null>" {
			t.Errorf("column %d of the null row = %q, want NULL", i+1, v)
		}
	}
}

func TestCreateTableConcurrentFirstWrites(t *testing.T) {
	f := setup(t)
	target := usersTarget
	target.Object = "created"
	d := f.open(t, connector.Settings{"create_table": true}, target)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Write(context.Background(), batch(user("upsert", int64(i), fmt.Sprintf("u%d@x.io", i), "free")))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if got := f.dump(t, `SELECT count(*)::text FROM created`); got[0][0] != "8" {
		t.Errorf("rows = %s, want 8", got[0][0])
	}
}

func TestDeletesBeforeTableExistsAreNoOps(t *testing.T) {
	f := setup(t)
	target := usersTarget
	target.Object = "later"
	d := f.open(t, connector.Settings{"create_table": true}, target)
	if err := d.Write(context.Background(), batch(del("1"), del("2"))); err != nil {
		t.Fatalf("deletes into a table not yet created: %v", err)
	}
	if got := f.dump(t, `SELECT to_regclass('later')::text`); got[0][0] != "<null>" {
		t.Errorf("a deletes-only batch created the table")
	}
}

func TestArrayColumns(t *testing.T) {
	f := setup(t, `CREATE TABLE arr (id int PRIMARY KEY, ints int[], texts text[], doc json)`)
	target := connector.Target{Sync: "a", RunID: "r", Mode: "upsert", Object: "arr",
		Fields: []string{"id", "ints", "texts", "doc"}, PrimaryKey: []string{"id"}}
	d := f.open(t, nil, target)
	r := rec("upsert", "1", "id", int64(1),
		"ints", []any{int64(1), nil, int64(3)},
		"texts", []any{`a"b`, `c\d`, "NULL", "", "x,y"},
		"doc", []any{"a", value.Decimal("2.50")})
	if err := d.Write(context.Background(), batch(r)); err != nil {
		t.Fatal(err)
	}
	got := f.dump(t, `SELECT ints::text, array_to_json(texts)::text, doc::text FROM arr`)
	want := [][]string{{"{1,NULL,3}", `["a\"b","c\\d","NULL","","x,y"]`, `["a",2.50]`}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestBadRow checks that a batch with one row the database refuses fails
// as a whole, with the database's message, and writes nothing.
func TestBadRow(t *testing.T) {
	f := setup(t, usersDDL)
	target := usersTarget
	target.Fields = []string{"id", "email", "plan", "score"}
	d := f.open(t, nil, target)
	good := func(id int64) connector.Record {
		return rec("upsert", fmt.Sprint(id), "id", id, "email", "ok@x.io", "plan", "free", "score", int64(1))
	}
	tests := []struct {
		name  string
		batch *connector.Batch
		want  string
	}{
		{
			name:  "not null violation",
			batch: batch(good(1), rec("upsert", "2", "id", int64(2), "email", nil, "plan", "free", "score", int64(1)), good(3)),
			want:  `null value in column "email" of relation "users" violates not-null constraint: Failing row contains (2, null, free, 1).`,
		},
		{
			name:  "text into an integer column",
			batch: batch(good(1), rec("upsert", "2", "id", int64(2), "email", "e", "plan", "free", "score", "lots")),
			want:  `invalid input syntax for type integer: "lots"`,
		},
		{
			name:  "single record",
			batch: batch(rec("upsert", "2", "id", int64(2), "email", "e", "plan", "free", "score", int64(1)<<40)),
			want:  `value "1099511627776" is out of range for type integer`,
		},
		{
			name:  "record without a mapped field",
			batch: batch(good(1), rec("upsert", "2", "id", int64(2), "email", "e")),
			want:  `record lacks a mapped field "plan" (key 2)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Write(context.Background(), tt.batch)
			var re *connector.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *connector.RequestError", err)
			}
			if re.Retryable || re.Auth || re.Status != 0 {
				t.Errorf("error = %+v, want status 0, not retryable, not auth", re)
			}
			if re.Message != tt.want {
				t.Errorf("message = %q, want %q", re.Message, tt.want)
			}
			if got := f.dump(t, `SELECT count(*)::text FROM users`); got[0][0] != "0" {
				t.Errorf("%s rows written by a failed batch", got[0][0])
			}
		})
	}
}

func TestOddNames(t *testing.T) {
	f := setup(t,
		`CREATE SCHEMA "Odd Schema"`,
		`CREATE TABLE "Odd Schema"."we""ird.Table" ("Key" int PRIMARY KEY, "Email Address" text, "x""y" text, "select" text)`)
	target := connector.Target{Sync: "odd", RunID: "r", Mode: "mirror", Object: `"Odd Schema"."we""ird.Table"`,
		Fields: []string{"Key", "Email Address", `x"y`, "select"}, PrimaryKey: []string{"id"}, Identifier: []string{"Key"}}
	d := f.open(t, nil, target)
	odd := func(op connector.Op, k int64, v string) connector.Record {
		return rec(op, fmt.Sprint(k), "Key", k, "Email Address", v, `x"y`, v+"'", "select", v)
	}
	ctx := context.Background()
	for i, b := range []*connector.Batch{
		batch(odd("upsert", 1, "a"), odd("upsert", 2, "b")),
		batch(odd("upsert", 1, "a2"), odd("update", 2, "b2")),
		batch(del("2")),
	} {
		if err := d.Write(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	got := f.dump(t, `SELECT "Key"::text, "Email Address", "x""y", "select" FROM "Odd Schema"."we""ird.Table"`)
	if diff := cmp.Diff([][]string{{"1", "a2", "a2'", "a2"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSchemaSetting(t *testing.T) {
	f := setup(t, `CREATE SCHEMA crm`, `CREATE TABLE crm.users (id bigint PRIMARY KEY, email text NOT NULL, plan text)`)
	d := f.open(t, connector.Settings{"schema": "crm"}, usersTarget)
	if err := d.Write(context.Background(), batch(user("upsert", 1, "a@x.io", "free"))); err != nil {
		t.Fatal(err)
	}
	if got := f.dump(t, `SELECT email FROM crm.users`); len(got) != 1 || got[0][0] != "a@x.io" {
		t.Errorf("crm.users = %v", got)
	}
}

func TestFactoryErrors(t *testing.T) {
	f := setup(t, usersDDL, `CREATE TABLE nokey (id bigint, email text, plan text)`)
	tests := []struct {
		name     string
		settings connector.Settings
		target   func(*connector.Target)
		want     string
	}{
		{
			name:   "identifier cannot be defaulted",
			target: func(t *connector.Target) { t.Fields = []string{"email", "plan"} },
			want:   "no mapped field is named like the model's primary key (id), so the identifier cannot be defaulted: set identifier",
		},
		{
			name:   "identifier not mapped",
			target: func(t *connector.Target) { t.Identifier = []string{"score"} },
			want:   `identifier column "score" is not a mapped field`,
		},
		{
			name:   "mirror needs one identifier column per key column",
			target: func(t *connector.Target) { t.Identifier = []string{"id", "email"} },
			want:   "mirror deletes rows by primary key",
		},
		{
			name:   "missing table",
			target: func(t *connector.Target) { t.Object = "nope" },
			want:   `table "public"."nope" does not exist; create it or set create_table: true`,
		},
		{
			name:   "missing column",
			target: func(t *connector.Target) { t.Fields = []string{"id", "Email", "plan"} },
			want:   `table "public"."users" has no column "Email"`,
		},
		{
			name:   "upsert without a unique index",
			target: func(t *connector.Target) { t.Object = "nokey"; t.Mode = "upsert" },
			want:   `upsert needs a primary key or unique index on exactly the identifier column(s) "id"`,
		},
		{
			name:     "unreachable server",
			settings: connector.Settings{"url": "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"},
			want:     "postgres destination: connect to 127.0.0.1:1",
		},
		{
			name:     "bad object",
			target:   func(t *connector.Target) { t.Object = "a.b.c" },
			settings: nil,
			want:     `object "a.b.c": want "table" or "schema.table"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := usersTarget
			if tt.target != nil {
				tt.target(&target)
			}
			d, err := f.build(tt.settings, target)
			if err == nil {
				d.Close(context.Background())
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestUpdateModeWithoutUniqueIndex checks that update and insert modes
// need no unique index: only ON CONFLICT does.
func TestUpdateModeWithoutUniqueIndex(t *testing.T) {
	f := setup(t, `CREATE TABLE nokey (id bigint, email text, plan text)`, `INSERT INTO nokey VALUES (1, 'a', 'free')`)
	target := usersTarget
	target.Object, target.Mode = "nokey", "update"
	d := f.open(t, nil, target)
	if err := d.Write(context.Background(), batch(user("update", 1, "a2", "pro"))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"1", "a2", "pro"}}, f.dump(t, `SELECT id::text, email, plan FROM nokey`)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
