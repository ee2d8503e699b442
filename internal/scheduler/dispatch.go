package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// dispatchLocked starts every queued run that may start: its sync is not
// running and its destination is under its max_concurrent_syncs. Queued
// runs of other syncs on the same model with the same options join it in
// one engine call, so the model is extracted once for all of them.
func (s *Scheduler) dispatchLocked() {
	if s.stopped {
		return
	}
	for i := 0; i < len(s.queue); {
		j := s.queue[i]
		if !s.mayStartLocked(j) {
			i++
			continue
		}
		group := []*job{s.startLocked(j)}
		s.queue = slices.Delete(s.queue, i, i+1)
		model := s.syncs[j.sync].sync.Model
		for k := i; k < len(s.queue); {
			o := s.queue[k]
			if s.syncs[o.sync].sync.Model != model || o.opts.FullResync != j.opts.FullResync ||
				o.opts.Force != j.opts.Force || !s.mayStartLocked(o) {
				k++
				continue
			}
			group = append(group, s.startLocked(o))
			s.queue = slices.Delete(s.queue, k, k+1)
		}
		s.inflight.Add(1)
		go s.execute(s.runner, group)
	}
}

func (s *Scheduler) mayStartLocked(j *job) bool {
	if _, busy := s.running[j.sync]; busy {
		return false
	}
	dest := s.syncs[j.sync].sync.Destination
	d, ok := s.project.Destinations[dest]
	return !ok || d.MaxConcurrentSyncs <= 0 || s.perDest[dest] < d.MaxConcurrentSyncs
}

func (s *Scheduler) startLocked(j *job) *job {
	j.dest = s.syncs[j.sync].sync.Destination
	s.running[j.sync] = j
	s.perDest[j.dest]++
	return j
}

// execute runs a group of queued runs in one runner call and settles what
// follows from them.
func (s *Scheduler) execute(r Runner, group []*job) {
	defer s.inflight.Done()
	names := make([]string, len(group))
	opts := group[0].opts
	opts.RunIDs = make(map[string]string, len(group))
	for i, j := range group {
		names[i] = j.sync
		opts.RunIDs[j.sync] = j.id
	}
	s.logger.Info("runs starting", "syncs", strings.Join(names, ","))
	results, err := r.Run(s.runCtx, names, opts)
	byName := map[string]*engine.Result{}
	for _, res := range results {
		if res != nil {
			byName[res.Sync] = res
		}
	}
	out := make([]*engine.Result, len(group))
	for i, j := range group {
		out[i] = s.settle(j, byName[j.sync], err)
	}

	s.mu.Lock()
	for i, j := range group {
		delete(s.running, j.sync)
		s.perDest[j.dest]--
		if succeeded(out[i]) {
			s.upstreamSucceededLocked(s.runCtx, j.sync)
		}
	}
	s.dispatchLocked()
	s.mu.Unlock()
	s.poke()

	for _, res := range out {
		s.logger.Info("run finished", "sync", res.Sync, "run", res.Run.ID, "status", res.Run.Status)
		if s.onFinish != nil {
			s.onFinish(res)
		}
	}
}

// settle makes sure a run's record ends finished: a runner that failed as
// a whole, or a run that never began (another process held the sync),
// leaves the queued record as it was.
func (s *Scheduler) settle(j *job, res *engine.Result, runErr error) *engine.Result {
	ctx := context.WithoutCancel(s.runCtx)
	if res == nil {
		res = &engine.Result{Sync: j.sync}
		if runErr == nil {
			runErr = errors.New("the runner returned no result for it")
		}
		res.Err = fmt.Errorf("run %s: %w", j.sync, runErr)
	}
	rec, err := s.store.GetRun(ctx, j.id)
	if err != nil {
		s.logger.Error("read a finished run", "sync", j.sync, "run", j.id, "error", err)
		if res.Run == nil {
			res.Run = &state.Run{ID: j.id, Sync: j.sync, Status: state.StatusFailed}
		}
		return res
	}
	if rec.Status == state.StatusQueued || rec.Status == state.StatusRunning {
		why := "the run ended without a result"
		if res.Err != nil {
			why = res.Err.Error()
		}
		now := s.clock.Now().UTC()
		rec.Status, rec.Error, rec.FinishedAt = state.StatusFailed, why, &now
		if err := s.store.SaveRun(ctx, rec); err != nil {
			s.logger.Error("record a failed run", "sync", j.sync, "run", j.id, "error", err)
		}
		res.Run = rec
	}
	if res.Run == nil {
		res.Run = rec
	}
	return res
}

// succeeded decides what triggers the syncs that run after this one. A
// partial run counts: it finished, and the rows that failed are retried
// by the sync's next run, so holding back its dependents would stop a
// whole sequence for one bad row.
func succeeded(r *engine.Result) bool {
	if r.Err != nil || r.Run == nil {
		return false
	}
	return r.Run.Status == state.StatusSucceeded || r.Run.Status == state.StatusPartial
}

// upstreamSucceededLocked queues every sync that runs after up and whose
// upstream syncs have now all succeeded since its last run was queued.
func (s *Scheduler) upstreamSucceededLocked(ctx context.Context, up string) {
	if s.stopped {
		return
	}
	for _, name := range sortedNames(s.syncs) {
		e := s.syncs[name]
		if !slices.Contains(e.sync.After, up) {
			continue
		}
		e.upDone[up] = true
		ready := true
		for _, u := range e.sync.After {
			ready = ready && e.upDone[u]
		}
		if !ready {
			continue
		}
		if _, err := s.enqueueLocked(ctx, name, engine.Options{}, "after "+strings.Join(e.sync.After, ", ")); err != nil {
			s.logger.Error("queue a run after its upstream syncs", "sync", name, "error", err)
		}
	}
}

// Finished tells a scheduler with a Queue of a run that ended on this
// process's worker. Runs end on every process, so no process's own count
// of them is whole: only the leader (the started scheduler) acts, and it
// reads the after: progress from the run history (ReviewAfter), which it
// also does on each of its sweeps for the runs other processes finished.
func (s *Scheduler) Finished(ctx context.Context, res *engine.Result) {
	if res == nil || !succeeded(res) {
		return
	}
	if err := s.ReviewAfter(ctx); err != nil {
		s.logger.Error("queue the syncs that run after "+res.Sync, "error", err)
	}
}

// shutdown stops taking work, fails the runs that were still queued, and
// waits for in-flight runs, cancelling them when they outlast the timeout
// (the engine then commits what the destination acknowledged and records
// the run failed).
func (s *Scheduler) shutdown() error {
	s.mu.Lock()
	s.stopped = true
	queued := s.queue
	s.queue = nil
	var inFlight []string
	for name := range s.running {
		inFlight = append(inFlight, name)
	}
	deadline := s.clock.Now().Add(s.timeout)
	s.mu.Unlock()
	for _, j := range queued {
		s.failQueued(s.runCtx, j, "not started: riptide serve stopped first")
	}

	finished := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(finished)
	}()
	timer, release := s.clock.At(deadline)
	defer release()
	defer s.cancelRun()
	select {
	case <-finished:
		return nil
	case <-timer:
	}
	s.cancelRun()
	<-finished
	slices.Sort(inFlight)
	return fmt.Errorf("stop scheduler: runs of %s did not finish within %s and were cancelled",
		strings.Join(inFlight, ", "), s.timeout)
}
