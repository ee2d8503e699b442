package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/value"
)

// fakeWarehouse is a source whose tables are Go slices the test edits
// between runs.
type fakeWarehouse struct {
	mu      sync.Mutex
	columns []string
	rows    [][]any
	queries int
	err     error
	// colTypes are the columns' database type names (none when unset).
	colTypes map[string]string
}

func (w *fakeWarehouse) set(columns []string, rows ...[]any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.columns, w.rows = columns, rows
}

func (w *fakeWarehouse) plugin() connector.SourcePlugin {
	return connector.SourcePlugin{
		Spec: connector.Spec{Type: "fake"},
		New: func(ctx context.Context, _ connector.Settings, _ string) (connector.Source, error) {
			return w, nil
		},
	}
}

func (w *fakeWarehouse) Query(ctx context.Context, sql string) (connector.Rows, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queries++
	if w.err != nil {
		return nil, w.err
	}
	cols := make([]connector.Column, len(w.columns))
	for i, c := range w.columns {
		cols[i] = connector.Column{Name: c, DatabaseType: w.colTypes[c]}
	}
	return &fakeRows{cols: cols, rows: append([][]any(nil), w.rows...), i: -1}, nil
}

func (w *fakeWarehouse) Close() error { return nil }

type fakeRows struct {
	cols []connector.Column
	rows [][]any
	i    int
}

func (r *fakeRows) Columns() []connector.Column { return r.cols }
func (r *fakeRows) Next() bool                  { r.i++; return r.i < len(r.rows) }
func (r *fakeRows) Values() []any               { return r.rows[r.i] }
func (r *fakeRows) Err() error                  { return nil }
func (r *fakeRows) Close() error                { return nil }

// fakeCRM is a destination that keeps records by key and fails on
// command.
type fakeCRM struct {
	mu       sync.Mutex
	deferred bool
	batch    int
	records  map[string]map[string]any // key → fields
	ops      []string                  // "op key" in arrival order
	rowFail  map[string]string         // key → message (partial success)
	poison   map[string]bool           // key → whole batch 400
	status   []int                     // next requests' statuses
	closeErr error
	pendingW []connector.Record // deferred: written, not yet durable
}

func newCRM() *fakeCRM {
	return &fakeCRM{records: map[string]map[string]any{}, rowFail: map[string]string{}, poison: map[string]bool{}, batch: 2}
}

func (d *fakeCRM) plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{
		Spec: connector.Spec{
			Type: "crm", Limits: connector.Limits{BatchSize: d.batch, Concurrency: 2},
			Modes: config.Modes, Deferred: d.deferred,
		},
		New: func(ctx context.Context, _ connector.Settings, _ connector.Target, _ string) (connector.Destination, error) {
			return &fakeWriter{d: d}, nil
		},
	}
}

type fakeWriter struct{ d *fakeCRM }

func (w *fakeWriter) Write(ctx context.Context, b *connector.Batch) error {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.status) > 0 {
		s := d.status[0]
		d.status = d.status[1:]
		return connector.ClassifyHTTP(s, []byte(fmt.Sprintf("injected %d", s)), 0)
	}
	for _, r := range b.Records {
		if d.poison[r.Key] {
			return connector.ClassifyHTTP(400, []byte("bad record "+r.Key), 0)
		}
	}
	failed := map[int]string{}
	for i, r := range b.Records {
		if msg, ok := d.rowFail[r.Key]; ok {
			failed[i] = msg
			continue
		}
		if d.deferred {
			d.pendingW = append(d.pendingW, r)
			continue
		}
		d.apply(r)
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

func (d *fakeCRM) apply(r connector.Record) {
	d.ops = append(d.ops, string(r.Op)+" "+r.Key)
	if r.Op == connector.OpDelete {
		delete(d.records, r.Key)
		return
	}
	f := map[string]any{}
	for _, fv := range r.Fields {
		f[fv.Name] = fv.Value
	}
	d.records[r.Key] = f
}

func (w *fakeWriter) Close(ctx context.Context) error {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closeErr != nil {
		d.pendingW = nil
		return d.closeErr
	}
	for _, r := range d.pendingW {
		d.apply(r)
	}
	d.pendingW = nil
	return nil
}

// takeOps returns and clears the ops seen, sorted.
func (d *fakeCRM) takeOps() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ops := d.ops
	d.ops = nil
	sort.Strings(ops)
	return ops
}

func (d *fakeCRM) keys() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ks []string
	for k := range d.records {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// bundle is one test's engine and fakes.
type bundle struct {
	t       *testing.T
	wh      *fakeWarehouse
	crm     *fakeCRM
	project *config.Project
	engine  *Engine
	store   *state.Store
}

func setup(t *testing.T, syncs ...*config.Sync) *bundle {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := state.Open(ctx, dir+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := &bundle{t: t, wh: &fakeWarehouse{}, crm: newCRM(), store: store}
	b.project = &config.Project{
		Dir:          dir,
		Sources:      map[string]*config.Source{"wh": {Name: "wh", Type: "fake"}},
		Destinations: map[string]*config.Destination{"crm": {Name: "crm", Type: "crm", Settings: connector.Settings{}}},
		Models: map[string]*config.Model{"users": {
			Name: "users", Source: "wh", PrimaryKey: []string{"id"}, SQL: "select * from users",
		}},
		Syncs: map[string]*config.Sync{},
	}
	if len(syncs) == 0 {
		syncs = []*config.Sync{sync1("s", config.ModeUpsert)}
	}
	for _, s := range syncs {
		b.project.Syncs[s.Name] = s
	}
	b.engine = &Engine{
		Project: b.project, Store: store, StateDir: dir + "/.riptide",
		Sources:      map[string]connector.SourcePlugin{"fake": b.wh.plugin()},
		Destinations: map[string]connector.DestinationPlugin{"crm": b.crm.plugin()},
		Redactor:     redact.New(nil),
		Sleep:        func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	b.wh.set([]string{"id", "email", "plan"})
	return b
}

func (b *bundle) refreshPlugins() {
	b.engine.Destinations["crm"] = b.crm.plugin()
}

func sync1(name, mode string) *config.Sync {
	return &config.Sync{
		Name: name, Model: "users", Destination: "crm", Mode: mode, MaxRejectedPct: 50,
		Mapping: []config.Mapping{{Field: "email", Column: "email"}, {Field: "plan", Column: "plan"}},
	}
}

func row(id int64, email, plan string) []any { return []any{id, email, plan} }

func (b *bundle) users(rows ...[]any) { b.wh.set([]string{"id", "email", "plan"}, rows...) }

func (b *bundle) run(opts Options, syncs ...string) []*Result {
	b.t.Helper()
	if len(syncs) == 0 {
		syncs = []string{"s"}
	}
	res, err := b.engine.Run(context.Background(), syncs, opts)
	if err != nil {
		b.t.Fatalf("run: %v", err)
	}
	return res
}

// counts renders the interesting figures of a run compactly.
func counts(r *Result) string {
	c := r.Run.Counts
	s := fmt.Sprintf("%s rows=%d add=%d chg=%d rem=%d same=%d rej=%d skip=%d plan=%d ok=%d fail=%d",
		r.Run.Status, c.Rows, c.Added, c.Changed, c.Removed, c.Unchanged, c.Rejected, c.Skipped, c.Planned, c.Succeeded, c.Failed)
	return s
}

var _ = value.Text

func sortStrings(s []string) { sort.Strings(s) }
