package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

func TestDriverConfig(t *testing.T) {
	tests := []struct {
		url                     string
		addr, user, pass, db    string
		sqlMode, timeZone, coll string
		err                     string
	}{
		{url: "mysql://root@127.0.0.1:3306/app", addr: "127.0.0.1:3306", user: "root", db: "app",
			sqlMode: "CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')", timeZone: "'+00:00'"},
		{url: "mysql://u:p%40ss%2Fw:rd@db.internal/my%20db", addr: "db.internal:3306", user: "u", pass: "p@ss/w:rd", db: "my db",
			sqlMode: "CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')", timeZone: "'+00:00'"},
		{url: "mysql://u@[::1]:3307/app?collation=utf8mb4_bin&sql_mode=%27ANSI%27&time_zone=%27Europe%2FParis%27", addr: "[::1]:3307", user: "u", db: "app",
			sqlMode: "'ANSI'", timeZone: "'Europe/Paris'", coll: "utf8mb4_bin"},
		{url: "postgres://u@h/db", err: "url must start with mysql://"},
		{url: "mysql://u:secret@h", err: "url names no database"},
		{url: "mysql:///db", err: "url names no host"},
		{url: "mysql://u:secret@h:port/db", err: "url is not a valid mysql:// URL"},
		{url: "mysql://u@h/db?timeout=soon", err: "url options"},
	}
	for _, tt := range tests {
		cfg, err := driverConfig(tt.url)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("driverConfig(%q) error = %v, want %q", tt.url, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("driverConfig(%q) error %q shows the password", tt.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("driverConfig(%q): %v", tt.url, err)
			continue
		}
		got := []any{cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName, cfg.ParseTime, cfg.Loc, cfg.Params["sql_mode"], cfg.Params["time_zone"]}
		want := []any{"tcp", tt.addr, tt.user, tt.pass, tt.db, true, time.UTC, tt.sqlMode, tt.timeZone}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })); diff != "" {
			t.Errorf("driverConfig(%q) (-want +got):\n%s", tt.url, diff)
		}
		if tt.coll != "" && cfg.Collation != tt.coll {
			t.Errorf("driverConfig(%q) collation = %q, want %q", tt.url, cfg.Collation, tt.coll)
		}
	}
}

func TestSQL(t *testing.T) {
	d := &destination{
		table:  tableName{"app", "a`b"},
		fields: []string{"org", "id", "name"},
		ident:  []string{"org", "id"},
	}
	cols := map[string]column{"org": {DataType: "varchar", Charset: "latin1", Collation: "latin1_swedish_ci"}, "id": {DataType: "int"}}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"insert", d.insertSQL(2, false),
			"INSERT INTO `app`.`a``b` (`org`, `id`, `name`) VALUES (?, ?, ?), (?, ?, ?)"},
		{"upsert", d.insertSQL(1, true),
			"INSERT INTO `app`.`a``b` (`org`, `id`, `name`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"},
		{"update", d.updateSQL(2, cols),
			"UPDATE `app`.`a``b` AS t JOIN (SELECT 0 AS o, ? AS c0, ? AS c1, ? AS c2 UNION ALL SELECT 1, ?, ?, ?) AS v" +
				" ON t.`org` = CONVERT(v.c0 USING latin1) COLLATE latin1_swedish_ci AND t.`id` = v.c1 SET t.`name` = v.c2"},
		{"delete composite", d.deleteSQL(2),
			"DELETE FROM `app`.`a``b` WHERE (`org`, `id`) IN ((?, ?), (?, ?))"},
	}
	single := &destination{table: tableName{"app", "t"}, fields: []string{"id"}, ident: []string{"id"}}
	tests = append(tests,
		struct{ name, got, want string }{"delete single", single.deleteSQL(3), "DELETE FROM `app`.`t` WHERE `id` IN (?, ?, ?)"},
		struct{ name, got, want string }{"upsert of identifier only", single.insertSQL(1, true),
			"INSERT INTO `app`.`t` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id` = `id`"},
	)
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
	unsafe := map[string]column{"org": {Charset: "latin1; DROP", Collation: "x"}}
	if got := d.joinOn(unsafe); strings.Contains(got, "DROP") {
		t.Errorf("joinOn wrote an unsafe collation name into SQL: %s", got)
	}
}

func TestArgs(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	argTests := []struct {
		v, want any
	}{
		{nil, nil},
		{int64(3), int64(3)},
		{true, true},
		{1.5, 1.5},
		{"s", "s"},
		{ts, ts},
		{[]byte{1}, []byte{1}},
		{value.Decimal("-1.25"), "-1.25"},
		{value.Date("2024-01-02"), "2024-01-02"},
		{value.JSON(`{"a":1}`), `{"a":1}`},
		{[]any{int64(1), "x", nil}, `[1,"x",null]`},
	}
	for _, tt := range argTests {
		if diff := cmp.Diff(tt.want, arg(tt.v)); diff != "" {
			t.Errorf("arg(%#v) (-want +got):\n%s", tt.v, diff)
		}
	}
	keyTests := []struct {
		part string
		col  column
		want any
		err  bool
	}{
		{"42", column{DataType: "bigint"}, "42", false},
		{"2024-01-02T03:04:05.000006Z", column{DataType: "datetime"}, ts, false},
		{"yesterday", column{DataType: "timestamp"}, nil, true},
		{"AAH/", column{DataType: "varbinary"}, []byte{0, 1, 0xff}, false},
		{"!!", column{DataType: "blob"}, nil, true},
		{"true", column{DataType: "tinyint"}, int64(1), false},
		{"false", column{DataType: "tinyint"}, int64(0), false},
		{"7", column{DataType: "tinyint"}, "7", false},
		{"true", column{DataType: "varchar"}, "true", false},
	}
	for _, tt := range keyTests {
		got, err := keyArg(tt.part, tt.col)
		if (err != nil) != tt.err {
			t.Errorf("keyArg(%q, %s) error = %v, want error %v", tt.part, tt.col.DataType, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("keyArg(%q, %s) (-want +got):\n%s", tt.part, tt.col.DataType, diff)
		}
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		err  error
		want *connector.RequestError // nil: the error passes through unchanged
	}{
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry '1' for key 'PRIMARY'"},
			&connector.RequestError{Message: "Duplicate entry '1' for key 'PRIMARY'"}},
		{&mysql.MySQLError{Number: 1366, Message: "Incorrect integer value"}, &connector.RequestError{Message: "Incorrect integer value"}},
		{&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, &connector.RequestError{Message: "Deadlock found", Retryable: true}},
		{&mysql.MySQLError{Number: 1205, Message: "Lock wait timeout"}, &connector.RequestError{Message: "Lock wait timeout", Retryable: true}},
		{&mysql.MySQLError{Number: 1040, Message: "Too many connections"}, &connector.RequestError{Message: "Too many connections", Retryable: true}},
		{&mysql.MySQLError{Number: 1142, Message: "INSERT command denied"}, &connector.RequestError{Message: "INSERT command denied", Auth: true}},
		{mysql.ErrInvalidConn, nil},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("upsert 3 records: %w", tt.err)
		got := classify(ctx, wrapped)
		if tt.want == nil {
			if got != wrapped {
				t.Errorf("classify(%v) = %#v, want the error unchanged", tt.err, got)
			}
			continue
		}
		var re *connector.RequestError
		if !errors.As(got, &re) {
			t.Fatalf("classify(%v) = %v, want a RequestError", tt.err, got)
		}
		if diff := cmp.Diff(tt.want, re); diff != "" {
			t.Errorf("classify(%v) (-want +got):\n%s", tt.err, diff)
		}
	}
}
