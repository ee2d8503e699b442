package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/transform"
)

// syncRun is one sync's share of a model's run.
type syncRun struct {
	sync     *config.Sync
	result   *Result
	run      *state.Run
	snap     *diff.Snapshot
	mapper   *transform.Mapper
	target   *diff.Target
	plan     *diff.Plan
	prev     state.SyncState
	hasPrev  bool
	pk       string
	finished bool
	// queued is set when the run record was saved as queued before this
	// run began (Options.RunIDs).
	queued bool
	trace  *runTrace
	wb     *writeBack // nil without write_back
	wh     *whPlan    // the plan, when the diff runs in the warehouse
}

func (sr *syncRun) failed() bool { return sr.result.Err != nil }

func (sr *syncRun) phase(name string, since time.Time) {
	end := time.Now()
	sr.run.Phases = append(sr.run.Phases, state.Phase{Name: name, Seconds: end.Sub(since).Seconds()})
	sr.trace.phase(name, since, end)
}

// rejections collects a model's rejected rows, keeping the first
// state.MaxRowErrors for the run records.
type rejections struct {
	count uint64
	kept  []state.RowError
	// spool holds every rejected row for write-back (nil without it).
	spool    *outcomeSpool
	spoolErr error
}

func (r *rejections) add(key, reason string) {
	r.count++
	r.spoolRejection(key, reason)
	if len(r.kept) < state.MaxRowErrors {
		r.kept = append(r.kept, state.RowError{Key: key, Phase: "validate", Error: reason})
	}
}

// runModel extracts one model once and runs (or plans) every sync in syncs
// from that one extraction.
func (e *Engine) runModel(ctx context.Context, model *config.Model, syncs []*config.Sync, opts Options, send bool) []*Result {
	runs := make([]*syncRun, 0, len(syncs))
	for _, s := range syncs {
		sr := &syncRun{sync: s, pk: strings.Join(model.PrimaryKey, ",")}
		id, queued := opts.RunIDs[s.Name]
		if !queued || id == "" {
			id, queued = newRunID(), false
		}
		sr.queued = queued
		sr.run = &state.Run{
			ID: id, Sync: s.Name, Model: model.Name, Destination: s.Destination,
			Status: state.StatusRunning, FullResync: opts.FullResync, StartedAt: time.Now().UTC(),
		}
		sr.result = &Result{Sync: s.Name, Run: sr.run}
		sr.trace = e.startTrace(ctx, sr, send)
		runs = append(runs, sr)
	}
	defer func() {
		for _, sr := range runs {
			sr.closePlan()
			if sr.snap != nil {
				sr.snap.Close()
			}
		}
	}()

	for _, sr := range runs {
		e.openSync(ctx, sr, send)
	}
	e.cleanTmp()
	e.planWarehouse(ctx, model, runs, opts, send)
	modelRej, modelRows, modelErr := e.extract(ctx, model, runs, opts, send)
	defer modelRej.spool.close()
	for _, sr := range runs {
		if sr.failed() {
			continue
		}
		rej, extracted, err := modelRej, modelRows, modelErr
		if sr.wh != nil {
			rej, extracted, err = sr.wh.rej, sr.wh.rows, nil
		}
		if err != nil {
			sr.result.Err = err
			continue
		}
		sr.run.Counts.Rows = extracted
		sr.run.Counts.Rejected = rej.count
		c := sr.counts()
		sr.run.Counts.Added = c.Added
		sr.run.Counts.Changed = c.Changed
		sr.run.Counts.Removed = c.Removed
		sr.run.Counts.Unchanged = c.Unchanged
		sr.run.RowErrors = rej.count
		if send {
			if err := e.Store.AddRowErrors(ctx, sr.run.ID, 0, rej.kept); err != nil {
				sr.result.Err = err
				continue
			}
			e.startWriteBack(ctx, sr, rej)
		}
		if err := e.guard(sr, rej.count, extracted, opts); err != nil {
			sr.result.Err = err
			continue
		}
		if !send {
			e.preview(ctx, sr, opts)
			continue
		}
		e.load(ctx, sr, model, opts)
	}
	out := make([]*Result, 0, len(runs))
	for _, sr := range runs {
		e.endWriteBack(ctx, sr)
		e.finish(ctx, sr, send)
		out = append(out, sr.result)
	}
	return out
}

// openSync locks a sync's snapshot and records the start of its run.
func (e *Engine) openSync(ctx context.Context, sr *syncRun, send bool) {
	snap, err := e.openSnapshot(ctx, sr.sync.Name)
	if err != nil {
		sr.result.Err = fmt.Errorf("sync %s: %w", sr.sync.Name, err)
		if errors.Is(err, diff.ErrLocked) {
			// Another process owns this sync and its run record.
			sr.finished = true
		}
		return
	}
	sr.snap = snap
	if sr.prev, sr.hasPrev, err = e.Store.SyncState(ctx, sr.sync.Name); err != nil {
		sr.result.Err = err
		return
	}
	if !send {
		return
	}
	if err := e.Store.MarkInterrupted(ctx, sr.sync.Name, sr.run.ID); err != nil {
		sr.result.Err = err
		return
	}
	save := e.Store.SaveRun
	if sr.queued {
		// The record's start time is when it was queued until now.
		save = e.Store.StartRun
	}
	if err := save(ctx, sr.run); err != nil {
		sr.result.Err = err
	}
}

// extract reads the model once, validating keys and feeding every active
// sync's planner, then diffs. On return each active sync has its plan.
func (e *Engine) extract(ctx context.Context, model *config.Model, runs []*syncRun, opts Options, send bool) (*rejections, uint64, error) {
	rej := &rejections{}
	rej.spool, rej.spoolErr = e.rejectionSpool(runs, send)
	var active []*syncRun
	for _, sr := range runs {
		if !sr.failed() && sr.wh == nil {
			active = append(active, sr)
		}
	}
	if len(active) == 0 {
		return rej, 0, nil
	}
	start := time.Now()
	srcCfg := e.Project.Sources[model.Source]
	plugin, ok := e.Sources[srcCfg.Type]
	if !ok {
		return rej, 0, fmt.Errorf("source %s: unknown type %q", srcCfg.Name, srcCfg.Type)
	}
	src, err := plugin.New(ctx, srcCfg.Settings, e.Project.Dir)
	if err != nil {
		return rej, 0, fmt.Errorf("source %s: %s", srcCfg.Name, e.Redactor.Error(err))
	}
	defer src.Close()
	rows, err := src.Query(ctx, model.SQL)
	if err != nil {
		return rej, 0, fmt.Errorf("model %s: %s", model.Name, e.Redactor.Error(err))
	}
	defer rows.Close()

	cols := rows.Columns()
	names := make([]string, len(cols))
	index := map[string]int{}
	for i, c := range cols {
		names[i] = c.Name
		index[c.Name] = i
	}
	pkIdx := make([]int, len(model.PrimaryKey))
	for i, k := range model.PrimaryKey {
		j, ok := index[k]
		if !ok {
			return rej, 0, fmt.Errorf("%s: model %s: primary key column %q is not in the query's result (columns: %s)",
				model.Pos, model.Name, k, strings.Join(names, ", "))
		}
		pkIdx[i] = j
	}

	var targets []*diff.Target
	var planned []*syncRun
	var estimate uint64
	for _, sr := range active {
		m, err := transform.New(sr.sync, names)
		if err != nil {
			sr.result.Err = err
			continue
		}
		sr.mapper = m
		sr.target = &diff.Target{
			Name: sr.sync.Name, Snapshot: sr.snap, Seed: m.Fingerprint(),
			Columns: m.HashColumns(), FullResync: opts.FullResync,
		}
		targets = append(targets, sr.target)
		planned = append(planned, sr)
		estimate = max(estimate, sr.prev.LastRows)
	}
	if len(targets) == 0 {
		return rej, 0, nil
	}
	planner, err := diff.NewPlanner(e.tmpDir(), targets, diff.PlannerOptions{EstimatedRows: estimate, KeepPayload: send})
	if err != nil {
		return rej, 0, fmt.Errorf("model %s: start plan: %w", model.Name, err)
	}
	defer planner.Close()

	n, err := e.scan(ctx, model, rows, len(cols), pkIdx, planner, rej)
	if err != nil {
		return rej, 0, err
	}
	e.Observer.Extracting(model.Name, n, true)
	for _, sr := range planned {
		sr.phase("extract", start)
	}

	start = time.Now()
	plans, err := planner.Finish(ctx, func(r diff.Rejection) error {
		rej.add(r.Key, r.Reason)
		return nil
	})
	if err != nil {
		return rej, 0, fmt.Errorf("model %s: diff: %w", model.Name, err)
	}
	for i, sr := range planned {
		sr.plan = plans[i]
		sr.phase("diff", start)
	}
	return rej, n, nil
}

// guard refuses a plan that breaks the sync's limits.
func (e *Engine) guard(sr *syncRun, rejected, rows uint64, opts Options) error {
	s := sr.sync
	if rows > 0 && s.MaxRejectedPct < 100 {
		pct := 100 * float64(rejected) / float64(rows)
		if pct > s.MaxRejectedPct {
			return fmt.Errorf("%d of %d rows (%.1f%%) were rejected, above max_rejected_pct %g: nothing was sent; `riptide runs show %s` lists them",
				rejected, rows, pct, s.MaxRejectedPct, sr.run.ID)
		}
	}
	if sr.hasPrev && sr.prev.PrimaryKey != sr.pk && sr.snapshotLen() > 0 && s.Mode == config.ModeMirror {
		return fmt.Errorf("the model's primary key changed from (%s) to (%s): its keys no longer match the snapshot, and a mirror sync would delete every record; run `riptide reset %s` to start over (the next run sends every row and deletes nothing)",
			sr.prev.PrimaryKey, sr.pk, s.Name)
	}
	base := sr.snapshotLen()
	if s.MaxChangePct <= 0 || base == 0 || opts.Force {
		return nil
	}
	c := sr.counts()
	changes := c.Added + c.Changed + c.Removed
	note := ""
	if sr.mappingChanged() {
		// A new mapping re-sends every row on purpose; only rows that
		// appeared or disappeared say something about the model.
		changes = c.Added + c.Removed
		note = " (the mapping changed, so changed rows are not counted)"
	}
	pct := 100 * float64(changes) / float64(base)
	if pct > s.MaxChangePct {
		return fmt.Errorf("the plan adds %d, changes %d and removes %d of %d synced rows (%.1f%%)%s, above max_change_pct %g: nothing was sent; check the model, then run with --force to send it anyway",
			c.Added, c.Changed, c.Removed, base, pct, note, s.MaxChangePct)
	}
	return nil
}

func (sr *syncRun) mappingChanged() bool {
	return sr.hasPrev && sr.prev.MappingHash != mappingHash(sr.mapper)
}

// preview collects sample keys for a plan and counts what the mode skips.
func (e *Engine) preview(ctx context.Context, sr *syncRun, opts Options) {
	sr.result.Samples = map[string][]string{}
	full := 0
	_ = sr.eachOp(ctx, func(op diff.Op) error {
		k := op.Kind.String()
		if len(sr.result.Samples[k]) < sampleKeys {
			sr.result.Samples[k] = append(sr.result.Samples[k], op.Entry.Key)
			if len(sr.result.Samples[k]) == sampleKeys {
				full++
			}
		}
		if full == 4 {
			return errStop
		}
		return nil
	})
	c := sr.counts()
	sr.run.Counts.Planned, sr.run.Counts.Skipped = plannedCounts(sr.sync.Mode, c, opts.FullResync)
}

var errStop = errors.New("stop")

// plannedCounts says how many ops a mode sends and skips for a plan's
// counts.
func plannedCounts(mode string, c diff.Counts, resync bool) (planned, skipped uint64) {
	for _, k := range []diff.Kind{diff.Added, diff.Changed, diff.Removed, diff.Unchanged} {
		var n uint64
		switch k {
		case diff.Added:
			n = c.Added
		case diff.Changed:
			n = c.Changed
		case diff.Removed:
			n = c.Removed
		case diff.Unchanged:
			if !resync {
				continue
			}
			n = c.Unchanged
		}
		op, _ := opFor(mode, k, resync)
		switch {
		case op != "":
			planned += n
		case k != diff.Removed:
			skipped += n
		}
	}
	return planned, skipped
}

// opFor decides what a mode does with a kind of change: the op to send,
// or "" when nothing is sent. drop reports that a removed key leaves the
// snapshot without a delete being sent.
func opFor(mode string, k diff.Kind, resync bool) (op connector.Op, drop bool) {
	switch k {
	case diff.Removed:
		if mode == config.ModeMirror {
			return connector.OpDelete, false
		}
		return "", true
	case diff.Added:
		switch mode {
		case config.ModeInsert:
			return connector.OpInsert, false
		case config.ModeUpdate:
			return "", false
		}
		return connector.OpUpsert, false
	default: // changed, or unchanged under a full resync
		switch mode {
		case config.ModeInsert:
			if resync {
				return connector.OpInsert, false
			}
			return "", false
		case config.ModeUpdate:
			return connector.OpUpdate, false
		}
		return connector.OpUpsert, false
	}
}
