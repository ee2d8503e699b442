package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
)

// fakeOutcomeTable is a source that accepts write-back, keeping what it
// is given; it fails every write once failAfter batches are written.
type fakeOutcomeTable struct {
	mu        sync.Mutex
	rows      []connector.Outcome
	batches   []int
	failAfter int // 0: never fails
	closed    int
}

func (f *fakeOutcomeTable) plugin() connector.SourcePlugin {
	return connector.SourcePlugin{
		Spec: connector.Spec{Type: "fakewb", WriteBack: true},
		New: func(context.Context, connector.Settings, string) (connector.Source, error) {
			return f, nil
		},
	}
}

func (f *fakeOutcomeTable) Query(context.Context, string) (connector.Rows, error) {
	return nil, errors.New("fakewb: no queries")
}

func (f *fakeOutcomeTable) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *fakeOutcomeTable) WriteOutcomes(_ context.Context, schema, table string, rows []connector.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if schema != "audit" || table != "sync_rows" {
		return fmt.Errorf("wrote to %s.%s", schema, table)
	}
	if f.failAfter > 0 && len(f.batches) >= f.failAfter {
		return errors.New("permission denied for schema audit")
	}
	f.batches = append(f.batches, len(rows))
	f.rows = append(f.rows, rows...)
	return nil
}

// take returns the outcomes of a run as "key op status error" lines,
// sorted, and checks that they belong to the run.
func (f *fakeOutcomeTable) take(t *testing.T, r *Result) []string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.rows {
		if o.RunID != r.Run.ID || o.Sync != r.Sync || o.At.IsZero() {
			t.Errorf("outcome %+v is not of run %s of %s, or has no time", o, r.Run.ID, r.Sync)
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", o.Key, o.Op, o.Status, o.Error)))
	}
	f.rows = nil
	sort.Strings(out)
	return out
}

func setupWriteBack(t *testing.T, s *config.Sync) (*bundle, *fakeOutcomeTable) {
	t.Helper()
	old := writeBackBatch
	writeBackBatch = 2 // several batches per run
	t.Cleanup(func() { writeBackBatch = old })
	s.WriteBack = &config.WriteBack{Source: "out", Schema: "audit", Table: "sync_rows"}
	b := setup(t, s)
	table := &fakeOutcomeTable{}
	b.project.Sources["out"] = &config.Source{Name: "out", Type: "fakewb"}
	b.engine.Sources["fakewb"] = table.plugin()
	return b, table
}

func TestWriteBackEveryRowOnce(t *testing.T) {
	b, table := setupWriteBack(t, sync1("s", config.ModeMirror))
	b.crm.rowFail["2"] = "email is invalid"
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "free"), row(4, "d@x", "pro"),
		[]any{nil, "z@x", "free"}, row(5, "e@x", "free"))
	r := b.run(Options{})[0]
	if got, want := counts(r), "partial rows=6 add=5 chg=0 rem=0 same=0 rej=1 skip=0 plan=5 ok=4 fail=1"; got != want {
		t.Fatalf("counts %s, want %s", got, want)
	}
	want := []string{
		"1 upsert succeeded",
		"2 upsert failed email is invalid",
		"3 upsert succeeded",
		"4 upsert succeeded",
		"5 upsert succeeded",
		`rejected primary key column "id" is null (row 5 of the result)`,
	}
	if diff := cmp.Diff(want, table.take(t, r)); diff != "" {
		t.Errorf("first run's outcomes (-want +got):\n%s", diff)
	}
	for _, n := range table.batches {
		if n > 2 {
			t.Errorf("a batch of %d outcomes, more than writeBackBatch", n)
		}
	}
	if len(r.Warnings) > 0 {
		t.Errorf("warnings %q", r.Warnings)
	}

	// The failed row is retried, a removed row deleted, a changed one sent.
	delete(b.crm.rowFail, "2")
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "pro"), row(4, "d@x", "pro"))
	r = b.run(Options{})[0]
	want = []string{"2 upsert succeeded", "3 upsert succeeded", "5 delete succeeded"}
	if diff := cmp.Diff(want, table.take(t, r)); diff != "" {
		t.Errorf("second run's outcomes (-want +got):\n%s", diff)
	}
	if table.closed != 2 {
		t.Errorf("write-back source closed %d times over two runs", table.closed)
	}
}

func TestWriteBackFailureIsAWarning(t *testing.T) {
	b, table := setupWriteBack(t, sync1("s", config.ModeUpsert))
	table.failAfter = 1
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "free"), row(4, "d@x", "pro"), row(5, "e@x", "pro"))
	r := b.run(Options{})[0]
	if r.Err != nil || r.Run.Status != "succeeded" || r.Run.Counts.Succeeded != 5 {
		t.Fatalf("run %s (err %v): a write-back failure must not fail delivery", counts(r), r.Err)
	}
	if b.crm.keys() != "1,2,3,4,5" {
		t.Errorf("destination holds %s", b.crm.keys())
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "write-back to out audit.sync_rows failed after 2 row outcomes (3 not written): permission denied for schema audit") {
		t.Fatalf("warnings %q", r.Warnings)
	}
	errs, err := b.store.RowErrors(context.Background(), r.Run.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Phase != "write_back" || errs[0].Error != r.Warnings[0] {
		t.Errorf("stored row errors %+v, want the warning under phase write_back", errs)
	}
	if r.Run.RowErrors != 1 {
		t.Errorf("run counts %d row errors, want 1", r.Run.RowErrors)
	}
}

func TestWriteBackDeferredDestination(t *testing.T) {
	b, table := setupWriteBack(t, sync1("s", config.ModeUpsert))
	b.crm.deferred = true
	b.crm.closeErr = errors.New("disk full")
	b.refreshPlugins()
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "free"))
	r := b.run(Options{})[0]
	lines := table.take(t, r)
	if len(lines) != 3 {
		t.Errorf("outcomes %q, want one per delivered row", lines)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line[2:], "upsert failed") || !strings.Contains(line, "disk full") {
			t.Errorf("outcome %q: nothing of a deferred destination that failed to finish is durable", line)
		}
	}

	b.crm.closeErr = nil
	r = b.run(Options{})[0]
	want := []string{"1 upsert succeeded", "2 upsert succeeded", "3 upsert succeeded"}
	if diff := cmp.Diff(want, table.take(t, r)); diff != "" {
		t.Errorf("outcomes once the output finished (-want +got):\n%s", diff)
	}
}

func TestWriteBackOffWritesNothing(t *testing.T) {
	b, table := setupWriteBack(t, sync1("s", config.ModeUpsert))
	b.project.Syncs["s"].WriteBack = nil
	b.users(row(1, "a@x", "free"))
	r := b.run(Options{})[0]
	if got := table.take(t, r); len(got) != 0 || table.closed != 0 {
		t.Errorf("outcomes %q written (source opened %d times) without write_back", got, table.closed)
	}
}
