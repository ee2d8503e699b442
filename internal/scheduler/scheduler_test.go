package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // the DST test needs America/New_York everywhere

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

func TestTriggerQueuesOnceWhileRunning(t *testing.T) {
	b := setup(t, project(nil, syncOf(t, "s", "m", "d", "")), t0)
	first := b.trigger("s")
	if got := b.status(first); got != state.StatusRunning && got != state.StatusQueued {
		t.Fatalf("first run is %s", got)
	}
	c1 := b.expectCall("s")
	if c1.opts.RunIDs["s"] != first {
		t.Fatalf("run started as %q, want the queued record %q", c1.opts.RunIDs["s"], first)
	}
	second := b.trigger("s")
	if second == first {
		t.Fatal("a trigger while the sync runs returned the running run")
	}
	if got := b.status(second); got != state.StatusQueued {
		t.Errorf("second run is %s, want queued", got)
	}
	for range 3 {
		if again := b.trigger("s"); again != second {
			t.Fatalf("a trigger while one is queued returned %q, want the queued %q", again, second)
		}
	}
	if d := b.sched.QueueDepth(); d != 1 {
		t.Errorf("queue depth %d, want 1", d)
	}
	b.running("s")
	b.end(c1, state.StatusSucceeded)
	c2 := b.expectCall("s")
	if c2.opts.RunIDs["s"] != second {
		t.Errorf("second run started as %q, want %q", c2.opts.RunIDs["s"], second)
	}
	b.end(c2, state.StatusSucceeded)
	b.running()
	if n := b.runs("s"); n != 2 {
		t.Errorf("%d run records, want 2", n)
	}
	if got := b.status(first) + " " + b.status(second); got != "succeeded succeeded" {
		t.Errorf("statuses %s", got)
	}
}

func TestTriggerErrors(t *testing.T) {
	b := setup(t, project(nil, syncOf(t, "s", "m", "d", "")), t0)
	if _, err := b.sched.Trigger(b.ctx, "nope", engine.Options{}); !errors.Is(err, ErrUnknownSync) {
		t.Errorf("unknown sync: %v, want ErrUnknownSync", err)
	}
	b.stop()
	if err := b.sched.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sched.Trigger(b.ctx, "s", engine.Options{}); !errors.Is(err, ErrStopped) {
		t.Errorf("after stop: %v, want ErrStopped", err)
	}
}

func TestDestinationConcurrencyIsShared(t *testing.T) {
	p := project(map[string]int{"crm": 2},
		syncOf(t, "a", "m1", "crm", ""), syncOf(t, "b", "m2", "crm", ""),
		syncOf(t, "c", "m3", "crm", ""), syncOf(t, "other", "m4", "hook", ""))
	b := setup(t, p, t0)
	for _, s := range []string{"a", "b", "c", "other"} {
		b.trigger(s)
	}
	b.running("a", "b", "other")
	if d := b.sched.QueueDepth(); d != 1 {
		t.Fatalf("queue depth %d, want 1 (c waits for crm)", d)
	}
	calls := map[string]*call{}
	for range 3 {
		c := b.nextCall()
		calls[c.syncs[0]] = c
	}
	b.end(calls["other"], state.StatusSucceeded)
	b.running("a", "b") // another destination's slot does not free crm's
	b.end(calls["a"], state.StatusFailed)
	b.running("b", "c")
	b.end(b.expectCall("c"), state.StatusSucceeded)
	b.end(calls["b"], state.StatusSucceeded)
	b.running()
}

func TestSyncsDueTogetherShareTheExtraction(t *testing.T) {
	p := project(nil,
		syncOf(t, "x", "users", "crm", "CRON_TZ=UTC 0 13 * * *"), syncOf(t, "y", "users", "hook", "CRON_TZ=UTC 0 13 * * *"),
		syncOf(t, "z", "orders", "crm", "CRON_TZ=UTC 0 13 * * *"))
	b := setup(t, p, t0)
	fire := time.Date(2024, 3, 9, 13, 0, 0, 0, time.UTC)
	if next, ok := b.sched.Next("x"); !ok || !next.Equal(fire) {
		t.Fatalf("next %v %v, want %v", next, ok, fire)
	}
	b.waitArmed(fire)
	b.clock.set(fire)
	calls := map[string]*call{}
	for range 2 {
		c := b.nextCall()
		calls[strings.Join(c.syncs, ",")] = c
	}
	users := calls["x,y"]
	if users == nil {
		users = calls["y,x"]
	}
	if users == nil || calls["z"] == nil {
		t.Fatalf("calls %v, want x and y together and z alone", calls)
	}
	b.end(users, state.StatusSucceeded)
	b.end(calls["z"], state.StatusSucceeded)
}

func TestMissedSchedulesRunOnce(t *testing.T) {
	hoursAgo := func(h int) *state.Run {
		return &state.Run{ID: "old", Model: "m", Destination: "d", Status: state.StatusSucceeded,
			StartedAt: t0.Add(-time.Duration(h) * time.Hour)}
	}
	tests := []struct {
		name     string
		schedule string
		last     *state.Run // nil: the sync never ran
		runs     bool
		next     time.Time
	}{
		{"cron missed five times runs once", "CRON_TZ=UTC 0 * * * *", hoursAgo(5), true, t0.Add(time.Hour)},
		{"cron not missed", "CRON_TZ=UTC 0 0 * * *", hoursAgo(5), false, time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)},
		{"cron that never ran waits for its time", "CRON_TZ=UTC 30 * * * *", nil, false, t0.Add(30 * time.Minute)},
		{"interval missed three times runs once", "every 1h", hoursAgo(3), true, t0.Add(time.Hour)},
		{"interval not missed", "every 6h", hoursAgo(5), false, t0.Add(time.Hour)},
		{"interval that never ran runs at once", "every 6h", nil, true, t0.Add(6 * time.Hour)},
		{"a queued run that never started counts as the last", "every 6h",
			&state.Run{ID: "q", Model: "m", Destination: "d", Status: state.StatusQueued, StartedAt: t0.Add(-time.Hour)}, false, t0.Add(5 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seed []*state.Run
			before := 0
			if tt.last != nil {
				tt.last.Sync = "s"
				seed, before = []*state.Run{tt.last}, 1
			}
			b := setup(t, project(nil, syncOf(t, "s", "m", "d", tt.schedule)), t0, seed...)
			if next, ok := b.sched.Next("s"); !ok || !next.Equal(tt.next) {
				t.Errorf("next %v, want %v", next, tt.next)
			}
			if tt.runs {
				b.end(b.expectCall("s"), state.StatusSucceeded)
			}
			b.running()
			if d := b.sched.QueueDepth(); d != 0 {
				t.Errorf("queue depth %d after the catch-up", d)
			}
			want := before
			if tt.runs {
				want++
			}
			if n := b.runs("s"); n != want {
				t.Errorf("%d run records, want %d", n, want)
			}
		})
	}
}

func TestAfterChains(t *testing.T) {
	// Each step ends the next run with a status; the syncs that run are
	// checked at every step.
	type step struct {
		want   []string // the syncs of the next call
		status string
	}
	tests := []struct {
		name   string
		syncs  func(t *testing.T) []*config.Sync
		first  string
		steps  []step
		queued int // runs left queued at the end
	}{
		{
			name: "a sequence",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "a", "m1", "d", ""), syncOf(t, "b", "m2", "d", "", "a"), syncOf(t, "c", "m3", "d", "", "b")}
			},
			first: "a",
			steps: []step{{[]string{"a"}, state.StatusSucceeded}, {[]string{"b"}, state.StatusSucceeded}, {[]string{"c"}, state.StatusSucceeded}},
		},
		{
			name: "a diamond runs its bottom once, after both sides",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "top", "m1", "d", ""),
					syncOf(t, "left", "m2", "d", "", "top"), syncOf(t, "right", "m3", "d", "", "top"),
					syncOf(t, "bottom", "m4", "d", "", "left", "right")}
			},
			first: "top",
			steps: []step{{[]string{"top"}, state.StatusSucceeded}, {[]string{"left"}, state.StatusSucceeded},
				{[]string{"right"}, state.StatusSucceeded}, {[]string{"bottom"}, state.StatusSucceeded}},
		},
		{
			name: "a failed upstream stops the sequence",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "a", "m1", "d", ""), syncOf(t, "b", "m2", "d", "", "a")}
			},
			first: "a",
			steps: []step{{[]string{"a"}, state.StatusFailed}},
		},
		{
			name: "a partial upstream counts as done",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "a", "m1", "d", ""), syncOf(t, "b", "m2", "d", "", "a")}
			},
			first: "a",
			steps: []step{{[]string{"a"}, state.StatusPartial}, {[]string{"b"}, state.StatusSucceeded}},
		},
		{
			name: "a diamond with one failed side does not run its bottom",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "top", "m1", "d", ""),
					syncOf(t, "left", "m2", "d", "", "top"), syncOf(t, "right", "m3", "d", "", "top"),
					syncOf(t, "bottom", "m4", "d", "", "left", "right")}
			},
			first: "top",
			steps: []step{{[]string{"top"}, state.StatusSucceeded}, {[]string{"left"}, state.StatusSucceeded},
				{[]string{"right"}, state.StatusFailed}},
		},
		{
			name: "dependents on one model share one extraction",
			syncs: func(t *testing.T) []*config.Sync {
				return []*config.Sync{syncOf(t, "a", "m1", "d", ""),
					syncOf(t, "b", "shared", "d", "", "a"), syncOf(t, "c", "shared", "d", "", "a")}
			},
			first: "a",
			steps: []step{{[]string{"a"}, state.StatusSucceeded}, {[]string{"b", "c"}, state.StatusSucceeded}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, project(nil, tt.syncs(t)...), t0)
			b.trigger(tt.first)
			// Calls that start together arrive in any order; keep them
			// until their step comes.
			pending := map[string]*call{}
			for _, st := range tt.steps {
				key := strings.Join(st.want, ",")
				for pending[key] == nil {
					c := b.nextCall()
					pending[strings.Join(sortedCopy(c.syncs), ",")] = c
				}
				b.end(pending[key], st.status)
				delete(pending, key)
			}
			if len(pending) > 0 {
				t.Fatalf("unexpected runs: %v", pending)
			}
			b.running()
			if d := b.sched.QueueDepth(); d != tt.queued {
				t.Errorf("queue depth %d, want %d", d, tt.queued)
			}
		})
	}
}

func sortedCopy(list []string) []string {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return sortedNames(m)
}

func TestReload(t *testing.T) {
	old := project(nil,
		syncOf(t, "kept", "m1", "d", "every 1h"), syncOf(t, "changed", "m2", "d", "every 1h"),
		syncOf(t, "removed", "m3", "d", ""))
	ranAt := func(sync string) *state.Run {
		return &state.Run{ID: "r-" + sync, Sync: sync, Model: "m", Destination: "d", Status: state.StatusSucceeded, StartedAt: t0}
	}
	b := setup(t, old, t0, ranAt("kept"), ranAt("changed"))
	running := b.trigger("removed")
	c := b.expectCall("removed")
	queued := b.trigger("removed")

	b.clock.set(t0.Add(10 * time.Minute))
	newRunner := &fakeRunner{store: b.store, calls: b.runner.calls}
	next := project(nil,
		syncOf(t, "kept", "m1", "d", "every 1h"), syncOf(t, "changed", "m2", "d", "every 2h"),
		syncOf(t, "added", "m4", "d", "every 30m"))
	if err := b.sched.Reload(b.ctx, next, newRunner); err != nil {
		t.Fatal(err)
	}
	if b.sched.Project() != next {
		t.Error("Project() is not the reloaded project")
	}
	for sync, want := range map[string]time.Time{
		"kept":    t0.Add(time.Hour), // unchanged: keeps its time
		"changed": t0.Add(10*time.Minute + 2*time.Hour),
		"added":   t0.Add(40 * time.Minute),
	} {
		if got, ok := b.sched.Next(sync); !ok || !got.Equal(want) {
			t.Errorf("next %s %v, want %v", sync, got, want)
		}
	}
	if _, ok := b.sched.Next("removed"); ok {
		t.Error("a removed sync still has a next run")
	}
	if _, err := b.sched.Trigger(b.ctx, "removed", engine.Options{}); !errors.Is(err, ErrUnknownSync) {
		t.Errorf("trigger of a removed sync: %v", err)
	}
	if got := b.status(queued); got != state.StatusFailed {
		t.Errorf("queued run of the removed sync is %s, want failed", got)
	}
	if d := b.sched.QueueDepth(); d != 0 {
		t.Errorf("queue depth %d", d)
	}
	// The run in flight finishes as it began.
	b.end(c, state.StatusSucceeded)
	if got := b.status(running); got != state.StatusSucceeded {
		t.Errorf("run in flight is %s, want succeeded", got)
	}
	b.clock.set(t0.Add(40 * time.Minute))
	b.end(b.expectCall("added"), state.StatusSucceeded)
	b.clock.set(t0.Add(time.Hour))
	b.end(b.expectCall("kept"), state.StatusSucceeded)
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name    string
		outlast bool // the run in flight outlasts the timeout
		status  string
		wantErr string
	}{
		{name: "in-flight runs finish", status: state.StatusSucceeded},
		{name: "a run past the timeout is cancelled", outlast: true, status: state.StatusFailed,
			wantErr: "runs of a did not finish within 1m0s and were cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, project(nil, syncOf(t, "a", "m1", "d", ""), syncOf(t, "b", "m2", "d", "", "a")), t0)
			inFlight := b.trigger("a")
			c := b.expectCall("a")
			queued := b.trigger("a")
			b.stop()
			b.waitArmed(t0.Add(time.Minute))
			if _, err := b.sched.Trigger(context.Background(), "a", engine.Options{}); !errors.Is(err, ErrStopped) {
				t.Errorf("trigger while stopping: %v", err)
			}
			if got := b.status(queued); got != state.StatusFailed {
				t.Errorf("queued run is %s, want failed (it never started)", got)
			}
			if tt.outlast {
				b.clock.set(t0.Add(time.Minute))
			} else {
				c.end <- state.StatusSucceeded
			}
			err := b.sched.Wait()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Wait: %v, want %q", err, tt.wantErr)
			}
			if got := b.status(inFlight); got != tt.status {
				t.Errorf("in-flight run is %s, want %s", got, tt.status)
			}
			// b runs after a, but not once the scheduler stopped.
			if n := b.runs("b"); n != 0 {
				t.Errorf("b has %d runs after shutdown", n)
			}
		})
	}
}

func TestCronTimeZoneAcrossDaylightSaving(t *testing.T) {
	// 9:00 in New York is 14:00 UTC in winter and 13:00 UTC from Sunday
	// 10 March 2024, when the clocks went forward; and 14:00 UTC again
	// from Sunday 3 November.
	b := setup(t, project(nil, syncOf(t, "s", "m", "d", "CRON_TZ=America/New_York 0 9 * * *")), t0)
	for _, fire := range []time.Time{
		time.Date(2024, 3, 9, 14, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 10, 13, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 11, 13, 0, 0, 0, time.UTC),
	} {
		if next, ok := b.sched.Next("s"); !ok || !next.Equal(fire) {
			t.Fatalf("next %v, want %v", next, fire)
		}
		b.clock.set(fire.Add(-time.Minute))
		b.running()
		b.clock.set(fire)
		b.end(b.expectCall("s"), state.StatusSucceeded)
	}
	b.clock.set(time.Date(2024, 11, 2, 15, 0, 0, 0, time.UTC))
	b.end(b.expectCall("s"), state.StatusSucceeded) // late: once, not once a day
	if next, _ := b.sched.Next("s"); !next.Equal(time.Date(2024, 11, 3, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("next after the autumn change %v, want 14:00 UTC", next)
	}
	if n := b.runs("s"); n != 4 {
		t.Errorf("%d runs, want 4", n)
	}
}

// TestStartFailsRunsLeftQueued: runs a stopped process queued in the
// embedded store and never started are failed as not started when a new
// scheduler starts, instead of staying queued forever.
func TestStartFailsRunsLeftQueued(t *testing.T) {
	left := &state.Run{ID: "left-queued", Sync: "a", Model: "m1", Destination: "d", Status: state.StatusQueued, StartedAt: t0.Add(-time.Hour)}
	b := setup(t, project(nil, syncOf(t, "a", "m1", "d", "")), t0, left)
	r, err := b.store.GetRun(context.Background(), "left-queued")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != state.StatusFailed || !strings.Contains(r.Error, "not started") || r.FinishedAt == nil {
		t.Errorf("a run left queued by a stopped process: %+v, want failed as not started", r)
	}
}
