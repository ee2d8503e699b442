package duckdb

import (
	"context"
	"math"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

func openMemory(t testing.TB, setup ...string) *Source {
	t.Helper()
	src, err := New(context.Background(), connector.Settings{"path": ":memory:"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	t.Cleanup(func() { s.Close() })
	for _, stmt := range setup {
		if err := s.exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return s
}

// one returns the single value of a one-row, one-column query, and the
// column's database type.
func one(t *testing.T, s *Source, sql string) (any, string) {
	t.Helper()
	rows, err := s.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("%s: no row: %v", sql, rows.Err())
	}
	v := rows.Values()[0]
	if rows.Next() {
		t.Fatalf("%s: more than one row", sql)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v, rows.Columns()[0].DatabaseType
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestTypeConversions(t *testing.T) {
	s := openMemory(t,
		"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
		"SET TimeZone = 'America/New_York'", // must not leak into timestamps
	)
	tests := []struct {
		expr     string
		want     any
		wantType string // checked when set
	}{
		{"42::TINYINT", int64(42), "TINYINT"},
		{"-300::SMALLINT", int64(-300), "SMALLINT"},
		{"2147483647::INTEGER", int64(math.MaxInt32), "INTEGER"},
		{"'-9223372036854775808'::BIGINT", int64(math.MinInt64), "BIGINT"},
		{"255::UTINYINT", int64(255), "UTINYINT"},
		{"65535::USMALLINT", int64(65535), ""},
		{"4294967295::UINTEGER", int64(math.MaxUint32), ""},
		{"9223372036854775807::UBIGINT", int64(math.MaxInt64), "UBIGINT"},
		{"18446744073709551615::UBIGINT", value.Decimal("18446744073709551615"), ""},
		{"5::HUGEINT", int64(5), "HUGEINT"},
		{"-5::HUGEINT", int64(-5), ""},
		{"-9223372036854775808::HUGEINT", int64(math.MinInt64), ""},
		{"9223372036854775808::HUGEINT", value.Decimal("9223372036854775808"), ""},
		{"-9223372036854775809::HUGEINT", value.Decimal("-9223372036854775809"), ""},
		{"170141183460469231731687303715884105727::HUGEINT", value.Decimal("170141183460469231731687303715884105727"), ""},
		{"'-170141183460469231731687303715884105728'::HUGEINT", value.Decimal("-170141183460469231731687303715884105728"), ""},
		{"340282366920938463463374607431768211455::UHUGEINT", value.Decimal("340282366920938463463374607431768211455"), "UHUGEINT"},
		{"7::UHUGEINT", int64(7), ""},
		{"sum(x) FROM (VALUES (1::BIGINT), (2)) t(x)", int64(3), "HUGEINT"},
		{"12.50::DECIMAL(12,2)", value.Decimal("12.5"), "DECIMAL(12,2)"},
		{"0.10::DECIMAL(12,2)", value.Decimal("0.1"), ""},
		{"-0.05::DECIMAL(4,2)", value.Decimal("-0.05"), "DECIMAL(4,2)"},
		{"0::DECIMAL(10,3)", value.Decimal("0"), ""},
		{"-7.00::DECIMAL(9,2)", value.Decimal("-7"), ""},
		{"100::DECIMAL(3,0)", value.Decimal("100"), ""},
		{"0.000000000000000001::DECIMAL(18,18)", value.Decimal("0.000000000000000001"), ""},
		{"-999999999999999999::DECIMAL(18,0)", value.Decimal("-999999999999999999"), ""},
		{"123456789012345678901234567.125::DECIMAL(38,3)", value.Decimal("123456789012345678901234567.125"), "DECIMAL(38,3)"},
		{"-0.5::DECIMAL(38,10)", value.Decimal("-0.5"), ""},
		{"1.1::FLOAT", 1.1, "FLOAT"},
		{"2.5::DOUBLE", 2.5, "DOUBLE"},
		{"'NaN'::DOUBLE", "NaN", ""},
		{"'-inf'::DOUBLE", "-Inf", ""},
		{"true", true, "BOOLEAN"},
		{"false", false, ""},
		{"'short'", "short", "VARCHAR"},
		{"''", "", ""},
		{"'exactly 12 b'", "exactly 12 b", ""},
		{"'a longer string with ünïcödé'", "a longer string with ünïcödé", ""},
		{"'happy'::mood", "happy", "ENUM('sad', 'ok', 'happy')"},
		{"DATE '2024-02-29'", value.Date("2024-02-29"), "DATE"},
		{"DATE '1969-12-31'", value.Date("1969-12-31"), ""},
		{"DATE '0001-01-01'", value.Date("0001-01-01"), ""},
		{"DATE '9999-12-31'", value.Date("9999-12-31"), ""},
		{"DATE 'infinity'", "infinity", ""},
		{"DATE '-infinity'", "-infinity", ""},
		{"TIMESTAMP '2024-03-10 12:34:56.789123'", utc("2024-03-10T12:34:56.789123Z"), "TIMESTAMP"},
		{"TIMESTAMPTZ '2024-03-10 12:34:56.789+02'", utc("2024-03-10T10:34:56.789Z"), "TIMESTAMP WITH TIME ZONE"},
		{"TIMESTAMP '1960-01-01 00:00:00'", utc("1960-01-01T00:00:00Z"), ""},
		{"'2024-03-10 12:34:56'::TIMESTAMP_S", utc("2024-03-10T12:34:56Z"), "TIMESTAMP_S"},
		{"'2024-03-10 12:34:56.123'::TIMESTAMP_MS", utc("2024-03-10T12:34:56.123Z"), "TIMESTAMP_MS"},
		{"'2024-03-10 12:34:56.123456789'::TIMESTAMP_NS", utc("2024-03-10T12:34:56.123456Z"), "TIMESTAMP_NS"},
		{"'infinity'::TIMESTAMP", "infinity", ""},
		{"'-infinity'::TIMESTAMPTZ", "-infinity", ""},
		{"TIME '12:34:56.5'", "12:34:56.5", "TIME"},
		{"TIME '00:00:00'", "00:00:00", ""},
		{"TIME '23:59:59.999999'", "23:59:59.999999", ""},
		{"'12:34:56+02'::TIMETZ", "12:34:56+02:00", "TIME WITH TIME ZONE"},
		{"INTERVAL '1 year 2 months 3 days 04:05:06.789'", "1 year 2 months 3 days 04:05:06.789", "INTERVAL"},
		{"'6f1b3e4c-8a2d-4b6e-9c0f-1a2b3c4d5e6f'::UUID", "6f1b3e4c-8a2d-4b6e-9c0f-1a2b3c4d5e6f", "UUID"},
		{"'00000000-0000-0000-0000-000000000000'::UUID", "00000000-0000-0000-0000-000000000000", ""},
		{"'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'::UUID", "ffffffff-ffff-ffff-ffff-ffffffffffff", ""},
		{`'\xAA\x00abc'::BLOB`, []byte{0xAA, 0, 'a', 'b', 'c'}, "BLOB"},
		{"''::BLOB", []byte{}, ""},
		{"'0101'::BIT", "0101", "BIT"},
		{"'1010101010101'::BIT", "1010101010101", ""},
		{`'{"b": 1, "a": [1, 2.50, "x"]}'::JSON`, value.JSON(`{"a":[1,2.50,"x"],"b":1}`), "JSON"},
		{`'{"b": 1, "a": 2}'`, `{"b": 1, "a": 2}`, "VARCHAR"},
		{"[1, 2, NULL]", []any{int64(1), int64(2), nil}, "INTEGER[]"},
		{"[]::VARCHAR[]", []any{}, "VARCHAR[]"},
		{"[[1], [2, 3]]", []any{[]any{int64(1)}, []any{int64(2), int64(3)}}, "INTEGER[][]"},
		{"['a', 'bb']", []any{"a", "bb"}, ""},
		{"[1.50, 2]::DECIMAL(5,2)[]", []any{value.Decimal("1.5"), value.Decimal("2")}, ""},
		{"[1, 2, 3]::INTEGER[3]", []any{int64(1), int64(2), int64(3)}, "INTEGER[3]"},
		{"{'b': 1, 'a': 'x'}", value.JSON(`{"a":"x","b":1}`), "STRUCT(b INTEGER, a VARCHAR)"},
		{"{'n': NULL::INTEGER, 'd': DATE '2024-01-02', 'm': 1.50::DECIMAL(4,2), 'l': [1]}", value.JSON(`{"d":"2024-01-02","l":[1],"m":1.5,"n":null}`), ""},
		{"MAP {'k2': 2, 'k1': 1}", value.JSON(`{"k1":1,"k2":2}`), "MAP(VARCHAR, INTEGER)"},
		{"MAP {1: 'a', 2: NULL}", value.JSON(`{"1":"a","2":null}`), ""},
		{"union_value(num := 2)::UNION(num INTEGER, str VARCHAR)", int64(2), "UNION(num INTEGER, str VARCHAR)"},
		{"union_value(str := 'x')::UNION(num INTEGER, str VARCHAR)", "x", ""},
		{"NULL::INTEGER", nil, ""},
		{"NULL::VARCHAR[]", nil, ""},
		{"NULL", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, typ := one(t, s, "SELECT "+tt.expr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if tt.wantType != "" && typ != tt.wantType {
				t.Errorf("database type %q, want %q", typ, tt.wantType)
			}
		})
	}
}

// Intervals and UUIDs are written as DuckDB itself casts them to text.
func TestTextMatchesDuckDB(t *testing.T) {
	s := openMemory(t)
	for _, expr := range []string{
		"INTERVAL '1 year 2 months 3 days 04:05:06.789'",
		"INTERVAL '-5 minutes'",
		"INTERVAL '0 seconds'",
		"INTERVAL '1 day'",
		"INTERVAL '2 days'",
		"INTERVAL '-1 year'",
		"INTERVAL '13 months'",
		"INTERVAL '36 hours'",
		"INTERVAL '1 microsecond'",
		"INTERVAL '-1 day -00:00:01.5'",
		"INTERVAL '100000 hours'",
		"gen_random_uuid()",
		"'12:34:56.000100'::TIME",
	} {
		t.Run(expr, func(t *testing.T) {
			rows, err := s.Query(context.Background(), "SELECT x, x::VARCHAR FROM (SELECT "+expr+" AS x)")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatal(rows.Err())
			}
			if got, want := rows.Values()[0], rows.Values()[1]; got != want {
				t.Errorf("got %q, DuckDB writes %q", got, want)
			}
		})
	}
}

func TestAppendDecimalMatchesDecimalFromScaled(t *testing.T) {
	values := []int64{0, 1, -1, 5, -5, 10, 100, 1250, -1250, 123456789, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	for scale := range 19 {
		for _, u := range values {
			got := string(appendDecimal(nil, u, scale))
			want := string(value.DecimalFromScaled(big.NewInt(u), scale))
			if got != want {
				t.Errorf("appendDecimal(%d, %d) = %q, want %q", u, scale, got, want)
			}
		}
	}
}

func TestAppendDate(t *testing.T) {
	for _, d := range []string{"1970-01-01", "1969-12-31", "2000-02-29", "2024-02-29", "1900-03-01", "0001-01-01", "9999-12-31", "1600-02-29"} {
		tm, _ := time.Parse("2006-01-02", d)
		days := tm.Unix() / 86400
		if got := string(appendDate(nil, days)); got != d {
			t.Errorf("appendDate(%d) = %q, want %q", days, got, d)
		}
	}
}

func TestColumnsDescribeResult(t *testing.T) {
	s := openMemory(t)
	rows, err := s.Query(context.Background(), "SELECT 1::BIGINT AS id, 'x' AS \"Odd Name\", {'a b': 1} AS s")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := []connector.Column{
		{Name: "id", DatabaseType: "BIGINT"},
		{Name: "Odd Name", DatabaseType: "VARCHAR"},
		{Name: "s", DatabaseType: `STRUCT("a b" INTEGER)`},
	}
	if diff := cmp.Diff(want, rows.Columns()); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

// Text columns with few distinct values reuse them; past dictLimit
// distinct values a column is read plainly. Both must read right.
func TestVarcharDictionary(t *testing.T) {
	s := openMemory(t)
	rows, err := s.Query(context.Background(),
		"SELECT i, 'v' || (i % 3), 'w' || (i % 1000), CASE WHEN i % 7 = 0 THEN NULL ELSE 'x' END FROM range(5000) t(i) ORDER BY i")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		v := rows.Values()
		i := v[0].(int64)
		if v[1] != "v"+strconv.FormatInt(i%3, 10) || v[2] != "w"+strconv.FormatInt(i%1000, 10) {
			t.Fatalf("row %d: %v", i, v)
		}
		if (i%7 == 0) != (v[3] == nil) {
			t.Fatalf("row %d: %v", i, v)
		}
		n++
	}
	if rows.Err() != nil || n != 5000 {
		t.Fatalf("%d rows, %v", n, rows.Err())
	}
}
