package state_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// backend is a kind of state store the tests run against.
type backend struct {
	name string
	// location gives a new, empty store's location for state.Open.
	location func(t *testing.T) string
	// driver and dsn open the store's database directly.
	driver string
	dsn    func(location string) string
}

var backends = []backend{
	{
		name:     "sqlite",
		location: func(t *testing.T) string { return filepath.Join(t.TempDir(), "state.db") },
		driver:   "sqlite",
		dsn:      func(location string) string { return "file:" + location },
	},
	{
		// A database of its own for every test, on the local PostgreSQL.
		name:     "postgres",
		location: func(t *testing.T) string { return testsvc.PostgresURL(t) },
		driver:   "pgx",
		dsn:      func(location string) string { return location },
	},
}

// forBackends runs test once per backend, as a subtest named after it.
func forBackends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

func open(t *testing.T, b backend) *state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), b.location(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// t0 is a fixed instant; no test reads the clock.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

func run(id, sync string, started time.Time, status string) *state.Run {
	return &state.Run{ID: id, Sync: sync, Model: "m_" + sync, Destination: "d_" + sync, Status: status, StartedAt: started}
}

func save(t *testing.T, s *state.Store, runs ...*state.Run) {
	t.Helper()
	for _, r := range runs {
		if err := s.SaveRun(context.Background(), r); err != nil {
			t.Fatalf("SaveRun %s: %v", r.ID, err)
		}
	}
}

func get(t *testing.T, s *state.Store, id string) *state.Run {
	t.Helper()
	r, err := s.GetRun(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRun %s: %v", id, err)
	}
	return r
}

func ids(runs []*state.Run) []string {
	out := []string{}
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestSaveRunRoundTrip(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)

		// Insert: a queued run with nothing finished yet, started in another zone.
		paris := time.FixedZone("CEST", 2*3600)
		r := &state.Run{
			ID: "r1", Sync: "contacts", Model: "users", Destination: "crm",
			Status: state.StatusRunning, FullResync: true, StartedAt: t0.In(paris),
		}
		save(t, s, r)
		got := get(t, s, "r1")
		want := &state.Run{
			ID: "r1", Sync: "contacts", Model: "users", Destination: "crm",
			Status: state.StatusRunning, FullResync: true, StartedAt: t0,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after insert (-want +got):\n%s", diff)
		}

		// Update: everything a finished run records.
		finished := t0.Add(90*time.Second + 250*time.Millisecond)
		r.Status = state.StatusPartial
		r.FinishedAt = &finished
		r.Counts = state.Counts{Rows: 100, Added: 10, Changed: 20, Removed: 3, Unchanged: 67, Rejected: 2, Skipped: 1, Planned: 33, Succeeded: 30, Failed: 3}
		r.Phases = []state.Phase{{Name: "query", Seconds: 1.5}, {Name: "diff", Seconds: 0.25}, {Name: "load", Seconds: 88}}
		r.Error = "3 rows failed"
		r.RowErrors = 5
		save(t, s, r)
		got = get(t, s, "r1")
		want.Status, want.FinishedAt, want.Counts, want.Phases, want.Error, want.RowErrors =
			state.StatusPartial, &finished, r.Counts, r.Phases, r.Error, 5
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}
		if got.StartedAt.Location() != time.UTC || got.FinishedAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v, %v", got.StartedAt, got.FinishedAt)
		}

		runs, err := s.ListRuns(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*state.Run{want}, runs); diff != "" {
			t.Errorf("ListRuns after an update (-want +got):\n%s", diff)
		}
	})
}

func TestListRuns(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		save(t, s,
			run("a1", "a", t0, state.StatusSucceeded),
			run("b1", "b", t0.Add(time.Minute), state.StatusFailed),
			run("a3", "a", t0.Add(3*time.Minute), state.StatusRunning),
			run("a2", "a", t0.Add(2*time.Minute), state.StatusSucceeded),
			// Same second as a3, and as each other: sub-second order counts,
			// whatever the number of fraction digits.
			run("c1", "c", t0.Truncate(time.Second).Add(10*time.Minute), state.StatusSucceeded),
			run("c2", "c", t0.Truncate(time.Second).Add(10*time.Minute+100*time.Millisecond), state.StatusSucceeded),
			run("c3", "c", t0.Truncate(time.Second).Add(10*time.Minute+120*time.Millisecond), state.StatusSucceeded),
			run("c4", "c", t0.Truncate(time.Second).Add(10*time.Minute+500*time.Millisecond), state.StatusSucceeded),
			// Same instant: the ID decides, highest first.
			run("d1", "d", t0, state.StatusSucceeded),
			run("d2", "d", t0, state.StatusSucceeded),
		)
		tests := []struct {
			sync  string
			limit int
			want  []string
		}{
			{"a", 10, []string{"a3", "a2", "a1"}},
			{"a", 2, []string{"a3", "a2"}},
			{"a", 0, []string{}},
			{"b", 10, []string{"b1"}},
			{"c", 10, []string{"c4", "c3", "c2", "c1"}},
			{"d", 10, []string{"d2", "d1"}},
			{"nosuch", 10, []string{}},
			{"", 4, []string{"c4", "c3", "c2", "c1"}},
			{"", 100, []string{"c4", "c3", "c2", "c1", "a3", "a2", "b1", "d2", "d1", "a1"}},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d", tt.sync, tt.limit), func(t *testing.T) {
				runs, err := s.ListRuns(ctx, tt.sync, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, ids(runs)); diff != "" {
					t.Errorf("ListRuns(%q, %d) (-want +got):\n%s", tt.sync, tt.limit, diff)
				}
				for _, r := range runs {
					if tt.sync != "" && r.Sync != tt.sync {
						t.Errorf("run %s of sync %s listed for %s", r.ID, r.Sync, tt.sync)
					}
				}
			})
		}
	})
}

func TestGetRun(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s := open(t, b)
		save(t, s,
			run("0190a1b2-aaaa", "s", t0, state.StatusSucceeded),
			run("0190a1b2-bbbb", "s", t0, state.StatusSucceeded),
			run("0190ffff-cccc", "s", t0, state.StatusSucceeded),
			run("abc", "s", t0, state.StatusSucceeded),
			run("abcd", "s", t0, state.StatusSucceeded),
			run("x%y", "s", t0, state.StatusSucceeded),
			run("x_z", "s", t0, state.StatusSucceeded),
		)
		tests := []struct {
			id        string
			want      string // the run found; "" for an error
			notFound  bool
			ambiguous bool
		}{
			{id: "0190a1b2-aaaa", want: "0190a1b2-aaaa"},
			{id: "0190a1b2-a", want: "0190a1b2-aaaa"},
			{id: "0190f", want: "0190ffff-cccc"},
			{id: "0190a1b2", ambiguous: true},
			{id: "0190", ambiguous: true},
			{id: "abc", want: "abc"}, // exact, though also a prefix of abcd
			{id: "abcd", want: "abcd"},
			{id: "ab", ambiguous: true},
			{id: "zzz", notFound: true},
			{id: "0190a1b2-aaaab", notFound: true},
			{id: "x%", want: "x%y"}, // LIKE wildcards are literal
			{id: "x_", want: "x_z"},
			{id: "x", ambiguous: true},
			{id: "%", notFound: true},
			{id: "_bc", notFound: true},
		}
		for _, tt := range tests {
			t.Run(tt.id, func(t *testing.T) {
				r, err := s.GetRun(context.Background(), tt.id)
				switch {
				case tt.want != "":
					if err != nil {
						t.Fatalf("GetRun: %v", err)
					}
					if r.ID != tt.want {
						t.Errorf("GetRun(%q) = %s, want %s", tt.id, r.ID, tt.want)
					}
				case err == nil:
					t.Fatalf("GetRun(%q) = %s, want an error", tt.id, r.ID)
				case tt.notFound:
					if !errors.Is(err, state.ErrNotFound) {
						t.Errorf("GetRun(%q): %v, want ErrNotFound", tt.id, err)
					}
				case tt.ambiguous:
					if errors.Is(err, state.ErrNotFound) || !strings.Contains(err.Error(), "ambiguous") {
						t.Errorf("GetRun(%q): %v, want an ambiguous prefix error", tt.id, err)
					}
				}
			})
		}
	})
}

func rowErrs(prefix string, n int) []state.RowError {
	out := make([]state.RowError, n)
	for i := range out {
		out[i] = state.RowError{Key: fmt.Sprintf("%s%d", prefix, i), Op: "upsert", Phase: "load", Error: "rejected " + prefix}
	}
	return out
}

func keys(errs []state.RowError) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Key)
	}
	return out
}

func TestAddRowErrors(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		add := func(runID string, first uint64, errs []state.RowError) {
			t.Helper()
			if err := s.AddRowErrors(ctx, runID, first, errs); err != nil {
				t.Fatalf("AddRowErrors(%s, %d, %d errors): %v", runID, first, len(errs), err)
			}
		}

		// Several batches, numbered on from the count the run already has.
		add("r1", 0, rowErrs("a", 3))
		add("r1", 3, nil)
		add("r1", 3, rowErrs("b", 2))
		add("r2", 0, rowErrs("other", 4))
		got, err := s.RowErrors(ctx, "r1", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := append(rowErrs("a", 3), rowErrs("b", 2)...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RowErrors (-want +got):\n%s", diff)
		}
		if got[0] != (state.RowError{Key: "a0", Op: "upsert", Phase: "load", Error: "rejected a"}) {
			t.Errorf("first row error = %+v", got[0])
		}

		// The cap holds across calls: a batch straddling it is cut, later
		// batches are dropped.
		add("r3", 0, rowErrs("a", state.MaxRowErrors-10))
		add("r3", state.MaxRowErrors-10, rowErrs("b", 25))
		add("r3", state.MaxRowErrors+15, rowErrs("c", 5))
		add("r3", state.MaxRowErrors, rowErrs("d", 1))
		all, err := s.RowErrors(ctx, "r3", 10*state.MaxRowErrors, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != state.MaxRowErrors {
			t.Fatalf("%d row errors kept, want %d", len(all), state.MaxRowErrors)
		}
		if diff := cmp.Diff([]string{"a988", "a989", "b0", "b1", "b8", "b9"},
			keys([]state.RowError{all[988], all[989], all[990], all[991], all[998], all[999]})); diff != "" {
			t.Errorf("row errors around the cap (-want +got):\n%s", diff)
		}

		// Other runs are unaffected.
		other, err := s.RowErrors(ctx, "r2", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(keys(rowErrs("other", 4)), keys(other)); diff != "" {
			t.Errorf("RowErrors of r2 (-want +got):\n%s", diff)
		}
	})
}

func TestRowErrorsPaging(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		// Twelve errors, so that numeric order differs from text order.
		if err := s.AddRowErrors(ctx, "r", 0, rowErrs("k", 12)); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			limit, offset int
			want          []string
		}{
			{5, 0, []string{"k0", "k1", "k2", "k3", "k4"}},
			{5, 5, []string{"k5", "k6", "k7", "k8", "k9"}},
			{5, 10, []string{"k10", "k11"}},
			{5, 12, []string{}},
			{1, 11, []string{"k11"}},
			{0, 0, []string{}},
			{100, 0, keys(rowErrs("k", 12))},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%d@%d", tt.limit, tt.offset), func(t *testing.T) {
				got, err := s.RowErrors(ctx, "r", tt.limit, tt.offset)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, keys(got)); diff != "" {
					t.Errorf("RowErrors(%d, %d) (-want +got):\n%s", tt.limit, tt.offset, diff)
				}
			})
		}
		none, err := s.RowErrors(ctx, "nosuch", 10, 0)
		if err != nil || len(none) != 0 {
			t.Errorf("RowErrors of an unknown run = %v, %v; want none", none, err)
		}
	})
}

func TestMarkInterrupted(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		done := t0.Add(time.Hour)
		finishedFailed := run("failed", "s", t0, state.StatusFailed)
		finishedFailed.FinishedAt, finishedFailed.Error = &done, "boom"
		succeeded := run("succeeded", "s", t0, state.StatusSucceeded)
		succeeded.FinishedAt = &done
		partial := run("partial", "s", t0, state.StatusPartial)
		partial.FinishedAt, partial.Error = &done, "2 rows failed"
		save(t, s,
			run("running", "s", t0, state.StatusRunning),
			run("queued", "s", t0.Add(time.Second), state.StatusQueued),
			run("starting", "s", t0.Add(2*time.Second), state.StatusRunning),
			finishedFailed, succeeded, partial,
			run("other-running", "other", t0, state.StatusRunning),
		)
		before := map[string]*state.Run{}
		for _, id := range []string{"failed", "succeeded", "partial", "other-running"} {
			before[id] = get(t, s, id)
		}

		if err := s.MarkInterrupted(ctx, "s", "starting"); err != nil {
			t.Fatal(err)
		}
		// Queued runs wait for a scheduler or worker; the run about to
		// start keeps its record.
		for _, id := range []string{"queued", "starting"} {
			if r := get(t, s, id); r.Status == state.StatusFailed {
				t.Errorf("%s was marked failed: %+v", id, r)
			}
		}
		for _, id := range []string{"running"} {
			r := get(t, s, id)
			if r.Status != state.StatusFailed {
				t.Errorf("%s: status %s, want %s", id, r.Status, state.StatusFailed)
			}
			if !strings.Contains(r.Error, "interrupted") {
				t.Errorf("%s: error %q does not say interrupted", id, r.Error)
			}
			if r.FinishedAt == nil {
				t.Errorf("%s: no finished_at", id)
			}
		}
		for id, want := range before {
			if diff := cmp.Diff(want, get(t, s, id)); diff != "" {
				t.Errorf("%s changed (-before +after):\n%s", id, diff)
			}
		}

		// Nothing left to mark: a second call changes nothing.
		marked := get(t, s, "running")
		if err := s.MarkInterrupted(ctx, "s", "starting"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(marked, get(t, s, "running")); diff != "" {
			t.Errorf("second MarkInterrupted changed the run (-before +after):\n%s", diff)
		}
	})
}

// TestFailQueued: runs left queued by a process that stopped are failed
// as not started; nothing else changes.
func TestFailQueued(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		save(t, s, run("q1", "s", t0, state.StatusQueued), run("q2", "other", t0, state.StatusQueued),
			run("r", "s", t0, state.StatusRunning))
		n, err := s.FailQueued(ctx, "not started: gone")
		if err != nil || n != 2 {
			t.Fatalf("FailQueued = %d, %v; want 2", n, err)
		}
		for _, id := range []string{"q1", "q2"} {
			if r := get(t, s, id); r.Status != state.StatusFailed || r.Error != "not started: gone" || r.FinishedAt == nil {
				t.Errorf("%s: %+v", id, r)
			}
		}
		if r := get(t, s, "r"); r.Status != state.StatusRunning {
			t.Errorf("a running run changed: %+v", r)
		}
	})
}

func TestSyncState(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		lookup := func(sync string) (state.SyncState, bool) {
			t.Helper()
			st, ok, err := s.SyncState(ctx, sync)
			if err != nil {
				t.Fatalf("SyncState(%s): %v", sync, err)
			}
			return st, ok
		}
		set := func(st state.SyncState) {
			t.Helper()
			if err := s.SetSyncState(ctx, st); err != nil {
				t.Fatalf("SetSyncState: %v", err)
			}
		}

		if st, ok := lookup("a"); ok || st != (state.SyncState{Sync: "a"}) {
			t.Errorf("SyncState of a new sync = %+v, %v; want empty, false", st, ok)
		}
		first := state.SyncState{Sync: "a", MappingHash: "00000000deadbeef", PrimaryKey: "id", LastRows: 42}
		set(first)
		set(state.SyncState{Sync: "b", MappingHash: "1", PrimaryKey: "k", LastRows: 1})
		if st, ok := lookup("a"); !ok || st != first {
			t.Errorf("SyncState(a) = %+v, %v; want %+v, true", st, ok, first)
		}
		second := state.SyncState{Sync: "a", MappingHash: "feedface00000000", PrimaryKey: "tenant|id", LastRows: 0}
		set(second)
		if st, ok := lookup("a"); !ok || st != second {
			t.Errorf("SyncState(a) after an update = %+v, %v; want %+v, true", st, ok, second)
		}

		// Reset forgets the bookkeeping of that sync only, not its runs.
		save(t, s, run("ra", "a", t0, state.StatusSucceeded))
		if err := s.ResetSync(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if st, ok := lookup("a"); ok {
			t.Errorf("SyncState(a) after reset = %+v, true", st)
		}
		if _, ok := lookup("b"); !ok {
			t.Error("resetting a forgot b")
		}
		get(t, s, "ra")
		if err := s.ResetSync(ctx, "never"); err != nil {
			t.Errorf("ResetSync of an unknown sync: %v", err)
		}
	})
}

// The store survives closing and reopening.
func TestReopen(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		path := b.location(t)
		s, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		save(t, s, run("r", "s", t0, state.StatusSucceeded))
		if err := s.SetSyncState(ctx, state.SyncState{Sync: "s", MappingHash: "h", PrimaryKey: "id", LastRows: 3}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r := get(t, s, "r"); !r.StartedAt.Equal(t0) {
			t.Errorf("started_at %v, want %v", r.StartedAt, t0)
		}
		if st, ok, err := s.SyncState(ctx, "s"); err != nil || !ok || st.LastRows != 3 {
			t.Errorf("SyncState after reopening = %+v, %v, %v", st, ok, err)
		}
	})
}

// Stores written before times had a fixed width hold RFC 3339 times with
// trimmed fractions; they still read back.
func TestReadsTrimmedTimes(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		path := b.location(t)
		s, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		db, err := sql.Open(b.driver, b.dsn(path))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `INSERT INTO runs (id, sync, model, destination, status, started_at, finished_at)
		VALUES ('old', 's', 'm', 'd', 'succeeded', '2024-05-06T07:08:09.1234Z', '2024-05-06T07:09:00Z')`); err != nil {
			t.Fatal(err)
		}
		r := get(t, s, "old")
		if want := time.Date(2024, 5, 6, 7, 8, 9, 123400000, time.UTC); !r.StartedAt.Equal(want) {
			t.Errorf("started_at %v, want %v", r.StartedAt, want)
		}
		if want := time.Date(2024, 5, 6, 7, 9, 0, 0, time.UTC); r.FinishedAt == nil || !r.FinishedAt.Equal(want) {
			t.Errorf("finished_at %v, want %v", r.FinishedAt, want)
		}
	})
}

func TestRequestLog(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, err := state.Open(ctx, b.location(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		var reqs []state.Request
		for i := uint64(0); i < state.MaxRequests+5; i++ {
			reqs = append(reqs, state.Request{Seq: i, At: at, Method: "POST", URL: "http://127.0.0.1/x", Status: 200, LatencyMS: 1.5, RequestBody: "{}", ResponseBody: "ok"})
		}
		reqs[1].Status, reqs[1].Error = 0, "timeout"
		if err := s.AddRequests(ctx, "r1", reqs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Requests(ctx, "r1", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != state.MaxRequests {
			t.Fatalf("kept %d requests, want the first %d", len(got), state.MaxRequests)
		}
		if got[1].Error != "timeout" || got[1].Status != 0 || !got[0].At.Equal(at) || got[0].LatencyMS != 1.5 || got[0].ResponseBody != "ok" {
			t.Errorf("round trip: %+v / %+v", got[0], got[1])
		}
		page, _ := s.Requests(ctx, "r1", 2, 3)
		if len(page) != 2 || page[0].Seq != 3 {
			t.Errorf("page: %+v", page)
		}
		if other, _ := s.Requests(ctx, "r2", 10, 0); len(other) != 0 {
			t.Errorf("another run's log: %+v", other)
		}
	})
}
