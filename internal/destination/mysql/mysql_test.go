package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable/sqltabletest"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// fixture is one test's database: an admin connection for setting up and
// reading back, and the URL the destination connects with.
type fixture struct {
	url string
	db  *sql.DB
}

func setup(t *testing.T, ddl ...string) fixture {
	t.Helper()
	url := testsvc.MySQLURL(t)
	cfg, err := driverConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	for _, s := range ddl {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return fixture{url: url, db: db}
}

func (f fixture) open(t *testing.T, settings connector.Settings, target connector.Target) connector.Destination {
	t.Helper()
	return sqltabletest.Open(t, Plugin(), f.url, settings, target)
}

func (f fixture) build(settings connector.Settings, target connector.Target) (connector.Destination, error) {
	return sqltabletest.Build(Plugin(), f.url, settings, target)
}

// dump returns the query's rows as text, NULL as "<null>".
func (f fixture) dump(t *testing.T, query string) [][]string {
	t.Helper()
	rows, err := f.db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "<null>"
			if v.Valid {
				row[i] = v.String
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

const usersDDL = `CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, plan TEXT, score INT)`

func requestError(t *testing.T, err error) *connector.RequestError {
	t.Helper()
	var re *connector.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *connector.RequestError", err)
	}
	if re.Retryable || re.Auth || re.Status != 0 {
		t.Errorf("error = %+v, want status 0, not retryable, not auth", re)
	}
	return re
}

// TestOps applies a sequence of batches to one table and checks the
// table and the returned error after each.
func TestOps(t *testing.T) {
	f := setup(t, usersDDL)
	d := f.open(t, nil, usersTarget)
	steps := []struct {
		name    string
		batch   *connector.Batch
		wantErr string // the message of a non-retryable RequestError; "" for success
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
			wantErr: "Duplicate entry '5' for key 'PRIMARY'",
			want:    [][]string{{"1", "a@x.io", "free"}, {"2", "b2@x.io", "team"}, {"3", "c@x.io", "pro"}, {"4", "d@x.io", "free"}, {"5", "e@x.io", "free"}},
		},
		{
			name:    "update existing, missing one is a row error",
			batch:   batch(user("update", 3, "c3@x.io", nil), user("update", 99, "zz@x.io", "pro"), user("update", 1, "a@x.io", "pro")),
			wantRow: map[int]string{1: "no row of `" + dbName(f.url) + "`.`users` matches identifier (id=99)"},
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
			if re := requestError(t, err); re.Message != s.wantErr {
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
		got := f.dump(t, `SELECT id, email, plan FROM users ORDER BY id`)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: table (-want +got):\n%s", s.name, diff)
		}
	}
}

func dbName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

func TestCompositeKey(t *testing.T) {
	f := setup(t, `CREATE TABLE members (org VARCHAR(20), n INT, role TEXT, PRIMARY KEY (org, n))`)
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
	if diff := cmp.Diff(want, f.dump(t, `SELECT org, n, role FROM members ORDER BY org, n`)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
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
	if got := f.dump(t, `SELECT count(*) FROM created`); got[0][0] != "8" {
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
	if got := f.dump(t, `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'later'`); got[0][0] != "0" {
		t.Errorf("a deletes-only batch created the table")
	}
}

// TestBadRow checks that a batch with one row the server refuses fails as
// a whole, with the server's message, and writes nothing.
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
			want:  "Column 'email' cannot be null",
		},
		{
			name:  "text into an integer column",
			batch: batch(good(1), rec("upsert", "2", "id", int64(2), "email", "e", "plan", "free", "score", "lots")),
			want:  "Incorrect integer value: 'lots' for column `" + dbName(f.url) + "`.`users`.`score` at row 2",
		},
		{
			name:  "single record out of range",
			batch: batch(rec("upsert", "2", "id", int64(2), "email", "e", "plan", "free", "score", int64(1)<<40)),
			want:  "Out of range value for column 'score' at row 1",
		},
		{
			name:  "record without a mapped field",
			batch: batch(good(1), rec("upsert", "2", "id", int64(2), "email", "e")),
			want:  `record lacks a mapped field "plan" (key 2)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := requestError(t, d.Write(context.Background(), tt.batch))
			if re.Message != tt.want {
				t.Errorf("message = %q, want %q", re.Message, tt.want)
			}
			if got := f.dump(t, `SELECT count(*) FROM users`); got[0][0] != "0" {
				t.Errorf("%s rows written by a failed batch", got[0][0])
			}
		})
	}
}

func TestOddNames(t *testing.T) {
	f := setup(t, "CREATE TABLE `we``ird.Table` (`Key` INT PRIMARY KEY, `Email Address` TEXT, `x``y` TEXT, `select` TEXT)")
	target := connector.Target{Sync: "odd", RunID: "r", Mode: "mirror", Object: "`" + dbName(f.url) + "`.`we``ird.Table`",
		Fields: []string{"Key", "Email Address", "x`y", "select"}, PrimaryKey: []string{"id"}, Identifier: []string{"Key"}}
	d := f.open(t, nil, target)
	odd := func(op connector.Op, k int64, v string) connector.Record {
		return rec(op, fmt.Sprint(k), "Key", k, "Email Address", v, "x`y", v+"'", "select", v)
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
	got := f.dump(t, "SELECT `Key`, `Email Address`, `x``y`, `select` FROM `we``ird.Table`")
	if diff := cmp.Diff([][]string{{"1", "a2", "a2'", "a2"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFactoryErrors(t *testing.T) {
	f := setup(t, usersDDL, `CREATE TABLE nokey (id BIGINT, email TEXT, plan TEXT)`)
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
			want:   "`.`nope` does not exist; create it or set create_table: true",
		},
		{
			name:   "missing column",
			target: func(t *connector.Target) { t.Fields = []string{"id", "e_mail", "plan"} },
			want:   "`.`users` has no column `e_mail`",
		},
		{
			name:   "upsert without a unique key",
			target: func(t *connector.Target) { t.Object = "nokey"; t.Mode = "upsert" },
			want:   "upsert needs a primary key or unique key on exactly the identifier column(s) `id`",
		},
		{
			name:     "unreachable server",
			settings: connector.Settings{"url": "mysql://root:secret@127.0.0.1:1/x?timeout=2s"},
			want:     "mysql destination: connect to 127.0.0.1:1",
		},
		{
			name:     "not a mysql url",
			settings: connector.Settings{"url": "postgres://root:secret@127.0.0.1/x"},
			want:     "url must start with mysql://",
		},
		{
			name:   "bad object",
			target: func(t *connector.Target) { t.Object = "a.b.c" },
			want:   `object "a.b.c": want "table" or "database.table"`,
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
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestSession checks the session settings the destination relies on.
func TestSession(t *testing.T) {
	f := setup(t, usersDDL)
	d := f.open(t, nil, usersTarget).(*destination)
	var mode, zone string
	if err := d.db.QueryRow(`SELECT @@SESSION.sql_mode, @@SESSION.time_zone`).Scan(&mode, &zone); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mode, "STRICT_ALL_TABLES") || zone != "+00:00" {
		t.Errorf("sql_mode = %q, time_zone = %q; want strict mode and UTC", mode, zone)
	}
}

// TestChunking sends batches wider than one statement's placeholders.
func TestChunking(t *testing.T) {
	f := setup(t, usersDDL)
	d := f.open(t, nil, usersTarget).(*destination)
	d.maxParams = 7 // two rows of three fields, or seven keys, per statement
	ctx := context.Background()
	var ups, updates []connector.Record
	for i := int64(1); i <= 5; i++ {
		ups = append(ups, user("upsert", i, fmt.Sprintf("u%d", i), "free"))
		updates = append(updates, user("update", i, fmt.Sprintf("v%d", i), "pro"))
	}
	updates = append(updates, user("update", 42, "missing", "pro"))
	if err := d.Write(ctx, batch(ups...)); err != nil {
		t.Fatal(err)
	}
	err := d.Write(ctx, batch(updates...))
	var rowErrs *connector.RowErrors
	if !errors.As(err, &rowErrs) || len(rowErrs.Failed) != 1 || rowErrs.Failed[5] == "" {
		t.Fatalf("updates: err = %v, want one row error at index 5", err)
	}
	want := [][]string{{"1", "v1", "pro"}, {"2", "v2", "pro"}, {"3", "v3", "pro"}, {"4", "v4", "pro"}, {"5", "v5", "pro"}}
	if diff := cmp.Diff(want, f.dump(t, `SELECT id, email, plan FROM users ORDER BY id`)); diff != "" {
		t.Errorf("after updates (-want +got):\n%s", diff)
	}
	if err := d.Write(ctx, batch(del("1"), del("2"), del("3"), del("4"), del("6"), del("7"), del("8"), del("9"))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"5"}}, f.dump(t, `SELECT id FROM users`)); diff != "" {
		t.Errorf("after deletes (-want +got):\n%s", diff)
	}
}

func TestUpdateModeWithoutUniqueKey(t *testing.T) {
	f := setup(t, `CREATE TABLE nokey (id BIGINT, email TEXT, plan TEXT)`, `INSERT INTO nokey VALUES (1, 'a', 'free')`)
	target := usersTarget
	target.Object, target.Mode = "nokey", "update"
	d := f.open(t, nil, target)
	if err := d.Write(context.Background(), batch(user("update", 1, "a2", "pro"))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"1", "a2", "pro"}}, f.dump(t, `SELECT id, email, plan FROM nokey`)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
