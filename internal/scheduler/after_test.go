package scheduler

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

// TestAfterProgressSurvivesRestart: what a scheduler knows at start about
// the after: sequences is derived from the run history in the state
// store, for c, which runs after a and b.
func TestAfterProgressSurvivesRestart(t *testing.T) {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	run := func(sync, status string, started, finished int, errText ...string) *state.Run {
		r := &state.Run{ID: sync + "-" + status + "-" + at(started).Format("1504"), Sync: sync, Model: "m", Destination: "d",
			Status: status, StartedAt: at(started)}
		if finished != 0 {
			f := at(finished)
			r.FinishedAt = &f
		}
		if len(errText) > 0 {
			r.Error = errText[0]
		}
		return r
	}
	tests := []struct {
		name   string
		seed   []*state.Run
		done   []string // c's upstream syncs known to have succeeded
		queued bool     // c is queued at start
	}{
		{name: "nothing ran"},
		{name: "a succeeded after c's last run",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20)},
			done: []string{"a"}},
		{name: "a succeeded before c's last run began: used up",
			seed: []*state.Run{run("a", state.StatusSucceeded, -70, -65), run("c", state.StatusSucceeded, -60, -55)}},
		{name: "a partial counts",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusPartial, -30, -20)},
			done: []string{"a"}},
		{name: "a failed does not count",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusFailed, -30, -20)}},
		{name: "a later failure does not undo a success",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20),
				run("a", state.StatusFailed, -10, -5)},
			done: []string{"a"}},
		{name: "a success that finished while c ran counts for c's next run",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -40), run("a", state.StatusSucceeded, -55, -50)},
			done: []string{"a"}},
		{name: "c never ran: any success counts",
			seed: []*state.Run{run("b", state.StatusSucceeded, -500, -490)},
			done: []string{"b"}},
		{name: "both succeeded since c's last run: c is queued once",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20),
				run("b", state.StatusSucceeded, -15, -10)},
			queued: true},
		{name: "c's queued run dropped at shutdown did not use them up",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20),
				run("b", state.StatusSucceeded, -15, -10), run("c", state.StatusFailed, -9, -1, "not started: riptide serve stopped first")},
			queued: true},
		{name: "c's run left queued by a kill did not use them up",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20),
				run("c", state.StatusQueued, -9, 0)},
			done: []string{"a"}},
		{name: "c's interrupted run did use them up",
			seed: []*state.Run{run("c", state.StatusSucceeded, -60, -55), run("a", state.StatusSucceeded, -30, -20),
				run("b", state.StatusSucceeded, -15, -10), run("c", state.StatusFailed, -9, -1, "interrupted: the process running it stopped")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, abc(t), t0, tt.seed...)
			if tt.queued {
				b.end(b.expectCall("c"), state.StatusSucceeded)
			}
			b.sched.mu.Lock()
			got := sortedNames(b.sched.syncs["c"].upDone)
			b.sched.mu.Unlock()
			if !slices.Equal(got, tt.done) && (len(got) > 0 || len(tt.done) > 0) {
				t.Errorf("c's upstream syncs done: %v, want %v", got, tt.done)
			}
			b.running()
			if d := b.sched.QueueDepth(); d != 0 {
				t.Errorf("queue depth %d after start", d)
			}
		})
	}
}

// abc is a project where c runs after a and b.
func abc(t *testing.T) *config.Project {
	return project(nil, syncOf(t, "a", "m1", "d", ""), syncOf(t, "b", "m2", "d", ""), syncOf(t, "c", "m3", "d", "", "a", "b"))
}

// TestAfterSequenceResumesAcrossRestart: a succeeds under one scheduler,
// which stops; under the next one on the same state store, b's success is
// enough for c to run.
func TestAfterSequenceResumesAcrossRestart(t *testing.T) {
	b := setup(t, abc(t), t0)
	b.trigger("a")
	b.end(b.expectCall("a"), state.StatusSucceeded)
	b.stop()
	if err := b.sched.Wait(); err != nil {
		t.Fatal(err)
	}

	next, err := New(Config{Project: abc(t), Runner: b.runner, Store: b.store, Clock: b.clock,
		ShutdownTimeout: time.Minute, OnFinish: b.sched.onFinish})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer func() {
		stop()
		next.Wait()
	}()
	if err := next.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.sched = next
	b.ctx = ctx
	b.trigger("b")
	b.end(b.expectCall("b"), state.StatusSucceeded)
	b.end(b.expectCall("c"), state.StatusSucceeded)
	b.running()
}
