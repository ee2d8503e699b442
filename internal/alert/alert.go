// Package alert tells people when a sync breaks under `riptide serve`: it
// checks each finished run against the sync's alert rules (failure, a
// share of failed rows, a slow run, a row count far from the recent
// average) and delivers what fires to webhooks and Slack channels, off the
// scheduler's path, with retries.
package alert

import (
	"fmt"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

// Alert is one rule firing for one run.
type Alert struct {
	Rule string
	Sync string
	// RunID is the run the alert is about; empty for a stream's alert.
	RunID      string
	Status     string
	Message    string
	Error      string // the run's error, when it failed
	Counts     state.Counts
	StartedAt  time.Time
	FinishedAt time.Time
	Duration   time.Duration
	// Value is what the rule measured and Threshold the bound it crossed:
	// percent for row_failures and volume, seconds for slow, bytes for
	// stream_lag; both 0 for failure.
	Value     float64
	Threshold float64
}

// StreamAlert is an alert about a stream sync rather than one of its runs:
// rule is AlertFailure (the stream failed) or AlertStreamLag; status is the
// stream's state; at is when it was noticed.
func StreamAlert(rule, sync, status, message string, value, threshold float64, at time.Time) Alert {
	return Alert{Rule: rule, Sync: sync, Status: status, Message: message, Value: value, Threshold: threshold,
		StartedAt: at, FinishedAt: at}
}

// Evaluate checks a finished run against rules and returns the alerts
// that fire, at most one per rule, in the order of config.AlertRules.
// history is the sync's recent runs, newest first, as the state store
// lists them; the run itself and runs that did not finish (failed,
// queued, running) are skipped, and the volume rule averages the rows read
// by at most rules.VolumeWindow of the others. It is a pure function.
func Evaluate(rules *config.Alerts, run *state.Run, history []*state.Run) []Alert {
	if rules == nil || run == nil || run.FinishedAt == nil {
		return nil
	}
	base := Alert{
		Sync: run.Sync, RunID: run.ID, Status: run.Status, Error: run.Error, Counts: run.Counts,
		StartedAt: run.StartedAt, FinishedAt: *run.FinishedAt, Duration: run.FinishedAt.Sub(run.StartedAt),
	}
	var out []Alert
	fire := func(rule string, value, threshold float64, format string, args ...any) {
		a := base
		a.Rule, a.Value, a.Threshold = rule, value, threshold
		a.Message = fmt.Sprintf(format, args...)
		out = append(out, a)
	}
	finished := run.Status == state.StatusSucceeded || run.Status == state.StatusPartial

	if rules.Enabled(config.AlertFailure) && run.Status == state.StatusFailed {
		msg := "the run failed"
		if run.Error != "" {
			msg += ": " + run.Error
		}
		fire(config.AlertFailure, 0, 0, "%s", msg)
	}

	if rules.Enabled(config.AlertRowFailures) {
		c := run.Counts
		bad := c.Failed + c.Rejected
		total := c.Succeeded + c.Failed + c.Rejected
		if total > 0 {
			pct := 100 * float64(bad) / float64(total)
			if pct > rules.RowFailurePct && bad > 0 {
				fire(config.AlertRowFailures, pct, rules.RowFailurePct,
					"%d of %d rows failed or were rejected (%s%%, over the %s%% threshold)",
					bad, total, fmtPct(pct), fmtPct(rules.RowFailurePct))
			}
		}
	}

	if rules.Enabled(config.AlertSlow) && rules.SlowerThan > 0 && base.Duration > rules.SlowerThan {
		fire(config.AlertSlow, base.Duration.Seconds(), rules.SlowerThan.Seconds(),
			"the run took %s, longer than %s", base.Duration.Round(time.Second), rules.SlowerThan)
	}

	if rules.Enabled(config.AlertVolume) && finished {
		if avg, n := averageRows(run.ID, history, rules.VolumeWindow); n > 0 {
			rows := float64(run.Counts.Rows)
			switch {
			case avg == 0 && rows > 0:
				fire(config.AlertVolume, 0, rules.VolumeChangePct,
					"the run read %d rows where the last %d finished runs read none", run.Counts.Rows, n)
			case avg > 0:
				change := 100 * (rows - avg) / avg
				if abs(change) > rules.VolumeChangePct {
					dir := "more"
					if change < 0 {
						dir = "fewer"
					}
					fire(config.AlertVolume, change, rules.VolumeChangePct,
						"the run read %d rows, %s%% %s than the average of %s over the last %d finished runs (threshold %s%%)",
						run.Counts.Rows, fmtPct(abs(change)), dir, fmtPct(avg), n, fmtPct(rules.VolumeChangePct))
				}
			}
		}
	}
	return out
}

// averageRows is the mean of the rows read by up to window finished runs
// of history other than the run itself, and how many there were.
func averageRows(runID string, history []*state.Run, window int) (float64, int) {
	if window <= 0 {
		window = config.DefaultVolumeWindow
	}
	var sum float64
	n := 0
	for _, r := range history {
		if n == window {
			break
		}
		if r == nil || r.ID == runID || (r.Status != state.StatusSucceeded && r.Status != state.StatusPartial) {
			continue
		}
		sum += float64(r.Counts.Rows)
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// fmtPct prints a percentage with at most one decimal.
func fmtPct(x float64) string {
	s := fmt.Sprintf("%.1f", x)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s
}
