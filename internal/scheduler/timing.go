package scheduler

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/riptide-data/riptide/internal/config"
)

// timing is when a sync runs of its own accord: a cron schedule or a fixed
// interval. Manual syncs have none.
type timing struct {
	cron  cron.Schedule
	every time.Duration
}

func newTiming(s config.Schedule) (*timing, error) {
	switch s.Kind {
	case config.ScheduleCron:
		// ParseStandard reads CRON_TZ=Zone itself, so each fire time is
		// worked out in that zone, across its daylight saving changes.
		c, err := cron.ParseStandard(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s.Cron, err)
		}
		return &timing{cron: c}, nil
	case config.ScheduleInterval:
		if s.Every <= 0 {
			return nil, fmt.Errorf("schedule %q: the interval must be positive", s)
		}
		return &timing{every: s.Every}, nil
	}
	return nil, nil
}

// after returns the first fire time after now, for a sync that last fired
// (was due) at prev. Fire times missed in between are skipped, not
// counted: a late scheduler runs a sync once, not once per missed time.
func (t *timing) after(prev, now time.Time) time.Time {
	if t.cron != nil {
		return t.cron.Next(now)
	}
	if prev.IsZero() || prev.After(now) {
		return now.Add(t.every)
	}
	// Keep to the interval's own grid rather than drifting by however
	// late the scheduler woke up.
	n := now.Sub(prev)/t.every + 1
	return prev.Add(n * t.every)
}

// missed reports whether a sync whose last run started at last should
// have fired by now: the catch-up rule at start. A sync that never ran
// missed nothing on a cron schedule (it waits for its next fire time); on
// an interval it is due at once, as its interval since the last run has
// certainly passed.
func (t *timing) missed(last time.Time, ran bool, now time.Time) bool {
	if !ran {
		return t.cron == nil
	}
	if t.cron != nil {
		return !t.cron.Next(last).After(now)
	}
	return !last.Add(t.every).After(now)
}

// first is the first fire time after start, for a sync that last ran at
// last (zero when it never ran) and was not caught up.
func (t *timing) first(last, now time.Time) time.Time {
	if t.cron != nil || last.IsZero() {
		return t.after(time.Time{}, now)
	}
	return last.Add(t.every)
}
