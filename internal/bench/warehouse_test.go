package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/testsvc"
)

func TestWarehouseDiffReadsOnlyTheChangedRows(t *testing.T) {
	for _, key := range []string{KeyInteger, KeyText} {
		t.Run(key, func(t *testing.T) {
			problems, err := warehouseProblems(t.TempDir(), key)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

// The same on PostgreSQL, the model and the snapshot in a database of
// its own.
func TestWarehouseDiffOnPostgres(t *testing.T) {
	admin := testsvc.PostgresURL(t)
	for _, key := range []string{KeyInteger, KeyText} {
		t.Run(key, func(t *testing.T) {
			r, err := Warehouse(context.Background(), WarehouseOptions{Rows: 20_000, ChangedPct: 5, Key: key, Postgres: admin})
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != "postgres" || r.ChangedRows < 700 || r.ChangedRows > 1300 {
				t.Fatalf("source %s, %d rows changed; want postgres, about 1000", r.Source, r.ChangedRows)
			}
			for _, d := range []DiffResult{r.Local, r.Warehouse} {
				if d.Changed != r.ChangedRows || d.Added != 0 || d.Removed != 0 {
					t.Errorf("%s diff: added %d, changed %d, removed %d; want only the %d changed rows",
						d.Diff, d.Added, d.Changed, d.Removed, r.ChangedRows)
				}
			}
			if r.Warehouse.RowsRead != r.ChangedRows+1 || len(r.CommitSeconds) != 5 {
				t.Errorf("warehouse diff read %d rows, want %d; %d commit points, want 5", r.Warehouse.RowsRead, r.ChangedRows+1, len(r.CommitSeconds))
			}
		})
	}
}

// warehouseProblems runs the benchmark small in dir with a key of the
// type, twice, and says what is wrong with its figures.
func warehouseProblems(dir, key string) (problems []string, err error) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r, err := Warehouse(context.Background(), WarehouseOptions{Rows: 20_000, ChangedPct: 5, Key: key, Dir: dir})
	if err != nil {
		return nil, err
	}
	if r.Key != key {
		bad("result's key %q, want %q", r.Key, key)
	}
	if len(r.CommitSeconds) != 5 || r.CommitKeys != 1000 {
		bad("commit points: %d keys, %v seconds; want 5 of 1000 keys", r.CommitKeys, r.CommitSeconds)
	}
	// The commit points left the snapshot as it was: planned again from
	// the kept directory, the same changes.
	again, err := Warehouse(context.Background(), WarehouseOptions{Rows: 20_000, ChangedPct: 5, Key: key, Dir: dir})
	if err != nil {
		return nil, err
	}
	if again.Warehouse.Changed != r.ChangedRows || again.Warehouse.Added != 0 || again.Warehouse.Removed != 0 {
		bad("planned again: added %d, changed %d, removed %d; want the %d changed rows only",
			again.Warehouse.Added, again.Warehouse.Changed, again.Warehouse.Removed, r.ChangedRows)
	}
	// The warehouse took an integer key as its own key hash, and hashed
	// the text key.
	db, err := sql.Open("duckdb", filepath.Join(dir, "bench.duckdb"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var fn string
	if err := db.QueryRow(`SELECT hash_function FROM riptide.meta_bench_wh`).Scan(&fn); err != nil {
		return nil, err
	}
	if integer := strings.HasSuffix(fn, ", integer key"); integer != (key == KeyInteger) {
		bad("%s key: the snapshot's hash function is %q", key, fn)
	}
	// hash(id) % 10000 < 500 picks about 5% of the ids.
	if r.ChangedRows < 700 || r.ChangedRows > 1300 {
		bad("the change touched %d of 20000 rows, want about 1000", r.ChangedRows)
		return problems, nil
	}
	for _, d := range []DiffResult{r.Local, r.Warehouse} {
		if d.Changed != r.ChangedRows || d.Added != 0 || d.Removed != 0 {
			bad("%s diff: added %d, changed %d, removed %d; want only the %d changed rows",
				d.Diff, d.Added, d.Changed, d.Removed, r.ChangedRows)
		}
		if d.PlanSeconds <= 0 || d.PeakRSSBytes <= 0 {
			bad("%s diff: missing figures: %+v", d.Diff, d)
		}
	}
	if !hasPhase(r.Local, "extract") || hasPhase(r.Warehouse, "extract") {
		bad("local phases %v, warehouse phases %v: want the local diff extracting and the warehouse diff not", r.Local.Phases, r.Warehouse.Phases)
	}
	if r.Local.RowsRead != 20_000 {
		bad("local diff read %d rows, want every one of 20000", r.Local.RowsRead)
	}
	// The changed rows, and the one row counting the unchanged keys.
	if r.Warehouse.RowsRead != r.ChangedRows+1 || !r.ReadsOnlyChanged {
		bad("warehouse diff read %d rows (reads only changed: %v), want %d changed + 1 count",
			r.Warehouse.RowsRead, r.ReadsOnlyChanged, r.ChangedRows)
	}
	return problems, nil
}

func hasPhase(d DiffResult, name string) bool {
	for _, p := range d.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}
