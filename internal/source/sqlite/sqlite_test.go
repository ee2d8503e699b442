package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/value"
)

// open creates a database file in a project directory, runs setup in it
// and opens the source on it by its relative path.
func open(t *testing.T, setup ...string) connector.Source {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range setup {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	src, err := New(context.Background(), connector.Settings{"path": "warehouse.db"}, dir)
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
	if p.Spec.Type != "sqlite" || p.New == nil {
		t.Fatalf("plugin %+v", p.Spec)
	}
	if f, ok := p.Spec.Field("path"); !ok || !f.Required {
		t.Errorf("path field %+v", f)
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
	tests := []struct {
		col    string
		stored string // SQL literal
		want   any
	}{
		{"i", "42", int64(42)},
		{"i", "-9223372036854775808", int64(-9223372036854775808)},
		{"r", "2.5", 2.5},
		{"r", "9e999", "+Inf"},
		{"t", "'héllo'", "héllo"},
		{"t", "''", ""},
		{"b", "X'DEADBEEF'", []byte{0xde, 0xad, 0xbe, 0xef}},
		{"n", "'anything'", "anything"},
		{"n", "7", int64(7)},
		{"i", "NULL", nil},
		{"d", "'2024-02-29'", value.Date("2024-02-29")},
		{"d", "'2024-02-29 23:59:00'", value.Date("2024-02-29")},
		{"d", "'not a date'", "not a date"},
		{"d", "19782", int64(19782)},
		{"dtm", "'2024-03-10 12:34:56'", utc("2024-03-10T12:34:56Z")},
		{"ts", "'2024-03-10T12:34:56.789+02:00'", utc("2024-03-10T10:34:56.789Z")},
		{"ts", "'2024-03-10 12:34:56.789123456Z'", utc("2024-03-10T12:34:56.789123Z")},
		{"tstz", "'2024-03-10 12:34:56-05:00'", utc("2024-03-10T17:34:56Z")},
		{"dt6", "'2024-03-10 12:34'", utc("2024-03-10T12:34:00Z")},
		{"ts", "'yesterday'", "yesterday"},
		{"ts", "1710000000", int64(1710000000)},
		{"flag", "1", true},
		{"flag", "0", false},
		{"flag", "TRUE", true},
		{"flag2", "'false'", false},
		{"flag", "2", int64(2)},
		{"amount", "12.50", value.Decimal("12.5")},
		{"amount", "0.10", value.Decimal("0.1")},
		{"amount", "-7", value.Decimal("-7")},
		// NUMERIC affinity stores numeric text as a REAL, a double: digits
		// beyond its precision are lost when the row is written.
		{"num", "'123456789012345678901234.5'", value.Decimal("123456789012345690000000")},
		{"num", "'n/a'", "n/a"},
		{"doc", `'{"b": 1, "a": [1, 2.50]}'`, value.JSON(`{"a":[1,2.50],"b":1}`)},
		{"doc", "'not json'", "not json"},
	}
	setup := []string{`CREATE TABLE v (
		k INTEGER, i INTEGER, r REAL, t TEXT, b BLOB, n,
		d DATE, dtm DATETIME, ts TIMESTAMP, tstz TIMESTAMP WITH TIME ZONE, dt6 DATETIME(6),
		flag BOOLEAN, flag2 bool, amount DECIMAL(12,2), num NUMERIC, doc JSON
	)`}
	for k, tt := range tests {
		setup = append(setup, fmt.Sprintf("INSERT INTO v (k, %s) VALUES (%d, %s)", tt.col, k, tt.stored))
	}
	src := open(t, setup...)
	for k, tt := range tests {
		t.Run(tt.col+"="+tt.stored, func(t *testing.T) {
			got, err := sourcetest.All(context.Background(), src, fmt.Sprintf("SELECT %s FROM v WHERE k = %d", tt.col, k))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0][0]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeclaredTypeKinds(t *testing.T) {
	for decl, want := range map[string]kind{
		"DATE": kindDate, "date": kindDate, "DATETIME": kindTimestamp, "DATETIME(6)": kindTimestamp,
		"TIMESTAMP WITH TIME ZONE": kindTimestamp, "TIMESTAMPTZ": kindTimestamp,
		"BOOLEAN": kindBool, "BOOL": kindBool, "DECIMAL(12,2)": kindDecimal, "NUMERIC": kindDecimal,
		"JSON": kindJSON, "JSONB": kindJSON, "TEXT": kindPlain, "": kindPlain, "INTEGER": kindPlain,
		"DATE_TEXT": kindPlain, "VARCHAR(10)": kindPlain,
	} {
		if got := kindOf(decl); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", decl, got, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := New(context.Background(), connector.Settings{"path": "missing.db"}, dir)
	if err == nil || err.Error() != "open sqlite missing.db: no such file" {
		t.Errorf("missing file: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "missing.db")); statErr == nil {
		t.Error("opening a missing file created it")
	}
	if _, err := New(context.Background(), connector.Settings{}, dir); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("missing path setting: %v", err)
	}
}

func TestReadOnlyAndErrors(t *testing.T) {
	src := open(t, "CREATE TABLE t (a INTEGER)")
	tests := []struct{ name, sql, want string }{
		{"write refused", "INSERT INTO t VALUES (1)", "query: "},
		{"missing table", "SELECT * FROM nope", "no such table: nope"},
		{"syntax", "SELEC 1", "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sourcetest.All(context.Background(), src, tt.sql)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "query: ") {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	got, err := sourcetest.All(context.Background(), src, "SELECT count(*) FROM t")
	if err != nil || got[0][0] != int64(0) {
		t.Errorf("after refused write: %v %v", got, err)
	}
}
