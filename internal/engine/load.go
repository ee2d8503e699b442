package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/value"
)

// pending is a record in flight: what to commit once it is acknowledged.
type pending struct {
	entry diff.Entry
	op    connector.Op
}

// loader delivers one sync's plan and commits what the destination
// acknowledges.
type loader struct {
	e     *Engine
	sr    *syncRun
	delta committer
	pkLen int

	requests *requestLog

	mu       sync.Mutex // guards the fields below and delta writes
	inflight map[int64]pending
	rowErrs  []state.RowError
	lastSave time.Time
}

// load transforms and delivers a sync's plan.
func (e *Engine) load(ctx context.Context, sr *syncRun, model *config.Model, opts Options) {
	start := time.Now()
	defer func() { sr.phase("load", start) }()
	c := sr.counts()
	sr.run.Counts.Planned, sr.run.Counts.Skipped = plannedCounts(sr.sync.Mode, c, opts.FullResync)

	dcfg := e.Project.Destinations[sr.sync.Destination]
	plugin, ok := e.Destinations[dcfg.Type]
	if !ok {
		sr.result.Err = fmt.Errorf("destination %s: unknown type %q", dcfg.Name, dcfg.Type)
		return
	}
	sr.wb.setDeferred(e.tmpDir(), plugin.Spec.Deferred)
	reqLog := &requestLog{redactor: e.Redactor}
	target := connector.Target{
		Sync: sr.sync.Name, RunID: sr.run.ID, Mode: sr.sync.Mode, Object: sr.sync.Object,
		Identifier: sr.sync.Identifier, Fields: sr.mapper.Fields(), PrimaryKey: model.PrimaryKey,
		Requests: sr.requestLogFor(reqLog),
	}
	tag := ""
	if plugin.Spec.Deferred {
		tag = sr.run.ID
	}
	delta, err := sr.delta(ctx, tag)
	if err != nil {
		sr.result.Err = err
		return
	}
	l := &loader{e: e, sr: sr, delta: delta, pkLen: len(model.PrimaryKey), inflight: map[int64]pending{}, requests: reqLog}
	defer func() {
		sr.run.Requests = reqLog.count()
		if err := reqLog.flush(ctx, e.Store, sr.run.ID); err != nil {
			e.Logger.Warn("save request log", "sync", sr.sync.Name, "error", err)
		}
	}()
	defer func() {
		if err := delta.Close(); err != nil && sr.result.Err == nil {
			sr.result.Err = fmt.Errorf("close snapshot delta: %w", err)
		}
	}()

	var dst connector.Destination
	if sr.run.Counts.Planned > 0 {
		dst, err = plugin.New(ctx, dcfg.Settings, target, e.Project.Dir)
		if err != nil {
			sr.result.Err = fmt.Errorf("destination %s: %s", dcfg.Name, e.Redactor.Error(err))
			return
		}
	}
	policy := e.deliveryPolicy(plugin, dcfg, sr.sync.Name)

	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan delivery.Item, policy.BatchSize)
	var produceErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(in)
		produceErr = l.produce(sendCtx, opts, in)
	}()
	var deliverErr error
	if dst != nil {
		_, deliverErr = delivery.Deliver(sendCtx, dst, policy, in, l.onResult)
	} else {
		for range in {
		}
	}
	cancel()
	wg.Wait()
	l.flushRowErrors(ctx)

	switch {
	case deliverErr != nil:
		sr.result.Err = fmt.Errorf("load %s: %s", sr.sync.Name, e.Redactor.Error(deliverErr))
	case produceErr != nil && produceErr != context.Canceled:
		sr.result.Err = fmt.Errorf("load %s: %w", sr.sync.Name, produceErr)
	case ctx.Err() != nil:
		sr.result.Err = fmt.Errorf("load %s: %w", sr.sync.Name, ctx.Err())
	}
	if dst != nil {
		closeErr := dst.Close(ctx)
		if plugin.Spec.Deferred {
			if closeErr == nil && sr.result.Err == nil {
				closeErr = delta.Confirm()
			}
			if closeErr != nil || sr.result.Err != nil {
				// Nothing of a deferred destination's run is durable.
				sr.run.Counts.Failed += sr.run.Counts.Succeeded
				sr.run.Counts.Succeeded = 0
			}
			sr.wb.settle(ctx, errors.Join(sr.result.Err, closeErr))
		}
		if closeErr != nil && sr.result.Err == nil {
			sr.result.Err = fmt.Errorf("destination %s: finish: %s", dcfg.Name, e.Redactor.Error(closeErr))
		}
	}
}

// produce reads the plan, decides each op by mode, transforms the rows and
// feeds them to delivery. Removed keys a mode does not delete leave the
// snapshot here directly.
func (l *loader) produce(ctx context.Context, opts Options, in chan<- delivery.Item) error {
	sr := l.sr
	var (
		row   []any
		drops []diff.Entry
		ref   int64
	)
	flushDrops := func() error {
		if len(drops) == 0 {
			return nil
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		err := l.delta.Commit(nil, drops)
		drops = drops[:0]
		return err
	}
	err := sr.eachOp(ctx, func(op diff.Op) error {
		kind, drop := opFor(sr.sync.Mode, op.Kind, opts.FullResync)
		if drop {
			drops = append(drops, op.Entry)
			if len(drops) >= 1000 {
				return flushDrops()
			}
			return nil
		}
		if kind == "" {
			return nil
		}
		parts, err := value.SplitKey(op.Entry.Key, l.pkLen)
		if err != nil {
			return err
		}
		rec := connector.Record{Op: kind, Key: op.Entry.Key, KeyParts: parts}
		if kind != connector.OpDelete {
			row, err = decodeRow(op.Payload, row)
			if err != nil {
				return fmt.Errorf("decode row %s: %w", op.Entry.Key, err)
			}
			rec.Fields, err = sr.mapper.Apply(row, nil)
			if err != nil {
				l.fail(op.Entry.Key, string(kind), "transform", err.Error())
				return nil
			}
		}
		ref++
		l.mu.Lock()
		l.inflight[ref] = pending{entry: op.Entry, op: kind}
		l.mu.Unlock()
		select {
		case in <- delivery.Item{Record: rec, Ref: ref}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if ferr := flushDrops(); err == nil {
		err = ferr
	}
	return err
}

func decodeRow(payload []byte, row []any) ([]any, error) {
	row = row[:0]
	for len(payload) > 0 {
		v, n, err := value.Decode(payload)
		if err != nil {
			return nil, err
		}
		row = append(row, v)
		payload = payload[n:]
	}
	return row, nil
}

// fail records a row that failed.
func (l *loader) fail(key, op, phase, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sr.run.Counts.Failed++
	l.rowErrs = append(l.rowErrs, state.RowError{Key: key, Op: op, Phase: phase, Error: msg})
	l.sr.wb.add(context.Background(), key, op, connector.OutcomeFailed, msg, time.Now())
}

// onResult commits a batch's acknowledged records to the snapshot: the
// one place where a delivered row becomes "synced".
func (l *loader) onResult(res delivery.Result) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var set, del []diff.Entry
	for i, it := range res.Items {
		p := l.inflight[it.Ref]
		delete(l.inflight, it.Ref)
		if msg, failed := res.Failed[i]; failed {
			l.sr.run.Counts.Failed++
			msg = l.e.Redactor.String(msg)
			l.rowErrs = append(l.rowErrs, state.RowError{Key: p.entry.Key, Op: string(p.op), Phase: "load", Error: msg})
			l.sr.wb.add(context.Background(), p.entry.Key, string(p.op), connector.OutcomeFailed, msg, time.Now())
			continue
		}
		l.sr.run.Counts.Succeeded++
		l.sr.wb.add(context.Background(), p.entry.Key, string(p.op), connector.OutcomeSucceeded, "", time.Now())
		if p.op == connector.OpDelete {
			del = append(del, p.entry)
		} else {
			set = append(set, p.entry)
		}
	}
	if err := l.delta.Commit(set, del); err != nil {
		return err
	}
	c := l.sr.run.Counts
	l.e.Observer.Loading(l.sr.sync.Name, c.Succeeded+c.Failed, c.Planned)
	if time.Since(l.lastSave) > time.Second {
		l.lastSave = time.Now()
		l.flushRowErrorsLocked(context.Background())
		if err := l.requests.flush(context.Background(), l.e.Store, l.sr.run.ID); err != nil {
			l.e.Logger.Warn("save request log", "sync", l.sr.sync.Name, "error", err)
		}
		if err := l.e.Store.SaveRun(context.Background(), l.sr.run); err != nil {
			l.e.Logger.Warn("save run progress", "sync", l.sr.sync.Name, "error", err)
		}
	}
	return nil
}

func (l *loader) flushRowErrors(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushRowErrorsLocked(ctx)
}

func (l *loader) flushRowErrorsLocked(ctx context.Context) {
	if len(l.rowErrs) == 0 {
		return
	}
	if err := l.e.Store.AddRowErrors(ctx, l.sr.run.ID, l.sr.run.RowErrors, l.rowErrs); err != nil {
		l.e.Logger.Warn("save row errors", "sync", l.sr.sync.Name, "error", err)
	}
	l.sr.run.RowErrors += uint64(len(l.rowErrs))
	l.rowErrs = l.rowErrs[:0]
}

// runError is a run's error as the caller gets it: the redacted text the
// record keeps, with the identity of its cause still answering errors.Is
// (a busy sync's diff.ErrLocked, a lost lock). It has no Unwrap, so the
// unredacted chain never reaches a caller's message.
type runError struct {
	msg   string
	cause error
}

func (e *runError) Error() string { return e.msg }

func (e *runError) Is(target error) bool { return errors.Is(e.cause, target) }

// deliveryPolicy is how a sync's records go to its destination, in runs
// and in streams alike: the connector's limits, overridden by the
// destination's batch_size, concurrency and rate_limit settings.
func (e *Engine) deliveryPolicy(plugin connector.DestinationPlugin, dcfg *config.Destination, sync string) delivery.Policy {
	policy := delivery.FromLimits(plugin.Spec.Limits)
	if n := dcfg.Settings.Int("batch_size"); n > 0 {
		policy.BatchSize = n
	}
	if n := dcfg.Settings.Int("concurrency"); n > 0 {
		policy.Concurrency = n
	}
	if r := dcfg.Settings.Float("rate_limit"); r > 0 {
		policy.RequestsPerSec = r
	}
	if policy.BatchSize <= 0 {
		policy.BatchSize = 100
	}
	policy.Sleep = e.Sleep
	if e.OnWait != nil {
		policy.OnWait = func(kind string, d time.Duration) { e.OnWait(sync, kind, d) }
	}
	policy.Logger = e.Logger.With("sync", sync, "destination", dcfg.Name)
	return policy
}

// finish closes a sync's run: status, stored record, snapshot compaction
// and the sync's bookkeeping.
func (e *Engine) finish(ctx context.Context, sr *syncRun, send bool) {
	defer sr.trace.end(sr.run)
	now := time.Now().UTC()
	r := sr.run
	r.FinishedAt = &now
	switch {
	case sr.result.Err != nil:
		r.Status = state.StatusFailed
		r.Error = e.Redactor.Error(sr.result.Err)
		sr.result.Err = &runError{msg: r.Error, cause: sr.result.Err}
	case r.Counts.Failed > 0:
		r.Status = state.StatusPartial
	default:
		r.Status = state.StatusSucceeded
	}
	if !send || sr.finished {
		return
	}
	if sr.snap != nil && sr.planned() {
		start := time.Now()
		if err := sr.snap.Compact(); err != nil {
			e.Logger.Warn("compact snapshot (the next run retries)", "sync", sr.sync.Name, "error", err)
		}
		// The sync's bookkeeping changes only when the run got as far as
		// sending, so that a refused plan is judged the same way next time.
		if r.Status != state.StatusFailed || r.Counts.Succeeded > 0 {
			if err := e.Store.SetSyncState(ctx, state.SyncState{
				Sync: sr.sync.Name, MappingHash: mappingHash(sr.mapper),
				PrimaryKey: sr.pk, LastRows: r.Counts.Rows,
			}); err != nil {
				e.Logger.Warn("save sync state", "sync", sr.sync.Name, "error", err)
			}
		}
		sr.phase("commit", start)
	}
	if err := e.Store.SaveRun(ctx, r); err != nil {
		e.Logger.Error("save run", "sync", sr.sync.Name, "run", r.ID, "error", err)
	}
}
