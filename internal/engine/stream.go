package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/state"
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
	// safe: queued durably in the sync's change queue (state.StreamQueue),
	// from which it is delivered. It need never come again.
	Ack(position uint64)
}

// ChangeBatch is the changes of one or more committed transactions.
type ChangeBatch struct {
	// Columns are the model's columns, as its query names them.
	Columns []string
	Changes []ModelChange
	// Position is what to Ack once the changes are queued.
	Position uint64
}

// ModelChange is one row of the model upserted, or deleted.
type ModelChange struct {
	Delete bool
	// Row holds one value per column; for a delete only the primary key's
	// values count.
	Row []any
}

// StreamLinger is how long Follow gathers changes before queueing them:
// a burst of changes is queued in one transaction and travels in a few
// requests, not one each.
const StreamLinger = 50 * time.Millisecond

// maxStreamBatch bounds the changes gathered into one queue transaction,
// and the queued changes taken into one delivery: what Follow holds in
// memory, whatever the backlog.
const maxStreamBatch = 10000

// Follow delivers a sync's changes from feed as they come, until ctx is
// done (a clean stop, nil) or the feed or delivery fails. When the feed
// fails (or stops for its caller, as on a TRUNCATE), what is queued is
// delivered before Follow returns its error.
//
// Two loops run side by side. The reader gathers the feed's changes for
// up to StreamLinger, puts them in the sync's durable change queue in the
// state store (state.StreamQueue) in one transaction, and only then
// acknowledges them to the feed. The deliverer takes the oldest queued
// changes, delivers them through the delivery layer as a run's are,
// commits each acknowledged batch to the sync's snapshot and only then
// removes it from the queue. When the deliverer is idle (nothing older is
// queued), the reader hands it the batch it is queueing, which is sent
// without waiting for the queue's transaction and removed once queued. So
// a crash at any point loses nothing (what the feed was not told of comes
// again, what it was is in the queue, and what was delivered is in the
// snapshot), and a later batch run finds nothing new to send.
//
// The queue keeps one change per key, the newest: while the destination
// is slow or away (it answers 429 or 5xx, or times out), the reader goes
// on reading and acknowledging the feed, so the source does not retain
// its log (a PostgreSQL slot's WAL), and the queue grows only up to the
// number of distinct keys changed. Changes whose delivery failed that way
// stay queued and are sent again after a pause; at start, what the queue
// holds is delivered first. A destination refusing our credentials or
// out of quota stops Follow with an error; its changes stay queued for
// the next.
//
// Rows the destination refuses are logged, left out of the snapshot and
// removed from the queue: the next batch run sends them again. So are
// records it fails for a passing reason in poisonRounds deliveries in a
// row while it takes others (sent alone after the first), which would
// otherwise hold the stream back forever.
//
// A batch run does not empty the queue: what was queued before it is
// delivered by the next Follow, and the feed's later changes then bring
// each key up to date again. A caller whose feed cannot give those later
// changes (a replication slot created anew, after the old one was lost)
// should clear the queue (state.StreamQueue.Clear) before its batch run.
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
	look, err := snap.Lookup()
	if err != nil {
		return fmt.Errorf("sync %s: %w", sync.Name, err)
	}
	defer look.Close()
	delta, err := snap.Delta("")
	if err != nil {
		return fmt.Errorf("sync %s: open snapshot delta: %w", sync.Name, err)
	}
	f := &follower{
		e: e, sync: sync, model: model, dcfg: dcfg, plugin: plugin, delta: delta,
		queue: e.Store.StreamQueue(sync.Name), log: e.Logger.With("sync", sync.Name), strikes: map[string]int{},
		view: newSnapshotView(look, maxTrackedKeys),
	}
	defer func() {
		if f.dst != nil {
			if err := f.dst.Close(context.WithoutCancel(ctx)); err != nil {
				f.log.Warn("close destination", "error", e.Redactor.Error(err))
			}
		}
	}()
	err = f.run(ctx, feed)
	if cerr := delta.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("sync %s: close snapshot delta: %w", sync.Name, cerr)
	}
	return err
}

// StreamQueueLen is how many changes of a streaming sync are queued and
// not yet delivered: the number of distinct keys changed since the
// destination last caught up. It grows while the destination is slow or
// away, and is what a backlog metric or alert watches. A sync that never
// streamed has none.
func (e *Engine) StreamQueueLen(ctx context.Context, sync string) (int64, error) {
	if _, ok := e.Project.Syncs[sync]; !ok {
		return 0, fmt.Errorf("no sync named %q%s", sync, suggestName(sync, e.Project.Syncs))
	}
	return e.Store.StreamQueue(sync).Len(ctx)
}

// follower is one sync following its feed.
type follower struct {
	e      *Engine
	sync   *config.Sync
	model  *config.Model
	dcfg   *config.Destination
	plugin connector.DestinationPlugin
	delta  *diff.DeltaWriter
	queue  *state.StreamQueue
	log    *slog.Logger

	// The reader's own: the columns it last saw, encoded, and where the
	// primary key is among them.
	rd struct {
		columns []string
		encoded []byte
		pkIdx   []int
	}

	// The deliverer's own.
	columns []string
	encoded []byte // columns as queued changes carry them
	mapper  *transform.Mapper
	target  *diff.Target
	pkIdx   []int
	dst     connector.Destination
	watch   *outageWatch
	policy  delivery.Policy
	// strikes counts, per key, the deliveries in a row that failed the
	// key's record for a passing reason while the destination took others.
	strikes map[string]int
	view    *snapshotView

	// handoffs carries gathered changes from the reader to the deliverer
	// when it waits for them (the fast path): unbuffered, so a handoff is
	// made only to a deliverer with nothing older to deliver.
	handoffs chan *handoff
}

// run runs the reader and the deliverer until ctx is done or one fails.
// When the reader fails (the feed ended or failed), the deliverer first
// delivers what is queued: a caller that then runs the sync in batch
// (after a TRUNCATE) finds no older change left to send after that run.
func (f *follower) run(parent context.Context, feed ChangeFeed) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// wake tells the deliverer that changes were queued; one signal
	// pending is enough, as it takes all it finds.
	wake := make(chan struct{}, 1)
	f.handoffs = make(chan *handoff)
	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = f.read(ctx, feed, wake)
	}()
	err := f.drain(ctx, wake, readDone, &readErr)
	cancel(err)
	<-readDone
	if parent.Err() != nil {
		return nil
	}
	return err
}

// drain delivers queued changes, oldest first, as long as there are any,
// then waits for the reader to queue more. It returns only with an error:
// ctx's cause when stopped, its own, or, once the queue is empty, the
// reader's (*readErr, set when readDone is closed).
func (f *follower) drain(ctx context.Context, wake <-chan struct{}, readDone <-chan struct{}, readErr *error) error {
	var (
		pause      time.Duration
		readerDone bool
		handed     *handoff
	)
	for {
		pending, err := f.queue.Take(ctx, maxStreamBatch)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("sync %s: %w", f.sync.Name, err)
		}
		if len(pending) == 0 {
			if readerDone {
				return *readErr
			}
			select {
			case <-wake:
				continue
			case h := <-f.handoffs:
				pending, handed = h.changes, h
			case <-readDone:
				readerDone = true
				continue
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		kept, tookSome, err := f.deliver(ctx, pending, handed)
		if err == nil && handed != nil {
			// What of the handoff stays queued (kept, or left for another
			// round) is read back from the queue: wait until it is there,
			// as no wake-up comes for it.
			select {
			case <-handed.queued:
			case <-ctx.Done():
			}
		}
		handed = nil
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		if kept == 0 || tookSome {
			// Nothing left, or the destination is up and what it failed
			// is under suspicion (deliver): no pause.
			pause = 0
			continue
		}
		// The destination is away: its changes wait in the queue (which
		// the reader keeps filling) and are tried again after a pause
		// that grows while the outage lasts.
		pause = min(max(2*pause, outagePause), delivery.DefaultMaxBackoff)
		n, _ := f.queue.Len(ctx)
		f.log.Warn("destination unavailable; streamed changes stay queued and are sent again after a pause",
			"not_delivered", kept, "queued", n, "pause", pause)
		if err := f.sleep(ctx, pause); err != nil {
			return context.Cause(ctx)
		}
	}
}

// outagePause is the first pause after a delivery the destination could
// not take for a passing reason (the delivery layer has already retried
// each request with backoff by then).
const outagePause = time.Second

// sleep waits d, or until ctx is done, through the engine's Sleep when
// set (tests).
func (f *follower) sleep(ctx context.Context, d time.Duration) error {
	if f.e.Sleep != nil {
		return f.e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prepare builds the mapping for the model's columns and opens the
// destination, the first time and whenever the columns change.
func (f *follower) prepare(ctx context.Context, columns []string, encoded []byte) error {
	if f.mapper != nil && bytes.Equal(encoded, f.encoded) {
		return nil
	}
	if f.mapper != nil {
		return fmt.Errorf("sync %s: the model's columns changed from %v to %v while streaming; restart to run the sync in batch first", f.sync.Name, f.columns, columns)
	}
	m, err := transform.New(f.sync, columns)
	if err != nil {
		return err
	}
	f.pkIdx, err = keyColumns(f.sync, f.model, columns)
	if err != nil {
		return err
	}
	f.columns, f.encoded, f.mapper = columns, encoded, m
	f.target = &diff.Target{Name: f.sync.Name, Seed: m.Fingerprint(), Columns: m.HashColumns()}
	target := connector.Target{
		Sync: f.sync.Name, Mode: f.sync.Mode, Object: f.sync.Object,
		Identifier: f.sync.Identifier, Fields: m.Fields(), PrimaryKey: f.model.PrimaryKey,
	}
	if f.dst, err = f.plugin.New(ctx, f.dcfg.Settings, target, f.e.Project.Dir); err != nil {
		return fmt.Errorf("destination %s: %s", f.dcfg.Name, f.e.Redactor.Error(err))
	}
	f.policy = f.e.deliveryPolicy(f.plugin, f.dcfg, f.sync.Name)
	// Deliveries go through the watch, which hides the destination's own
	// rate windows from the delivery layer: they are handed over here.
	if rw, ok := f.dst.(connector.RateWindowed); ok {
		f.policy.Windows = rw.RateWindows()
	}
	f.watch = &outageWatch{dst: f.dst}
	return nil
}

// keyColumns returns where the model's primary key columns are among
// columns.
func keyColumns(sync *config.Sync, model *config.Model, columns []string) ([]int, error) {
	idx := make([]int, 0, len(model.PrimaryKey))
	for _, k := range model.PrimaryKey {
		i := slices.Index(columns, k)
		if i < 0 {
			return nil, fmt.Errorf("sync %s: primary key column %q is not among the streamed columns %v", sync.Name, k, columns)
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// deliver sends queued changes (each the last of its key) in batches,
// commits what the destination acknowledged to the snapshot, and removes
// from the queue what is settled: delivered, refused, or not to be sent.
// It returns how many changes it left queued because the destination
// could not take them for a passing reason, and whether the destination
// took any (if not, it is away). pending is what Take returned, or a
// handoff's changes (h), which the reader is queueing meanwhile.
func (f *follower) deliver(ctx context.Context, pending []state.StreamChange, h *handoff) (int, bool, error) {
	// Changes queued with other columns than the first's wait for the
	// next round, which prepare then refuses: one mapping per delivery.
	var (
		entries = make([]diff.Entry, 0, len(pending))
		refs    = make([]int, 0, len(pending)) // index in pending
		items   = make([]delivery.Item, 0, len(pending))
		settled []int // removed from the queue without delivery
		drops   []diff.Entry
		// unchanged counts the changes that leave the row as the snapshot
		// holds it, not sent.
		unchanged int
		offs      []int
		payload   []byte
	)
	for i, c := range pending {
		cols, row, err := decodeChange(c.Data)
		if err != nil {
			// Not ours to deliver (written by a newer Riptide?); the next
			// batch run sends the row as it is then.
			f.log.Warn("queued change unreadable; dropped", "key", c.Key, "error", err)
			settled = append(settled, i)
			continue
		}
		if f.mapper == nil || !bytes.Equal(cols, f.encoded) {
			if f.mapper != nil && len(items)+len(settled) > 0 {
				break
			}
			columns, err := decodeColumns(cols)
			if err != nil {
				f.log.Warn("queued change unreadable; dropped", "key", c.Key, "error", err)
				settled = append(settled, i)
				continue
			}
			if err := f.prepare(ctx, columns, cols); err != nil {
				return 0, false, err
			}
		}
		if len(row) != len(f.columns) {
			f.log.Warn("queued change unreadable; dropped", "key", c.Key, "error", fmt.Sprintf("%d values for %d columns", len(row), len(f.columns)))
			settled = append(settled, i)
			continue
		}
		entry := diff.Entry{KeyHash: diff.KeyHash(c.Key), Key: c.Key}
		rec := connector.Record{Key: c.Key, KeyParts: make([]string, len(f.pkIdx))}
		for k, j := range f.pkIdx {
			rec.KeyParts[k] = value.Text(row[j])
		}
		if c.Delete {
			if f.sync.Mode != config.ModeMirror {
				// Only a mirror deletes; the row leaves the snapshot all the same.
				drops = append(drops, entry)
				settled = append(settled, i)
				continue
			}
			if f.view.unchanged(entry, true, f.log) {
				// Not in the snapshot: the destination has nothing to delete
				// (a row updated outside the model's filter, or gone twice).
				unchanged++
				settled = append(settled, i)
				continue
			}
			rec.Op = connector.OpDelete
		} else {
			offs = slices.Grow(offs[:0], len(row)+1)[:len(row)+1]
			payload = value.AppendRow(payload[:0], row, offs)
			entry.RowHash = diff.RowHash(f.target, payload, offs)
			if f.view.unchanged(entry, false, f.log) {
				// As delivered last: the change touched nothing the sync
				// sends (a column the model or mapping leaves out).
				unchanged++
				settled = append(settled, i)
				continue
			}
			fields, err := f.mapper.Apply(row, nil)
			if err != nil {
				f.log.Warn("streamed row not transformed", "key", c.Key, "error", f.e.Redactor.Error(err))
				settled = append(settled, i)
				continue
			}
			rec.Op, rec.Fields = connector.OpUpsert, fields
		}
		items = append(items, delivery.Item{Record: rec, Ref: int64(len(entries))})
		entries, refs = append(entries, entry), append(refs, i)
	}
	if len(drops) > 0 {
		if err := f.delta.Commit(nil, drops); err != nil {
			return 0, false, fmt.Errorf("sync %s: commit snapshot: %w", f.sync.Name, err)
		}
		f.view.committed(nil, drops)
	}
	if unchanged > 0 {
		f.log.Debug("streamed changes that leave the snapshot as it is: not sent", "changes", unchanged)
	}
	if len(items) == 0 {
		return 0, false, f.settle(ctx, pending, h, settled)
	}
	// Suspects go last, one to a request, so that records sent with them
	// are not held by their failure.
	var trusted, suspect []delivery.Item
	for _, it := range items {
		if f.strikes[it.Record.Key] > 0 {
			suspect = append(suspect, it)
		} else {
			trusted = append(trusted, it)
		}
	}
	f.watch.reset()
	var (
		succeeded, refused int
		keptIdx            []int // the entries of records kept queued
	)
	start := time.Now()
	// onResult runs for one batch at a time, never concurrently.
	onResult := func(res delivery.Result) error {
		var (
			set, del []diff.Entry
			done     = make([]int, 0, len(res.Items))
		)
		for i, it := range res.Items {
			entry, change := entries[it.Ref], refs[it.Ref]
			if msg, bad := res.Failed[i]; bad {
				if f.watch.passing(it.Record.Key) {
					keptIdx = append(keptIdx, int(it.Ref)) // stays queued, sent again
					continue
				}
				refused++
				delete(f.strikes, entry.Key)
				f.log.Warn("streamed row refused; the next batch run sends it again", "key", entry.Key, "op", it.Record.Op, "error", f.e.Redactor.String(msg))
				done = append(done, change)
				continue
			}
			succeeded++
			delete(f.strikes, entry.Key)
			if it.Record.Op == connector.OpDelete {
				del = append(del, entry)
			} else {
				set = append(set, entry)
			}
			done = append(done, change)
		}
		// The snapshot first: a crash before the queue forgets the batch
		// sends it again, which the at-least-once rule allows.
		if err := f.delta.Commit(set, del); err != nil {
			return err
		}
		f.view.committed(set, del)
		return f.settle(ctx, pending, h, done)
	}
	for _, group := range []struct {
		items  []delivery.Item
		policy delivery.Policy
	}{{trusted, f.policy}, {suspect, f.suspectPolicy()}} {
		if len(group.items) == 0 {
			continue
		}
		in := make(chan delivery.Item, len(group.items))
		for _, it := range group.items {
			in <- it
		}
		close(in)
		if _, err := delivery.Deliver(ctx, f.watch, group.policy, in, onResult); err != nil {
			return 0, false, fmt.Errorf("sync %s: deliver streamed changes: %s", f.sync.Name, f.e.Redactor.Error(err))
		}
	}
	// Records that failed for a passing reason while the destination took
	// others are suspects: the destination is up, and something in them
	// may fail them every time. Given up after poisonRounds such rounds,
	// they leave the queue as refused rows do, so that they do not hold
	// the stream; the next batch run sends them again.
	var gaveUp []int
	kept := len(keptIdx)
	if succeeded > 0 {
		for _, ref := range keptIdx {
			key := entries[ref].Key
			f.strikes[key]++
			if f.strikes[key] < poisonRounds {
				continue
			}
			delete(f.strikes, key)
			gaveUp = append(gaveUp, refs[ref])
			f.log.Warn("streamed row given up: the destination failed it in every delivery while taking other rows; the next batch run sends it again",
				"key", key, "deliveries", poisonRounds)
		}
		kept -= len(gaveUp)
	}
	// Last, so that a handoff is not held for its queue transaction
	// before it is sent.
	if err := f.settle(ctx, pending, h, append(settled, gaveUp...)); err != nil {
		return 0, false, err
	}
	f.log.Info("streamed changes delivered", "records", len(items), "succeeded", succeeded, "failed", refused+len(gaveUp),
		"queued_again", kept, "seconds", time.Since(start).Seconds())
	return kept, succeeded > 0, nil
}

// poisonRounds is how many deliveries in a row a streamed record may fail
// for a passing reason while the destination takes other records before
// it is given up (each delivery has retried its request already).
const poisonRounds = 3

// suspectPolicy is the delivery policy for records under suspicion: one
// record to a request, so that a record the destination always fails
// fails alone.
func (f *follower) suspectPolicy() delivery.Policy {
	p := f.policy
	p.BatchSize, p.MaxBatchBytes = 1, 0
	return p
}

// settle removes pending[i] for each i in idx from the queue, as
// delivered or not to be delivered. A handoff's changes are removed once
// the reader has queued them, with the seqs that gave them; if it could
// not, they are not queued, and the feed gives them again.
func (f *follower) settle(ctx context.Context, pending []state.StreamChange, h *handoff, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	done := make([]state.StreamChange, 0, len(idx))
	if h != nil {
		select {
		case <-h.queued:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if h.seqs == nil {
			return nil
		}
		for _, i := range idx {
			done = append(done, state.StreamChange{Key: pending[i].Key, Seq: h.seqs[i]})
		}
	} else {
		for _, i := range idx {
			done = append(done, pending[i])
		}
	}
	if err := f.queue.Done(ctx, done); err != nil {
		return fmt.Errorf("sync %s: %w", f.sync.Name, err)
	}
	return nil
}

// snapshotView is what a follower knows of its sync's snapshot: the
// snapshot as Follow opened it (its own, locked for the follow's length)
// and what the follow committed since. A change that leaves a row as the
// snapshot holds it is not sent, as a batch run would not send it.
type snapshotView struct {
	base *diff.Lookup
	// set holds the row hash of each key the follow upserted, by key hash:
	// a map without pointers, which the garbage collector does not scan,
	// nor keeps the keys' texts alive. Two keys of one hash share an
	// entry; an upsert of the other key then matches only if its row hash
	// is equal too (one in 2^64), and a delete of it is sent. gone holds
	// the keys the follow deleted, looked at first; a delete leaves set
	// as it is, which may hold another key of the same hash.
	set  map[uint64]uint64
	gone map[string]struct{}
	// max is how many keys committed since it keeps track of; off is set
	// once the follow committed more, or a lookup failed: from then on
	// every change is sent.
	max int
	off bool
}

func newSnapshotView(base *diff.Lookup, max int) *snapshotView {
	return &snapshotView{base: base, set: map[uint64]uint64{}, gone: map[string]struct{}{}, max: max}
}

// maxTrackedKeys bounds what a follow remembers of its commits.
const maxTrackedKeys = 1 << 20

// unchanged reports whether a change leaves the snapshot as it is: an
// upsert of the row hash it holds for the key, or a delete of a key it
// does not hold. When it cannot tell, the change counts as a change.
func (v *snapshotView) unchanged(e diff.Entry, deleted bool, log *slog.Logger) bool {
	if v.off {
		return false
	}
	if _, ok := v.gone[e.Key]; ok {
		return deleted
	}
	if h, ok := v.set[e.KeyHash]; ok {
		return !deleted && h == e.RowHash
	}
	h, ok, err := v.base.Get(e.KeyHash, e.Key)
	if err != nil {
		log.Warn("snapshot lookup failed; streamed changes are sent whether or not they change the row", "error", err)
		v.off = true
		return false
	}
	if deleted {
		return !ok
	}
	return ok && h == e.RowHash
}

// committed notes what the follow committed to the snapshot.
func (v *snapshotView) committed(set, del []diff.Entry) {
	if v.off {
		return
	}
	for _, e := range set {
		v.set[e.KeyHash] = e.RowHash
		delete(v.gone, e.Key)
	}
	for _, e := range del {
		v.gone[e.Key] = struct{}{}
	}
	if len(v.set)+len(v.gone) > v.max {
		v.off, v.set, v.gone = true, nil, nil
	}
}
