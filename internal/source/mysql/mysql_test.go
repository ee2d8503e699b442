package mysql

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// open creates a test database, runs setup in it and opens the source on
// it.
func open(t *testing.T, setup ...string) connector.Source {
	t.Helper()
	url := testsvc.MySQLURL(t)
	cfg, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range setup {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	src, err := New(context.Background(), connector.Settings{"url": url}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T, setup []string) connector.Source {
		return open(t, setup...)
	})
}

func TestPlugin(t *testing.T) {
	p := Plugin()
	if p.Spec.Type != "mysql" || p.New == nil {
		t.Fatalf("plugin %+v", p.Spec)
	}
	if f, ok := p.Spec.Field("url"); !ok || !f.Required || f.Secret {
		t.Errorf("url field %+v: want required, not secret", f)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url                        string
		addr, user, pass, db       string
		params                     map[string]string
		tls, timeout, wantErr, not string
	}{
		{url: "mysql://app:p%40ss:word@db.internal:3307/shop?tls=skip-verify&timeout=5s&sql_mode=%27ANSI%27",
			addr: "db.internal:3307", user: "app", pass: "p@ss:word", db: "shop", tls: "skip-verify", timeout: "5s",
			params: map[string]string{"sql_mode": "'ANSI'", "time_zone": "'+00:00'"}},
		{url: "mysql://root@127.0.0.1/analytics", addr: "127.0.0.1:3306", user: "root", db: "analytics", timeout: "10s",
			params: map[string]string{"time_zone": "'+00:00'"}},
		{url: "mariadb://u:pw@[::1]:3306/d?time_zone=%27Europe%2FParis%27", addr: "[::1]:3306", user: "u", pass: "pw", db: "d", timeout: "10s",
			params: map[string]string{"time_zone": "'Europe/Paris'"}},
		{url: "postgres://u:s3cret@h/d", wantErr: "scheme", not: "s3cret"},
		{url: "mysql://u:s3cret@h:port/d", wantErr: "invalid mysql url", not: "s3cret"},
		{url: "mysql://u:s3cret@/d", wantErr: "no host", not: "s3cret"},
		{url: "mysql://u:s3cret@h/d?timeout=forever", wantErr: "invalid mysql url", not: "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			cfg, err := ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), tt.not) {
					t.Fatalf("error %v, want one about %q without %q", err, tt.wantErr, tt.not)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName, cfg.TLSConfig, cfg.Timeout.String()}
			want := []string{"tcp", tt.addr, tt.user, tt.pass, tt.db, tt.tls, tt.timeout}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if !cfg.ParseTime || cfg.Loc != time.UTC {
				t.Errorf("parseTime %v loc %v, want true UTC", cfg.ParseTime, cfg.Loc)
			}
			if diff := cmp.Diff(tt.params, cfg.Params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestTypeConversions(t *testing.T) {
	src := open(t,
		`CREATE TABLE types (
			ti TINYINT, b BOOL, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT,
			ubi BIGINT UNSIGNED, ui INT UNSIGNED, yr YEAR,
			d DECIMAL(12,2), dz DECIMAL(10,4), f FLOAT, db DOUBLE,
			vc VARCHAR(50), c CHAR(4), tx TEXT, e ENUM('sad','happy'), st SET('a','b','c'),
			dt DATE, dtt DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(3),
			j JSON, bl BLOB, bin VARBINARY(8), bt BIT(10)
		)`,
		`INSERT INTO types VALUES (
			-128, TRUE, -32768, 8388607, -2147483648, -9223372036854775808,
			18446744073709551615, 4294967295, 2024,
			12.50, 0.1000, 1.1, 2.5,
			'héllo', 'ab', 'long text', 'happy', 'a,c',
			'2024-02-29', '2024-03-10 12:34:56.789123', '2024-03-10 12:34:56.789', '-838:59:59.000',
			'{"b": 1, "a": [1, 2.50]}', X'DEADBEEF', X'0001', b'1000000001'
		)`,
		"INSERT INTO types (ti) VALUES (NULL)",
	)
	want := map[string]any{
		"ti": int64(-128), "b": int64(1), "si": int64(-32768), "mi": int64(8388607), "i": int64(math.MinInt32), "bi": int64(math.MinInt64),
		"ubi": value.Decimal("18446744073709551615"), "ui": int64(math.MaxUint32), "yr": int64(2024),
		"d": value.Decimal("12.5"), "dz": value.Decimal("0.1"), "f": 1.1, "db": 2.5,
		"vc": "héllo", "c": "ab", "tx": "long text", "e": "happy", "st": "a,c",
		"dt": value.Date("2024-02-29"), "dtt": utc("2024-03-10T12:34:56.789123Z"), "ts": utc("2024-03-10T12:34:56.789Z"), "tm": "-838:59:59.000",
		// MariaDB reports JSON columns as LONGTEXT: they arrive as text.
		"j": `{"b": 1, "a": [1, 2.50]}`, "bl": []byte{0xde, 0xad, 0xbe, 0xef}, "bin": []byte{0, 1}, "bt": int64(513),
	}
	rows, err := src.Query(context.Background(), "SELECT * FROM types ORDER BY ti IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	got := map[string]any{}
	for i, c := range rows.Columns() {
		got[c.Name] = rows.Values()[i]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	for i, v := range rows.Values() {
		if v != nil {
			t.Errorf("column %s: %#v, want NULL", rows.Columns()[i].Name, v)
		}
	}
	if rows.Next() || rows.Err() != nil {
		t.Fatalf("extra row or error: %v", rows.Err())
	}
	types := map[string]string{}
	for _, c := range rows.Columns() {
		types[c.Name] = c.DatabaseType
	}
	for name, typ := range map[string]string{"d": "DECIMAL(12,2)", "bi": "BIGINT", "ubi": "UNSIGNED BIGINT", "vc": "VARCHAR", "dtt": "DATETIME", "bl": "BLOB"} {
		if types[name] != typ {
			t.Errorf("column %s: database type %q, want %q", name, types[name], typ)
		}
	}
}

// Expressions typed by the server, among them a real JSON value where the
// server has one (MySQL), and the server's own JSON functions.
func TestExpressions(t *testing.T) {
	src := open(t)
	tests := []struct {
		expr string
		want any
	}{
		{"CAST(12.5 AS DECIMAL(10,3))", value.Decimal("12.5")},
		{"CAST('2024-01-02' AS DATE)", value.Date("2024-01-02")},
		{"CAST('2024-01-02 03:04:05' AS DATETIME)", utc("2024-01-02T03:04:05Z")},
		{"FROM_UNIXTIME(0)", utc("1970-01-01T00:00:00Z")},
		{"NULL", nil},
		{"''", ""},
		{"1 = 1", int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := sourcetest.All(context.Background(), src, "SELECT "+tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0][0]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unreachable", func(t *testing.T) {
		_, err := New(ctx, connector.Settings{"url": "mysql://riptide:s3cret-pw@127.0.0.1:1/db"}, "")
		if err == nil {
			t.Fatal("connected to port 1")
		}
		if want := "connect mysql 127.0.0.1:1: connection refused"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
	t.Run("access denied", func(t *testing.T) {
		_, err := New(ctx, connector.Settings{"url": "mysql://riptide_nobody:s3cret-pw@127.0.0.1:3306/db"}, "")
		if err == nil {
			t.Skip("the server let an unknown user in")
		}
		if !strings.HasPrefix(err.Error(), "connect mysql 127.0.0.1:3306: Access denied") || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error %q", err)
		}
	})
	src := open(t, "CREATE TABLE t (a INT)")
	tests := []struct {
		name, sql, want string
	}{
		{"missing table", "SELECT * FROM nope", "query: Error 1146 (42S02): Table"},
		{"two statements", "SELECT 1; SELECT 2", "query: Error 1064"},
		{"read only", "INSERT INTO t VALUES (1)", "READ ONLY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sourcetest.All(ctx, src, tt.sql)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
