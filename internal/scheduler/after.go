package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// restoreAfterLocked derives from the run history which upstream syncs
// (after:) have succeeded since each sync's last run, so that a restart
// resumes a sequence where it stood instead of waiting for every upstream
// sync to succeed again. An upstream sync counts when its last succeeded
// (or partial) run finished after the dependent's last run began (for a
// sync none of whose runs began, any success counts).
// A sync whose upstream syncs have all succeeded since, which the
// scheduler would have queued had it been running (the process stopped
// first, or they were run by hand), is queued once.
func (s *Scheduler) restoreAfterLocked(ctx context.Context) error {
	for _, name := range sortedNames(s.syncs) {
		e := s.syncs[name]
		if len(e.sync.After) == 0 {
			continue
		}
		since, err := s.lastBegun(ctx, name)
		if err != nil {
			return fmt.Errorf("start scheduler: last run of %s: %w", name, err)
		}
		ready := true
		for _, up := range e.sync.After {
			at, ok, err := s.lastSucceeded(ctx, up)
			if err != nil {
				return fmt.Errorf("start scheduler: upstream %s of %s: %w", up, name, err)
			}
			if ok && at.After(since) {
				e.upDone[up] = true
			} else {
				ready = false
			}
		}
		if ready {
			reason := "after " + strings.Join(e.sync.After, ", ") + ", which succeeded while no scheduler ran"
			if _, err := s.enqueueLocked(ctx, name, engine.Options{}, reason); err != nil {
				return fmt.Errorf("start scheduler: %w", err)
			}
		}
	}
	return nil
}

// lastBegun returns when the sync's last run that began started (zero if
// none did). Runs that were queued and never began (the process stopped
// first: failQueued's "not started", or still queued after a kill) are
// passed over: the upstream successes that queued them are not used up.
func (s *Scheduler) lastBegun(ctx context.Context, sync string) (time.Time, error) {
	const look = 50
	runs, err := s.store.ListRuns(ctx, sync, look)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		neverBegan := r.Status == state.StatusQueued ||
			r.Status == state.StatusFailed && strings.HasPrefix(r.Error, "not started:")
		if !neverBegan {
			return r.StartedAt, nil
		}
	}
	if len(runs) == look {
		// A long line of runs that never began: count from the oldest seen
		// rather than from the sync's beginning.
		return runs[look-1].StartedAt, nil
	}
	return time.Time{}, nil
}

// lastSucceeded returns when the sync's last run that counts for the syncs
// after it (succeeded or partial, see succeeded) finished; ok is false
// when it has none.
func (s *Scheduler) lastSucceeded(ctx context.Context, sync string) (at time.Time, ok bool, err error) {
	for _, status := range []string{state.StatusSucceeded, state.StatusPartial} {
		// A sync's runs do not overlap, so the last started is the last
		// finished.
		runs, err := s.store.FindRuns(ctx, state.RunFilter{Sync: sync, Status: status, Limit: 1})
		if err != nil {
			return time.Time{}, false, err
		}
		if len(runs) > 0 && runs[0].FinishedAt != nil && runs[0].FinishedAt.After(at) {
			at, ok = *runs[0].FinishedAt, true
		}
	}
	return at, ok, nil
}

// ReviewAfter queues each sync (after:) whose upstream syncs have all
// succeeded, by the run history, since its last run was queued; a
// scheduler with a Queue that leads calls it on each sweep and when a run
// of its own process ends, so that a sequence whose upstream syncs ran on
// different processes goes on. The queued run's record (its start time
// is when it was queued) uses the successes up, so later reviews do not
// queue the sync again. A scheduler that has not started (one that does
// not lead) or has stopped does nothing.
func (s *Scheduler) ReviewAfter(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return nil
	}
	for _, name := range sortedNames(s.syncs) {
		e := s.syncs[name]
		if len(e.sync.After) == 0 {
			continue
		}
		since, err := s.lastQueued(ctx, name)
		if err != nil {
			return fmt.Errorf("review after: last run of %s: %w", name, err)
		}
		ready := true
		for _, up := range e.sync.After {
			at, ok, err := s.lastSucceeded(ctx, up)
			if err != nil {
				return fmt.Errorf("review after: upstream %s of %s: %w", up, name, err)
			}
			e.upDone[up] = ok && at.After(since)
			ready = ready && e.upDone[up]
		}
		if ready {
			if _, err := s.enqueueLocked(ctx, name, engine.Options{}, "after "+strings.Join(e.sync.After, ", ")); err != nil {
				return fmt.Errorf("review after: %w", err)
			}
		}
	}
	return nil
}

// lastQueued returns when the sync's last run was queued or began (zero
// if it has none): unlike lastBegun, a run still queued counts, since with
// a shared queue it is live and will run. Only runs dropped before they
// began ("not started:") leave the upstream successes for the next.
func (s *Scheduler) lastQueued(ctx context.Context, sync string) (time.Time, error) {
	const look = 50
	runs, err := s.store.ListRuns(ctx, sync, look)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		if !(r.Status == state.StatusFailed && strings.HasPrefix(r.Error, "not started:")) {
			return r.StartedAt, nil
		}
	}
	if len(runs) == look {
		return runs[look-1].StartedAt, nil
	}
	return time.Time{}, nil
}
