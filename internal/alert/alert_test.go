package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// run builds a finished run of sync "users" that took d.
func run(id, status string, d time.Duration, c state.Counts) *state.Run {
	end := t0.Add(d)
	return &state.Run{ID: id, Sync: "users", Status: status, StartedAt: t0, FinishedAt: &end, Counts: c}
}

func rows(n uint64) state.Counts { return state.Counts{Rows: n, Succeeded: n} }

func TestEvaluate(t *testing.T) {
	t.Parallel()
	all := &config.Alerts{
		On:            config.AlertRules,
		RowFailurePct: 5, SlowerThan: 30 * time.Minute,
		VolumeChangePct: 50, VolumeWindow: 3,
	}
	only := func(rule string) *config.Alerts {
		a := *all
		a.On = []string{rule}
		return &a
	}
	hist := func(counts ...uint64) []*state.Run {
		var out []*state.Run
		for i, n := range counts {
			out = append(out, run("h"+string(rune('a'+i)), state.StatusSucceeded, time.Minute, rows(n)))
		}
		return out
	}
	failed := run("r1", state.StatusFailed, time.Minute, state.Counts{})
	failed.Error = "source: no such table: users"

	tests := []struct {
		name    string
		rules   *config.Alerts
		run     *state.Run
		history []*state.Run
		want    []string // rule: message fragment
	}{
		{name: "no rules", rules: nil, run: failed},
		{name: "unfinished run", rules: all, run: &state.Run{ID: "r", Status: state.StatusRunning}},
		{name: "failure", rules: only(config.AlertFailure), run: failed,
			want: []string{"failure: the run failed: source: no such table: users"}},
		{name: "failure rule off", rules: only(config.AlertSlow), run: failed},
		{name: "success is no failure", rules: only(config.AlertFailure), run: run("r", state.StatusSucceeded, time.Minute, rows(10))},
		{name: "partial is no failure", rules: only(config.AlertFailure), run: run("r", state.StatusPartial, time.Minute, state.Counts{Rows: 10, Succeeded: 9, Failed: 1})},

		{name: "row failures above", rules: only(config.AlertRowFailures),
			run:  run("r", state.StatusPartial, time.Minute, state.Counts{Rows: 100, Succeeded: 90, Failed: 4, Rejected: 2}),
			want: []string{"row_failures: 6 of 96 rows failed or were rejected (6.2%, over the 5% threshold)"}},
		{name: "row failures exactly at the threshold", rules: only(config.AlertRowFailures),
			run: run("r", state.StatusPartial, time.Minute, state.Counts{Rows: 100, Succeeded: 95, Failed: 5})},
		{name: "row failures just above", rules: only(config.AlertRowFailures),
			run:  run("r", state.StatusPartial, time.Minute, state.Counts{Rows: 1000, Succeeded: 949, Failed: 51}),
			want: []string{"row_failures: 51 of 1000"}},
		{name: "rejected rows count", rules: only(config.AlertRowFailures),
			run:  run("r", state.StatusFailed, time.Minute, state.Counts{Rows: 10, Rejected: 10}),
			want: []string{"row_failures: 10 of 10 rows failed or were rejected (100%"}},
		{name: "nothing sent", rules: only(config.AlertRowFailures), run: run("r", state.StatusSucceeded, time.Minute, state.Counts{Rows: 10, Unchanged: 10})},
		{name: "zero threshold fires on one row", rules: &config.Alerts{On: []string{config.AlertRowFailures}},
			run:  run("r", state.StatusPartial, time.Minute, state.Counts{Rows: 1000, Succeeded: 999, Failed: 1}),
			want: []string{"row_failures: 1 of 1000 rows failed or were rejected (0.1%, over the 0% threshold)"}},
		{name: "zero threshold, no failed row", rules: &config.Alerts{On: []string{config.AlertRowFailures}},
			run: run("r", state.StatusSucceeded, time.Minute, rows(5))},

		{name: "slow", rules: only(config.AlertSlow), run: run("r", state.StatusSucceeded, 31*time.Minute, rows(1)),
			want: []string{"slow: the run took 31m0s, longer than 30m0s"}},
		{name: "exactly the bound is not slow", rules: only(config.AlertSlow), run: run("r", state.StatusSucceeded, 30*time.Minute, rows(1))},
		{name: "a failed run can be slow", rules: all, run: run("r", state.StatusFailed, 2*time.Hour, state.Counts{}),
			want: []string{"failure: the run failed", "slow: the run took 2h0m0s"}},

		{name: "first run: no history", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(1000))},
		{name: "history holds only the run itself", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(1000)),
			history: []*state.Run{run("r", state.StatusSucceeded, time.Minute, rows(1000))}},
		{name: "volume up", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(160)),
			history: hist(100, 100, 100),
			want:    []string{"volume: the run read 160 rows, 60% more than the average of 100 over the last 3 finished runs (threshold 50%)"}},
		{name: "volume down", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(40)),
			history: hist(100, 100),
			want:    []string{"volume: the run read 40 rows, 60% fewer than the average of 100 over the last 2 finished runs"}},
		{name: "volume change exactly at the threshold", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(150)),
			history: hist(100, 100)},
		{name: "volume window limits the average", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(100)),
			// The last three average 100; the older 1000s are outside the window.
			history: hist(100, 100, 100, 1000, 1000)},
		{name: "volume skips failed and unfinished runs and the run itself", rules: only(config.AlertVolume),
			run: run("r", state.StatusSucceeded, time.Minute, rows(100)),
			history: []*state.Run{
				run("r", state.StatusSucceeded, time.Minute, rows(100)),
				{ID: "q", Status: state.StatusQueued},
				run("f", state.StatusFailed, time.Minute, rows(0)),
				run("p", state.StatusPartial, time.Minute, rows(90)),
				run("s", state.StatusSucceeded, time.Minute, rows(110)),
			}},
		{name: "volume from nothing", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(5)),
			history: hist(0, 0),
			want:    []string{"volume: the run read 5 rows where the last 2 finished runs read none"}},
		{name: "still nothing", rules: only(config.AlertVolume), run: run("r", state.StatusSucceeded, time.Minute, rows(0)),
			history: hist(0, 0)},
		{name: "a failed run is not judged on volume", rules: only(config.AlertVolume), run: run("r", state.StatusFailed, time.Minute, rows(0)),
			history: hist(100)},
		{name: "every rule at once", rules: all,
			run:     run("r", state.StatusPartial, time.Hour, state.Counts{Rows: 1000, Succeeded: 500, Failed: 500}),
			history: hist(100),
			want:    []string{"row_failures: 500 of 1000", "slow: the run took 1h0m0s", "volume: the run read 1000 rows, 900% more"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.rules, tc.run, tc.history)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d alerts %+v, want %d: %q", len(got), got, len(tc.want), tc.want)
			}
			for i, a := range got {
				rule, frag, _ := strings.Cut(tc.want[i], ": ")
				if a.Rule != rule || !strings.Contains(a.Message, frag) {
					t.Errorf("alert %d = %s: %q, want %s: …%q…", i, a.Rule, a.Message, rule, frag)
				}
				if a.Sync != tc.run.Sync || a.RunID != tc.run.ID || a.Status != tc.run.Status || a.Counts != tc.run.Counts {
					t.Errorf("alert %d does not describe its run: %+v", i, a)
				}
			}
		})
	}
}

func TestEvaluateFigures(t *testing.T) {
	t.Parallel()
	rules := &config.Alerts{On: []string{config.AlertSlow, config.AlertVolume}, SlowerThan: time.Minute, VolumeChangePct: 10, VolumeWindow: 5}
	got := Evaluate(rules, run("r", state.StatusSucceeded, 90*time.Second, rows(50)), []*state.Run{run("h", state.StatusSucceeded, time.Minute, rows(100))})
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
	if got[0].Value != 90 || got[0].Threshold != 60 || got[0].Duration != 90*time.Second || !got[0].FinishedAt.Equal(t0.Add(90*time.Second)) {
		t.Errorf("slow figures: %+v", got[0])
	}
	if got[1].Value != -50 || got[1].Threshold != 10 {
		t.Errorf("volume figures: value %v threshold %v, want -50 and 10", got[1].Value, got[1].Threshold)
	}
}
