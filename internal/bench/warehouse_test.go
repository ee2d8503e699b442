package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestWarehouseDiffReadsOnlyTheChangedRows(t *testing.T) {
	for _, key := range []string{KeyInteger, KeyText} {
		t.Run(key, func(t *testing.T) { testWarehouseDiff(t, key) })
	}
}

func testWarehouseDiff(t *testing.T, key string) {
	dir := t.TempDir()
	r, err := Warehouse(context.Background(), WarehouseOptions{Rows: 20_000, ChangedPct: 5, Key: key, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != key {
		t.Errorf("result's key %q, want %q", r.Key, key)
	}
	if len(r.CommitSeconds) != 5 || r.CommitKeys != 1000 {
		t.Errorf("commit points: %d keys, %v seconds; want 5 of 1000 keys", r.CommitKeys, r.CommitSeconds)
	}
	// The commit points left the snapshot as it was: planned again from
	// the kept directory, the same changes.
	again, err := Warehouse(context.Background(), WarehouseOptions{Rows: 20_000, ChangedPct: 5, Key: key, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.Warehouse.Changed != r.ChangedRows || again.Warehouse.Added != 0 || again.Warehouse.Removed != 0 {
		t.Errorf("planned again: added %d, changed %d, removed %d; want the %d changed rows only",
			again.Warehouse.Added, again.Warehouse.Changed, again.Warehouse.Removed, r.ChangedRows)
	}
	// The warehouse took an integer key as its own key hash, and hashed
	// the text key.
	db, err := sql.Open("duckdb", filepath.Join(dir, "bench.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fn string
	if err := db.QueryRow(`SELECT hash_function FROM riptide.meta_bench_wh`).Scan(&fn); err != nil {
		t.Fatal(err)
	}
	if integer := strings.HasSuffix(fn, ", integer key"); integer != (key == KeyInteger) {
		t.Errorf("%s key: the snapshot's hash function is %q", key, fn)
	}
	// hash(id) % 10000 < 500 picks about 5% of the ids.
	if r.ChangedRows < 700 || r.ChangedRows > 1300 {
		t.Fatalf("the change touched %d of 20000 rows, want about 1000", r.ChangedRows)
	}
	for _, d := range []DiffResult{r.Local, r.Warehouse} {
		if d.Changed != r.ChangedRows || d.Added != 0 || d.Removed != 0 {
			t.Errorf("%s diff: added %d, changed %d, removed %d; want only the %d changed rows",
				d.Diff, d.Added, d.Changed, d.Removed, r.ChangedRows)
		}
		if d.PlanSeconds <= 0 || d.PeakRSSBytes <= 0 {
			t.Errorf("%s diff: missing figures: %+v", d.Diff, d)
		}
	}
	if !hasPhase(r.Local, "extract") || hasPhase(r.Warehouse, "extract") {
		t.Errorf("local phases %v, warehouse phases %v: want the local diff extracting and the warehouse diff not", r.Local.Phases, r.Warehouse.Phases)
	}
	if r.Local.RowsRead != 20_000 {
		t.Errorf("local diff read %d rows, want every one of 20000", r.Local.RowsRead)
	}
	// The changed rows, and the one row counting the unchanged keys.
	if r.Warehouse.RowsRead != r.ChangedRows+1 || !r.ReadsOnlyChanged {
		t.Errorf("warehouse diff read %d rows (reads only changed: %v), want %d changed + 1 count",
			r.Warehouse.RowsRead, r.ReadsOnlyChanged, r.ChangedRows)
	}
}

func hasPhase(d DiffResult, name string) bool {
	for _, p := range d.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}
