package bench

import (
	"context"
	"testing"
)

func TestWarehouseDiffReadsOnlyTheChangedRows(t *testing.T) {
	r, err := Warehouse(context.Background(), 20_000, 5, "", "")
	if err != nil {
		t.Fatal(err)
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
