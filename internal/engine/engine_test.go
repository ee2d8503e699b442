package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

// step is one run in a scenario.
type step struct {
	name    string
	rows    [][]any // the model's rows for this run (nil: unchanged)
	before  func(b *bundle)
	opts    Options
	want    string   // counts(result)
	ops     []string // ops the destination saw, sorted
	keys    string   // keys in the destination afterwards ("-" to skip)
	wantErr string   // substring of the run's error
}

func TestRunScenarios(t *testing.T) {
	base := [][]any{row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "team")}
	tests := []struct {
		name  string
		syncs []*config.Sync
		steps []step
	}{
		{
			name: "upsert: first sync, no-op, change, removal",
			steps: []step{
				{name: "first", rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0",
					ops: []string{"upsert 1", "upsert 2", "upsert 3"}, keys: "1,2,3"},
				{name: "no-op", want: "succeeded rows=3 add=0 chg=0 rem=0 same=3 rej=0 skip=0 plan=0 ok=0 fail=0", keys: "1,2,3"},
				{name: "change and add", rows: [][]any{row(1, "a@x", "pro"), row(2, "b@x", "pro"), row(3, "c@x", "team"), row(4, "d@x", "free")},
					want: "succeeded rows=4 add=1 chg=1 rem=0 same=2 rej=0 skip=0 plan=2 ok=2 fail=0",
					ops:  []string{"upsert 1", "upsert 4"}, keys: "1,2,3,4"},
				{name: "removal is not sent in upsert mode", rows: [][]any{row(1, "a@x", "pro"), row(2, "b@x", "pro")},
					want: "succeeded rows=2 add=0 chg=0 rem=2 same=2 rej=0 skip=0 plan=0 ok=0 fail=0", keys: "1,2,3,4"},
				{name: "removed keys left the snapshot", want: "succeeded rows=2 add=0 chg=0 rem=0 same=2 rej=0 skip=0 plan=0 ok=0 fail=0"},
				{name: "a removed key that comes back is added", rows: [][]any{row(1, "a@x", "pro"), row(2, "b@x", "pro"), row(3, "c@x", "team")},
					want: "succeeded rows=3 add=1 chg=0 rem=0 same=2 rej=0 skip=0 plan=1 ok=1 fail=0", ops: []string{"upsert 3"}},
			},
		},
		{
			name:  "mirror deletes removed keys",
			syncs: []*config.Sync{sync1("s", config.ModeMirror)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0", keys: "1,2,3"},
				{rows: [][]any{row(1, "a@x", "free"), row(3, "c@x", "pro")},
					want: "succeeded rows=2 add=0 chg=1 rem=1 same=1 rej=0 skip=0 plan=2 ok=2 fail=0",
					ops:  []string{"delete 2", "upsert 3"}, keys: "1,3"},
				{want: "succeeded rows=2 add=0 chg=0 rem=0 same=2 rej=0 skip=0 plan=0 ok=0 fail=0", keys: "1,3"},
			},
		},
		{
			name:  "insert mode sends added rows only",
			syncs: []*config.Sync{sync1("s", config.ModeInsert)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0", ops: []string{"insert 1", "insert 2", "insert 3"}},
				{rows: [][]any{row(1, "a@x", "pro"), row(2, "b@x", "pro"), row(3, "c@x", "team"), row(4, "d@x", "free")},
					want: "succeeded rows=4 add=1 chg=1 rem=0 same=2 rej=0 skip=1 plan=1 ok=1 fail=0", ops: []string{"insert 4"}},
			},
		},
		{
			name:  "update mode sends changed rows only",
			syncs: []*config.Sync{sync1("s", config.ModeUpdate)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=3 plan=0 ok=0 fail=0", keys: ""},
			},
		},
		{
			name: "null and duplicate keys are rejected, the rest proceeds",
			steps: []step{
				{rows: [][]any{row(1, "a@x", "free"), {nil, "n@x", "free"}, row(2, "b@x", "pro"), row(2, "b2@x", "pro"), row(3, "c@x", "team"), row(4, "d@x", "team"), row(5, "e@x", "team")},
					want: "succeeded rows=7 add=4 chg=0 rem=0 same=0 rej=3 skip=0 plan=4 ok=4 fail=0",
					ops:  []string{"upsert 1", "upsert 3", "upsert 4", "upsert 5"}, keys: "1,3,4,5"},
			},
		},
		{
			name:  "a duplicated key is neither sent nor deleted",
			syncs: []*config.Sync{sync1("s", config.ModeMirror)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"},
				{rows: [][]any{row(1, "a@x", "free"), row(2, "b@x", "pro"), row(2, "b@y", "pro"), row(3, "c@x", "team")},
					want: "succeeded rows=4 add=0 chg=0 rem=0 same=2 rej=2 skip=0 plan=0 ok=0 fail=0", keys: "1,2,3"},
			},
		},
		{
			name: "too many rejected rows fail the run before sending",
			steps: []step{
				{rows: [][]any{row(1, "a@x", "free"), {nil, "n@x", "free"}, {nil, "m@x", "free"}},
					want: "failed rows=3 add=1 chg=0 rem=0 same=0 rej=2 skip=0 plan=0 ok=0 fail=0", wantErr: "max_rejected_pct 50", keys: ""},
			},
		},
		{
			name: "max_change_pct refuses a large change unless forced",
			syncs: []*config.Sync{func() *config.Sync {
				s := sync1("s", config.ModeMirror)
				s.MaxChangePct = 40
				return s
			}()},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"},
				{rows: [][]any{row(1, "a@x", "free")}, want: "failed rows=1 add=0 chg=0 rem=2 same=1 rej=0 skip=0 plan=0 ok=0 fail=0",
					wantErr: "removes 2 of 3 synced rows (66.7%), above max_change_pct 40", keys: "1,2,3"},
				{opts: Options{Force: true}, want: "succeeded rows=1 add=0 chg=0 rem=2 same=1 rej=0 skip=0 plan=2 ok=2 fail=0",
					ops: []string{"delete 2", "delete 3"}, keys: "1"},
			},
		},
		{
			name:  "a mapping change re-sends every row and deletes nothing",
			syncs: []*config.Sync{sync1("s", config.ModeMirror)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"},
				{before: func(b *bundle) {
					b.project.Syncs["s"].Mapping = append(b.project.Syncs["s"].Mapping, config.Mapping{Field: "tier", IsValue: true, Value: "gold"})
				}, want: "succeeded rows=3 add=0 chg=3 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0",
					ops: []string{"upsert 1", "upsert 2", "upsert 3"}, keys: "1,2,3"},
				{want: "succeeded rows=3 add=0 chg=0 rem=0 same=3 rej=0 skip=0 plan=0 ok=0 fail=0"},
			},
		},
		{
			name: "an unmapped column changing sends nothing",
			steps: []step{
				{rows: [][]any{row(1, "a@x", "free")}, before: func(b *bundle) {
					b.project.Syncs["s"].Mapping = b.project.Syncs["s"].Mapping[:1] // email only
				}, want: "succeeded rows=1 add=1 chg=0 rem=0 same=0 rej=0 skip=0 plan=1 ok=1 fail=0"},
				{rows: [][]any{row(1, "a@x", "pro")}, want: "succeeded rows=1 add=0 chg=0 rem=0 same=1 rej=0 skip=0 plan=0 ok=0 fail=0"},
			},
		},
		{
			name: "failed rows are retried by the next run, delivered ones are not",
			steps: []step{
				{rows: base, before: func(b *bundle) { b.crm.rowFail["2"] = "email is invalid" },
					want: "partial rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=2 fail=1",
					ops:  []string{"upsert 1", "upsert 3"}, keys: "1,3"},
				{before: func(b *bundle) { delete(b.crm.rowFail, "2") },
					want: "succeeded rows=3 add=1 chg=0 rem=0 same=2 rej=0 skip=0 plan=1 ok=1 fail=0",
					ops:  []string{"upsert 2"}, keys: "1,2,3"},
			},
		},
		{
			name: "a poisoned batch is split to isolate the bad row",
			steps: []step{
				{rows: base, before: func(b *bundle) { b.crm.poison["3"] = true; b.crm.batch = 3; b.refreshPlugins() },
					want: "partial rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=2 fail=1",
					ops:  []string{"upsert 1", "upsert 2"}, keys: "1,2"},
			},
		},
		{
			name: "5xx and 429 are retried",
			steps: []step{
				{rows: base, before: func(b *bundle) { b.crm.status = []int{503, 429} },
					want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0", keys: "1,2,3"},
			},
		},
		{
			name: "an auth failure stops the run",
			steps: []step{
				{rows: base, before: func(b *bundle) { b.crm.status = []int{401, 401, 401} },
					want: "failed rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=0 fail=0", wantErr: "auth", keys: ""},
				{before: func(b *bundle) { b.crm.status = nil },
					want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0", keys: "1,2,3"},
			},
		},
		{
			name:  "full resync re-sends unchanged rows, deletes only removed ones",
			syncs: []*config.Sync{sync1("s", config.ModeMirror)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"},
				{rows: [][]any{row(1, "a@x", "free"), row(2, "b@x", "pro")}, opts: Options{FullResync: true},
					want: "succeeded rows=2 add=0 chg=0 rem=1 same=2 rej=0 skip=0 plan=3 ok=3 fail=0",
					ops:  []string{"delete 3", "upsert 1", "upsert 2"}, keys: "1,2"},
			},
		},
		{
			name: "a deferred destination that fails to finish commits nothing",
			steps: []step{
				{rows: base, before: func(b *bundle) { b.crm.deferred = true; b.crm.closeErr = errors.New("disk full"); b.refreshPlugins() },
					want: "failed rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=0 fail=3", wantErr: "disk full", keys: ""},
				{before: func(b *bundle) { b.crm.closeErr = nil },
					want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0", keys: "1,2,3"},
				{want: "succeeded rows=3 add=0 chg=0 rem=0 same=3 rej=0 skip=0 plan=0 ok=0 fail=0"},
			},
		},
		{
			name:  "a primary key change on a mirror sync is refused",
			syncs: []*config.Sync{sync1("s", config.ModeMirror)},
			steps: []step{
				{rows: base, want: "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"},
				{before: func(b *bundle) { b.project.Models["users"].PrimaryKey = []string{"email"} },
					want:    "failed rows=3 add=3 chg=0 rem=3 same=0 rej=0 skip=0 plan=0 ok=0 fail=0",
					wantErr: "primary key changed from (id) to (email)", keys: "1,2,3"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.syncs...)
			for i, st := range tt.steps {
				if st.rows != nil {
					b.users(st.rows...)
				}
				if st.before != nil {
					st.before(b)
				}
				res := b.run(st.opts)
				r := res[0]
				if got := counts(r); got != st.want {
					t.Errorf("step %d %s: counts\n got %s\nwant %s (err %v)", i, st.name, got, st.want, r.Err)
				}
				switch {
				case st.wantErr == "" && r.Err != nil:
					t.Errorf("step %d %s: unexpected error %v", i, st.name, r.Err)
				case st.wantErr != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), st.wantErr)):
					t.Errorf("step %d %s: error %v, want it to contain %q", i, st.name, r.Err, st.wantErr)
				}
				ops := b.crm.takeOps()
				if st.ops != nil || len(ops) > 0 && st.want != "" && strings.Contains(st.want, "plan=0") {
					if diff := cmp.Diff(st.ops, ops); diff != "" {
						t.Errorf("step %d %s: ops (-want +got):\n%s", i, st.name, diff)
					}
				}
				if st.keys != "-" && (st.keys != "" || i == 0) {
					if got := b.crm.keys(); st.keys != "" && got != st.keys || st.keys == "" && i == 0 && got != "" && strings.Contains(st.want, "ok=0") {
						t.Errorf("step %d %s: destination keys %q, want %q", i, st.name, got, st.keys)
					}
				}
				stored, err := b.store.GetRun(context.Background(), r.Run.ID)
				if err != nil {
					t.Fatalf("step %d: run not stored: %v", i, err)
				}
				if stored.Status != r.Run.Status || stored.Counts != r.Run.Counts {
					t.Errorf("step %d: stored run %+v differs from result %+v", i, stored.Counts, r.Run.Counts)
				}
			}
		})
	}
}

func TestOneExtractionForManySyncs(t *testing.T) {
	a, b2 := sync1("a", config.ModeUpsert), sync1("b", config.ModeMirror)
	b2.Mapping = b2.Mapping[:1]
	b := setup(t, a, b2)
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"))
	res := b.run(Options{}, "a", "b")
	if b.wh.queries != 1 {
		t.Fatalf("model queried %d times, want once", b.wh.queries)
	}
	for _, r := range res {
		if got, want := counts(r), "succeeded rows=2 add=2 chg=0 rem=0 same=0 rej=0 skip=0 plan=2 ok=2 fail=0"; got != want {
			t.Errorf("%s: %s, want %s", r.Sync, got, want)
		}
	}
	// Each sync diffs against its own snapshot: a plan change touches
	// only the sync that maps the plan column.
	b.users(row(1, "a@x", "pro"), row(2, "b@x", "pro"))
	res = b.run(Options{}, "a", "b")
	if res[0].Run.Counts.Changed != 1 || res[1].Run.Counts.Changed != 0 {
		t.Errorf("changed: a=%d b=%d, want 1 and 0", res[0].Run.Counts.Changed, res[1].Run.Counts.Changed)
	}
}

func TestCompositeKeys(t *testing.T) {
	b := setup(t, sync1("s", config.ModeMirror))
	b.project.Models["users"].PrimaryKey = []string{"id", "email"}
	b.users(row(1, "a|b", "free"), row(1, `a\b`, "pro"), row(2, "a", "pro"))
	r := b.run(Options{})[0]
	if got, want := counts(r), "succeeded rows=3 add=3 chg=0 rem=0 same=0 rej=0 skip=0 plan=3 ok=3 fail=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	if got, want := b.crm.keys(), `1|a\\b,1|a\|b,2|a`; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
	b.users(row(1, "a|b", "free"))
	b.crm.takeOps()
	b.run(Options{})
	if diff := cmp.Diff([]string{`delete 1|a\\b`, "delete 2|a"}, b.crm.takeOps()); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
}

func TestPlanSendsNothing(t *testing.T) {
	b := setup(t)
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"))
	res, err := b.engine.Plan(context.Background(), []string{"s"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := counts(res[0]), "succeeded rows=2 add=2 chg=0 rem=0 same=0 rej=0 skip=0 plan=2 ok=0 fail=0"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if diff := cmp.Diff(map[string][]string{"added": {"1", "2"}}, sortSamples(res[0].Samples)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if ops := b.crm.takeOps(); len(ops) > 0 {
		t.Errorf("plan sent %v", ops)
	}
	runs, _ := b.store.ListRuns(context.Background(), "s", 10)
	if len(runs) != 0 {
		t.Errorf("plan stored %d runs", len(runs))
	}
	// A plan leaves the snapshot as it was: the run still adds both.
	if got := b.run(Options{})[0].Run.Counts.Added; got != 2 {
		t.Errorf("run after plan added %d, want 2", got)
	}
}

func sortSamples(m map[string][]string) map[string][]string {
	for _, v := range m {
		sortStrings(v)
	}
	return m
}

func TestRowErrorsAreStored(t *testing.T) {
	b := setup(t)
	b.crm.rowFail["2"] = "HubSpot says: INVALID_EMAIL"
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), []any{nil, "z", "free"})
	r := b.run(Options{})[0]
	errs, err := b.store.RowErrors(context.Background(), r.Run.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.RowError{
		{Key: "", Phase: "validate", Error: `primary key column "id" is null (row 3 of the result)`},
		{Key: "2", Op: "upsert", Phase: "load", Error: "HubSpot says: INVALID_EMAIL"},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
}

func TestSourceErrorNamesTheModel(t *testing.T) {
	b := setup(t)
	b.wh.err = errors.New(`Parser Error: syntax error at or near "selct"`)
	r := b.run(Options{})[0]
	if r.Err == nil || !strings.Contains(r.Err.Error(), `model users: Parser Error: syntax error at or near "selct"`) {
		t.Errorf("error %v", r.Err)
	}
	if r.Run.Status != state.StatusFailed {
		t.Errorf("status %s", r.Run.Status)
	}
}

func TestUnknownSync(t *testing.T) {
	b := setup(t)
	_, err := b.engine.Run(context.Background(), []string{"t"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `no sync named "t" (did you mean "s"?)`) {
		t.Errorf("error %v", err)
	}
}

// TestModelColumnsAddedOrReordered: a column the mapping does not use, or
// a new order of the model's columns, changes no row's hash.
func TestModelColumnsAddedOrReordered(t *testing.T) {
	b := setup(t)
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"))
	if got := b.run(Options{})[0].Run.Counts.Added; got != 2 {
		t.Fatalf("first run added %d", got)
	}
	b.wh.set([]string{"plan", "extra", "email", "id"}, []any{"free", "x", "a@x", int64(1)}, []any{"pro", "y", "b@x", int64(2)})
	r := b.run(Options{})[0]
	if got, want := counts(r), "succeeded rows=2 add=0 chg=0 rem=0 same=2 rej=0 skip=0 plan=0 ok=0 fail=0"; got != want {
		t.Errorf("after adding and reordering columns: %s, want %s", got, want)
	}
}
