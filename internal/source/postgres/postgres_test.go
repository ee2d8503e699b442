package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// open creates a test database, runs setup in it and opens the source on
// it with extra settings.
func open(t *testing.T, extra connector.Settings, setup ...string) connector.Source {
	t.Helper()
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range setup {
		if _, err := conn.Exec(ctx, stmt).ReadAll(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	settings := connector.Settings{"url": url}
	for k, v := range extra {
		settings[k] = v
	}
	src, err := New(ctx, settings, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestConformance(t *testing.T) {
	for name, extra := range map[string]connector.Settings{
		"default fetch size": nil,
		// 5000 rows in batches of 100: many FETCHes, the last one empty.
		"small fetch size": {"fetch_size": 100},
	} {
		t.Run(name, func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T, setup []string) connector.Source {
				return open(t, extra, setup...)
			})
		})
	}
}

func TestPlugin(t *testing.T) {
	p := Plugin()
	if p.Spec.Type != "postgres" || p.New == nil {
		t.Fatalf("plugin %+v", p.Spec)
	}
	f, ok := p.Spec.Field("url")
	if !ok || !f.Required || f.Secret {
		t.Errorf("url field %+v: want required, not secret (the loader extracts its password)", f)
	}
	if f, _ := p.Spec.Field("fetch_size"); f.Default != 10000 {
		t.Errorf("fetch_size default %v", f.Default)
	}
	if f, _ := p.Spec.Field("statement_timeout"); f.Default != time.Duration(0) || f.Kind != connector.KindDuration {
		t.Errorf("statement_timeout %+v", f)
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
	src := open(t, nil,
		"CREATE TYPE mood AS ENUM ('sad', 'happy')",
		"CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
		// Timestamps must not depend on the session's zone.
		"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York'); END $$",
	)
	tests := []struct {
		expr     string
		want     any
		wantType string
	}{
		{"42::int2", int64(42), "smallint"},
		{"(-2147483648)::int4", int64(-2147483648), "integer"},
		{"9223372036854775807::int8", int64(9223372036854775807), "bigint"},
		{"4000000000::oid", int64(4000000000), "oid"},
		{"12.50::numeric(12,2)", value.Decimal("12.5"), "numeric(12,2)"},
		{"0.10::numeric(12,2)", value.Decimal("0.1"), ""},
		{"-0.05::numeric", value.Decimal("-0.05"), "numeric"},
		{"0::numeric(10,3)", value.Decimal("0"), ""},
		{"-7.00::numeric", value.Decimal("-7"), ""},
		{"10000::numeric", value.Decimal("10000"), ""},
		{"1.0001::numeric", value.Decimal("1.0001"), ""},
		{"0.00000001::numeric", value.Decimal("0.00000001"), ""},
		{"123456789012345678901234567890.123456789::numeric", value.Decimal("123456789012345678901234567890.123456789"), ""},
		{"1e20::numeric", value.Decimal("100000000000000000000"), ""},
		{"'NaN'::numeric", "NaN", ""},
		{"'-Infinity'::numeric", "-Infinity", ""},
		{"1.1::float4", 1.1, "real"},
		{"2.5::float8", 2.5, "double precision"},
		{"'NaN'::float8", "NaN", ""},
		{"'Infinity'::float4", "+Inf", ""},
		{"'hello'::text", "hello", "text"},
		{"''::text", "", ""},
		{"'ünïcödé'::varchar(20)", "ünïcödé", "character varying(20)"},
		{"'ab'::char(4)", "ab  ", "character(4)"},
		{"'tbl'::name", "tbl", "name"},
		{"true", true, "boolean"},
		{"false", false, ""},
		{"DATE '2024-02-29'", value.Date("2024-02-29"), "date"},
		{"DATE '1969-12-31'", value.Date("1969-12-31"), ""},
		{"DATE 'infinity'", "infinity", ""},
		{"DATE '-infinity'", "-infinity", ""},
		{"DATE '0044-03-15 BC'", "0044-03-15 BC", ""},
		{"TIMESTAMP '2024-03-10 12:34:56.789123'", utc("2024-03-10T12:34:56.789123Z"), "timestamp without time zone"},
		{"TIMESTAMPTZ '2024-03-10 12:34:56.789+02'", utc("2024-03-10T10:34:56.789Z"), "timestamp with time zone"},
		{"TIMESTAMP '1960-01-01 00:00:00'", utc("1960-01-01T00:00:00Z"), ""},
		{"'infinity'::timestamptz", "infinity", ""},
		{"'-infinity'::timestamp", "-infinity", ""},
		{"TIME '12:34:56.5'", "12:34:56.5", "time without time zone"},
		{"TIME '24:00:00'", "24:00:00", ""},
		{"'12:34:56+02'::timetz", "12:34:56+02", "time with time zone"},
		{"INTERVAL '1 year 2 months 3 days 04:05:06.789'", "1 year 2 mons 3 days 04:05:06.789", "interval"},
		{"'6F1B3E4C-8A2D-4B6E-9C0F-1A2B3C4D5E6F'::uuid", "6f1b3e4c-8a2d-4b6e-9c0f-1a2b3c4d5e6f", "uuid"},
		{`'\xdeadbeef'::bytea`, []byte{0xde, 0xad, 0xbe, 0xef}, "bytea"},
		{`''::bytea`, []byte{}, ""},
		{`'{"b": 1, "a": [1, 2.50]}'::json`, value.JSON(`{"a":[1,2.50],"b":1}`), "json"},
		{`'{"b": 1, "a": {"z": null, "y": "s"}}'::jsonb`, value.JSON(`{"a":{"y":"s","z":null},"b":1}`), "jsonb"},
		{"ARRAY[1, 2, NULL]::int4[]", []any{int64(1), int64(2), nil}, "integer[]"},
		{"'{}'::int8[]", []any{}, "bigint[]"},
		{"ARRAY[[1, 2], [3, 4]]", []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}}, ""},
		{"ARRAY['a', 'bb']", []any{"a", "bb"}, "text[]"},
		{"ARRAY[1.50, 2]::numeric[]", []any{value.Decimal("1.5"), value.Decimal("2")}, "numeric[]"},
		{"ARRAY[DATE '2024-01-02']", []any{value.Date("2024-01-02")}, "date[]"},
		{`ARRAY['{"b":1,"a":2}'::jsonb]`, []any{value.JSON(`{"a":2,"b":1}`)}, "jsonb[]"},
		{"'happy'::mood", "happy", "mood"},
		{"ARRAY['happy', 'sad']::mood[]", "{happy,sad}", "_mood"},
		{"5::positive", int64(5), "integer"},
		{"'10.0.0.1/32'::inet", "10.0.0.1", "inet"},
		{"NULL::int4", nil, ""},
		{"NULL::text[]", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			rows, err := src.Query(context.Background(), "SELECT "+tt.expr+" AS v")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			if diff := cmp.Diff(tt.want, rows.Values()[0]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if typ := rows.Columns()[0].DatabaseType; tt.wantType != "" && typ != tt.wantType {
				t.Errorf("database type %q, want %q", typ, tt.wantType)
			}
		})
	}
}

// Times, intervals and numerics decoded from the binary format read as
// PostgreSQL writes them as text.
func TestBinaryMatchesServerText(t *testing.T) {
	src := open(t, nil)
	exprs := []string{
		"INTERVAL '1 year 2 months 3 days 04:05:06.789'",
		"INTERVAL '-5 minutes'",
		"INTERVAL '0 seconds'",
		"INTERVAL '1 day'",
		"INTERVAL '-1 year'",
		"INTERVAL '-1 day +2 hours'",
		"INTERVAL '1 day -2 hours'",
		"INTERVAL '-1 month -1 day'",
		"INTERVAL '100000 hours'",
		"INTERVAL '1 microsecond'",
		"INTERVAL '-13 months'",
		"TIME '00:00:00.000001'",
		"'23:59:59.999999+05:30'::timetz",
		"'00:00:00-03'::timetz",
	}
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			got, err := sourcetest.All(context.Background(), src, "SELECT x, x::text FROM (SELECT "+expr+" AS x) s")
			if err != nil {
				t.Fatal(err)
			}
			if got[0][0] != got[0][1] {
				t.Errorf("decoded %q, PostgreSQL writes %q", got[0][0], got[0][1])
			}
		})
	}
	t.Run("numerics", func(t *testing.T) {
		got, err := sourcetest.All(context.Background(), src, `
			SELECT x, x::text FROM (
				SELECT (random() * 10 ^ (random() * 30 - 12))::numeric(60, 20) * sign(random() - 0.5)::numeric AS x
				FROM generate_series(1, 2000)
				UNION ALL SELECT round(random()::numeric * 100000, (random() * 8)::int) FROM generate_series(1, 2000)
				UNION ALL VALUES (0.0001), (10000), (99990000), (-1.10), (100000000.00000001)
			) s`)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range got {
			want, err := value.ParseDecimal(row[1].(string))
			if err != nil {
				t.Fatal(err)
			}
			if row[0] != want {
				t.Fatalf("decoded %v, PostgreSQL writes %s", row[0], row[1])
			}
		}
	})
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unreachable", func(t *testing.T) {
		_, err := New(ctx, connector.Settings{"url": "postgres://riptide:s3cret-pw@127.0.0.1:1/db"}, "")
		if err == nil {
			t.Fatal("connected to port 1")
		}
		if want := "connect postgres 127.0.0.1:1: connection refused"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
	t.Run("bad url", func(t *testing.T) {
		_, err := New(ctx, connector.Settings{"url": "postgres://riptide:s3cret-pw@127.0.0.1:notaport/db"}, "")
		if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.HasPrefix(err.Error(), "postgres: invalid url") {
			t.Errorf("error %v: want an invalid url message without the password", err)
		}
	})
	src := open(t, connector.Settings{"statement_timeout": 50 * time.Millisecond}, "CREATE SEQUENCE seq")
	tests := []struct {
		name, sql string
		want      string
	}{
		{"missing table", "SELECT * FROM nope", `query: ERROR: relation "nope" does not exist (SQLSTATE 42P01)`},
		{"not a query", "DELETE FROM nope", "query: ERROR: syntax error"},
		{"two statements", "SELECT 1; SELECT 2", "cannot insert multiple commands"},
		{"read only", "SELECT nextval('seq')", "read-only transaction"},
		{"statement timeout", "SELECT pg_sleep(5)", "statement timeout"},
		{"runtime error", "SELECT 1 / (g - 3) FROM generate_series(1, 5) g", "division by zero"},
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

func TestSessionSettings(t *testing.T) {
	src := open(t, nil)
	got, err := sourcetest.All(context.Background(), src,
		"SELECT current_setting('application_name'), current_setting('transaction_read_only'), current_setting('cursor_tuple_fraction');")
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"riptide", "on", "1"}; !cmp.Equal(want, got[0]) {
		t.Errorf("settings %v, want %v", got[0], want)
	}
}

func TestPlansCursorsForFastStart(t *testing.T) {
	for v, want := range map[string]bool{
		"15.20 (Debian 15.20-0+deb12u1)": true,
		"9.6.24":                         true,
		"8.4.1":                          true,
		"8.0.2":                          false, // Redshift
		"8.3":                            false,
		"17devel":                        true,
		"":                               false,
	} {
		if got := plansCursorsForFastStart(v); got != want {
			t.Errorf("plansCursorsForFastStart(%q) = %v, want %v", v, got, want)
		}
	}
}

// A statement still running on the server when the context is canceled
// ends with the context's error.
func TestCancelRunningStatement(t *testing.T) {
	src := open(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(100 * time.Millisecond) // only orders the cancel after the start
		cancel()
	}()
	_, err := sourcetest.All(ctx, src, "SELECT pg_sleep(30)")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
