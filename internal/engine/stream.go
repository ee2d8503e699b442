package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/transform"
	"github.com/riptide-data/riptide/internal/value"
)

// ChangeFeed is a model's rows as they change, in commit order: for a
// PostgreSQL table, its logical replication stream. The engine is given
// it, as it is given its connectors.
type ChangeFeed interface {
	// Next waits for the next committed changes.
	Next(ctx context.Context) (ChangeBatch, error)
	// Ack tells the feed that every batch up to the one at position is
	// delivered and committed to the snapshot: it need never come again.
	Ack(position uint64)
}

// ChangeBatch is the changes of one or more committed transactions.
type ChangeBatch struct {
	// Columns are the model's columns, as its query names them.
	Columns []string
	Changes []ModelChange
	// Position is what to Ack once the changes are delivered.
	Position uint64
}

// ModelChange is one row of the model upserted, or deleted.
type ModelChange struct {
	Delete bool
	// Row holds one value per column; for a delete only the primary key's
	// values count.
	Row []any
}

// StreamLinger is how long Follow gathers changes before delivering them:
// a burst of changes travels in a few requests, not one each.
const StreamLinger = 50 * time.Millisecond

// maxStreamBatch bounds the changes gathered into one delivery.
const maxStreamBatch = 10000

// Follow delivers a sync's changes from feed as they come, until ctx is
// done (a clean stop, nil) or delivery fails. Changes gathered for up to
// StreamLinger go through the delivery layer as a run's do; each
// acknowledged batch is committed to the sync's snapshot, and only then
// is the feed acknowledged, so that a crash loses nothing and a later
// batch run finds nothing new to send.
//
// Rows the destination refuses are logged and left out of the snapshot:
// the next batch run sends them again.
func (e *Engine) Follow(ctx context.Context, syncName string, feed ChangeFeed) error {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	sync, ok := e.Project.Syncs[syncName]
	if !ok {
		return fmt.Errorf("no sync named %q%s", syncName, suggestName(syncName, e.Project.Syncs))
	}
	model := e.Project.Models[sync.Model]
	switch sync.Mode {
	case config.ModeUpsert, config.ModeMirror:
	default:
		return fmt.Errorf("sync %s: mode %s cannot stream yet: a stream does not tell an added row from a changed one; use upsert or mirror", sync.Name, sync.Mode)
	}
	dcfg := e.Project.Destinations[sync.Destination]
	plugin, ok := e.Destinations[dcfg.Type]
	if !ok {
		return fmt.Errorf("destination %s: unknown type %q", dcfg.Name, dcfg.Type)
	}
	if plugin.Spec.Deferred {
		return fmt.Errorf("sync %s: destination %s (%s) commits only at the end of a run and cannot stream", sync.Name, dcfg.Name, dcfg.Type)
	}
	snap, err := e.openSnapshot(ctx, sync.Name)
	if err != nil {
		return fmt.Errorf("sync %s: %w", sync.Name, err)
	}
	defer snap.Close()
	delta, err := snap.Delta("")
	if err != nil {
		return fmt.Errorf("sync %s: open snapshot delta: %w", sync.Name, err)
	}
	f := &follower{e: e, sync: sync, model: model, dcfg: dcfg, plugin: plugin, delta: delta, log: e.Logger.With("sync", sync.Name)}
	defer func() {
		if f.dst != nil {
			if err := f.dst.Close(context.WithoutCancel(ctx)); err != nil {
				f.log.Warn("close destination", "error", e.Redactor.Error(err))
			}
		}
	}()
	err = f.loop(ctx, feed)
	if cerr := delta.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("sync %s: close snapshot delta: %w", sync.Name, cerr)
	}
	return err
}

// follower is one sync following its feed.
type follower struct {
	e      *Engine
	sync   *config.Sync
	model  *config.Model
	dcfg   *config.Destination
	plugin connector.DestinationPlugin
	delta  *diff.DeltaWriter
	log    *slog.Logger

	columns []string
	mapper  *transform.Mapper
	target  *diff.Target
	pkIdx   []int
	dst     connector.Destination
	policy  delivery.Policy
}

func (f *follower) loop(ctx context.Context, feed ChangeFeed) error {
	for {
		b, err := feed.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sync %s: stream: %w", f.sync.Name, err)
		}
		batches := []ChangeBatch{b}
		n := len(b.Changes)
		lctx, cancel := context.WithTimeout(ctx, StreamLinger)
		for n < maxStreamBatch {
			b, err := feed.Next(lctx)
			if err != nil {
				break
			}
			batches = append(batches, b)
			n += len(b.Changes)
		}
		cancel()
		if ctx.Err() != nil {
			// Not delivered, not acknowledged: the feed gives them again.
			return nil
		}
		if err := f.deliver(ctx, batches); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		feed.Ack(batches[len(batches)-1].Position)
	}
}

// prepare builds the mapping for the model's columns and opens the
// destination, the first time and whenever the columns change.
func (f *follower) prepare(ctx context.Context, columns []string) error {
	if f.mapper != nil && slices.Equal(columns, f.columns) {
		return nil
	}
	if f.mapper != nil {
		return fmt.Errorf("sync %s: the model's columns changed from %v to %v while streaming; restart to run the sync in batch first", f.sync.Name, f.columns, columns)
	}
	m, err := transform.New(f.sync, columns)
	if err != nil {
		return err
	}
	f.pkIdx = f.pkIdx[:0]
	for _, k := range f.model.PrimaryKey {
		i := slices.Index(columns, k)
		if i < 0 {
			return fmt.Errorf("sync %s: primary key column %q is not among the streamed columns %v", f.sync.Name, k, columns)
		}
		f.pkIdx = append(f.pkIdx, i)
	}
	f.columns, f.mapper = columns, m
	f.target = &diff.Target{Name: f.sync.Name, Seed: m.Fingerprint(), Columns: m.HashColumns()}
	target := connector.Target{
		Sync: f.sync.Name, Mode: f.sync.Mode, Object: f.sync.Object,
		Identifier: f.sync.Identifier, Fields: m.Fields(), PrimaryKey: f.model.PrimaryKey,
	}
	if f.dst, err = f.plugin.New(ctx, f.dcfg.Settings, target, f.e.Project.Dir); err != nil {
		return fmt.Errorf("destination %s: %s", f.dcfg.Name, f.e.Redactor.Error(err))
	}
	f.policy = streamPolicy(f.e, f.plugin, f.dcfg)
	return nil
}

func streamPolicy(e *Engine, plugin connector.DestinationPlugin, dcfg *config.Destination) delivery.Policy {
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
	policy.Logger = e.Logger.With("destination", dcfg.Name)
	return policy
}

// deliver sends the last change of each key in batches and commits what
// the destination acknowledged.
func (f *follower) deliver(ctx context.Context, batches []ChangeBatch) error {
	type change struct {
		entry diff.Entry
		rec   connector.Record
	}
	var (
		order []string
		last  = map[string]change{}
		drops []diff.Entry
		offs  []int
		parts = make([]string, len(f.model.PrimaryKey))
	)
	for _, b := range batches {
		if len(b.Changes) == 0 {
			continue
		}
		if err := f.prepare(ctx, b.Columns); err != nil {
			return err
		}
	changes:
		for _, c := range b.Changes {
			for i, j := range f.pkIdx {
				if c.Row[j] == nil {
					f.log.Warn("streamed row without its primary key skipped", "column", f.model.PrimaryKey[i])
					continue changes
				}
				parts[i] = value.Text(c.Row[j])
			}
			key := value.JoinKey(parts)
			entry := diff.Entry{KeyHash: diff.KeyHash(key), Key: key}
			rec := connector.Record{Key: key, KeyParts: slices.Clone(parts)}
			if c.Delete {
				rec.Op = connector.OpDelete
			} else {
				offs = slices.Grow(offs[:0], len(c.Row)+1)[:len(c.Row)+1]
				payload := value.AppendRow(nil, c.Row, offs)
				entry.RowHash = diff.RowHash(f.target, payload, offs)
				fields, err := f.mapper.Apply(c.Row, nil)
				if err != nil {
					f.log.Warn("streamed row not transformed", "key", key, "error", f.e.Redactor.Error(err))
					continue
				}
				rec.Op, rec.Fields = connector.OpUpsert, fields
			}
			if _, seen := last[key]; !seen {
				order = append(order, key)
			}
			last[key] = change{entry: entry, rec: rec}
		}
	}
	in := make(chan delivery.Item, len(order))
	refs := make([]diff.Entry, 0, len(order))
	for _, key := range order {
		c := last[key]
		if c.rec.Op == connector.OpDelete && f.sync.Mode != config.ModeMirror {
			// Only a mirror deletes; the row leaves the snapshot all the same.
			drops = append(drops, c.entry)
			continue
		}
		in <- delivery.Item{Record: c.rec, Ref: int64(len(refs))}
		refs = append(refs, c.entry)
	}
	close(in)
	if len(drops) > 0 {
		if err := f.delta.Commit(nil, drops); err != nil {
			return fmt.Errorf("sync %s: commit snapshot: %w", f.sync.Name, err)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	var (
		mu                sync.Mutex
		succeeded, failed int
	)
	start := time.Now()
	_, err := delivery.Deliver(ctx, f.dst, f.policy, in, func(res delivery.Result) error {
		mu.Lock()
		defer mu.Unlock()
		var set, del []diff.Entry
		for i, it := range res.Items {
			entry := refs[it.Ref]
			if msg, bad := res.Failed[i]; bad {
				failed++
				f.log.Warn("streamed row refused; the next batch run sends it again", "key", entry.Key, "op", it.Record.Op, "error", f.e.Redactor.String(msg))
				continue
			}
			succeeded++
			if it.Record.Op == connector.OpDelete {
				del = append(del, entry)
			} else {
				set = append(set, entry)
			}
		}
		return f.delta.Commit(set, del)
	})
	if err != nil {
		return fmt.Errorf("sync %s: deliver streamed changes: %s", f.sync.Name, f.e.Redactor.Error(err))
	}
	f.log.Info("streamed changes delivered", "records", len(refs), "succeeded", succeeded, "failed", failed,
		"seconds", time.Since(start).Seconds())
	return nil
}
