// Package sourcetest is the conformance suite that every source passes: the
// behaviour the engine relies on (column order, canonical values, streaming,
// early close, errors with the warehouse's message, cancellation), checked
// against the real engine with the same data.
//
// A source's test calls Run with a function that opens the source on a
// fresh database after running the setup statements there:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, func(t *testing.T, setup []string) connector.Source { … })
//	}
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Open opens the source under test on a fresh database in which setup has
// run. The statements use SQL that DuckDB, PostgreSQL, MySQL/MariaDB and
// SQLite all accept. The source is closed by the suite.
type Open func(t *testing.T, setup []string) connector.Source

// Table is the conformance table.
const Table = "riptide_conformance"

// StreamRows is how many rows the streaming check reads: more than one
// DuckDB chunk (2048) and more than a small fetch size.
const StreamRows = 5000

// Setup returns the statements that create and fill the conformance table.
func Setup() []string {
	stmts := []string{
		"CREATE TABLE " + Table + " (id BIGINT, name VARCHAR(100), amount DECIMAL(12,2), note VARCHAR(100))",
		"INSERT INTO " + Table + " VALUES (1, 'alice', 12.50, NULL), (2, 'Zoë', 0.10, ''), (3, 'it''s', -7.00, 'x')",
	}
	// Batches of 500 rows keep every engine within its statement limits.
	for start := 4; start <= StreamRows; start += 500 {
		var b strings.Builder
		b.WriteString("INSERT INTO " + Table + " VALUES ")
		for id := start; id < start+500 && id <= StreamRows; id++ {
			if id > start {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(%d, 'user%d', %d.%02d, 'n%d')", id, id, id, id%100, id)
		}
		stmts = append(stmts, b.String())
	}
	return stmts
}

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	t.Helper()
	src := open(t, Setup())
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("close source: %v", err)
		}
	})
	ctx := context.Background()

	t.Run("columns", func(t *testing.T) {
		rows := query(t, src, "SELECT id, name, amount, note FROM "+Table+" WHERE id = 1")
		defer rows.Close()
		cols := rows.Columns()
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
			if c.DatabaseType == "" {
				t.Errorf("column %s has no database type", c.Name)
			}
		}
		if diff := cmp.Diff([]string{"id", "name", "amount", "note"}, names); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
	})

	t.Run("values", func(t *testing.T) {
		got := all(t, src, "SELECT id, name, amount, note FROM "+Table+" WHERE id <= 3 ORDER BY id")
		want := [][]any{
			{int64(1), "alice", value.Decimal("12.5"), nil},
			{int64(2), "Zoë", value.Decimal("0.1"), ""},
			{int64(3), "it's", value.Decimal("-7"), "x"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})

	t.Run("stream", func(t *testing.T) {
		rows := query(t, src, "SELECT id, name FROM "+Table+" ORDER BY id")
		defer rows.Close()
		var first *any
		n := int64(0)
		for rows.Next() {
			vals := rows.Values()
			if first == nil {
				first = &vals[0]
			} else if first != &vals[0] {
				t.Fatal("Values returned a new slice; it must reuse one")
			}
			n++
			if vals[0] != n {
				t.Fatalf("row %d: id %v (%T)", n, vals[0], vals[0])
			}
			if want := value.Text(vals[0]); n > 3 && vals[1] != "user"+want {
				t.Fatalf("row %d: name %v", n, vals[1])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != StreamRows {
			t.Fatalf("read %d rows, want %d", n, StreamRows)
		}
	})

	t.Run("empty", func(t *testing.T) {
		rows := query(t, src, "SELECT id, name FROM "+Table+" WHERE id < 0")
		defer rows.Close()
		if len(rows.Columns()) != 2 {
			t.Errorf("columns %v, want 2", rows.Columns())
		}
		if rows.Next() {
			t.Error("Next returned a row for an empty result")
		}
		if err := rows.Err(); err != nil {
			t.Error(err)
		}
	})

	t.Run("warehouse error", func(t *testing.T) {
		err := queryErr(ctx, src, "SELECT * FROM riptide_missing_table")
		if err == nil {
			t.Fatal("query of a missing table succeeded")
		}
		if !strings.HasPrefix(err.Error(), "query: ") || !strings.Contains(err.Error(), "riptide_missing_table") {
			t.Errorf("error %q should start with \"query: \" and carry the warehouse's message", err)
		}
		err = queryErr(ctx, src, "SELEC 1")
		if err == nil || !strings.HasPrefix(err.Error(), "query: ") {
			t.Errorf("syntax error gave %v", err)
		}
	})

	t.Run("early close", func(t *testing.T) {
		for range 3 {
			rows := query(t, src, "SELECT id FROM "+Table+" ORDER BY id")
			if !rows.Next() {
				t.Fatalf("no first row: %v", rows.Err())
			}
			if err := rows.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := rows.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
			if rows.Next() {
				t.Fatal("Next returned a row after Close")
			}
		}
		if n := len(all(t, src, "SELECT id FROM "+Table)); n != StreamRows {
			t.Errorf("after early closes: %d rows, want %d", n, StreamRows)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := queryErr(cctx, src, "SELECT id FROM "+Table)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("canceled query: %v, want context.Canceled", err)
		}
		cctx, cancel = context.WithCancel(ctx)
		defer cancel()
		rows, err := src.Query(cctx, "SELECT id FROM "+Table+" ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			if n++; n == 10 {
				cancel()
			}
		}
		if n == StreamRows {
			t.Skip("the engine delivered the whole (small) result before noticing the cancellation")
		}
		if !errors.Is(rows.Err(), context.Canceled) {
			t.Errorf("after cancel mid-stream: %v, want context.Canceled", rows.Err())
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		a := query(t, src, "SELECT id FROM "+Table+" ORDER BY id")
		defer a.Close()
		b := query(t, src, "SELECT id FROM "+Table+" ORDER BY id DESC")
		defer b.Close()
		for i := int64(1); i <= StreamRows; i++ {
			if !a.Next() || !b.Next() {
				t.Fatalf("row %d: %v / %v", i, a.Err(), b.Err())
			}
			if a.Values()[0] != i || b.Values()[0] != StreamRows+1-i {
				t.Fatalf("row %d: got %v and %v", i, a.Values()[0], b.Values()[0])
			}
		}
		if a.Next() || b.Next() {
			t.Fatal("rows beyond the end")
		}
	})
}

func query(t *testing.T, src connector.Source, sql string) connector.Rows {
	t.Helper()
	rows, err := src.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

// queryErr runs sql to the end and returns the first error, from Query or
// from the rows: engines differ in when they report one.
func queryErr(ctx context.Context, src connector.Source, sql string) error {
	rows, err := src.Query(ctx, sql)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// All reads a whole result, copying each row.
func All(ctx context.Context, src connector.Source, sql string) ([][]any, error) {
	rows, err := src.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		out = append(out, append([]any(nil), rows.Values()...))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

func all(t *testing.T, src connector.Source, sql string) [][]any {
	t.Helper()
	out, err := All(context.Background(), src, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}
