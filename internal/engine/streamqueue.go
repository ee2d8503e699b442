package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/value"
)

// read takes the feed's changes, gathered for up to StreamLinger, puts
// them in the sync's queue in one transaction and then acknowledges them
// to the feed, until ctx is done or the feed or the queue fails. It
// returns only with an error (ctx's cause when stopped).
func (f *follower) read(ctx context.Context, feed ChangeFeed, wake chan<- struct{}) error {
	var changes []state.StreamChange
	for {
		b, err := feed.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("sync %s: stream: %w", f.sync.Name, err)
		}
		changes = changes[:0]
		if changes, err = f.queueable(changes, b); err != nil {
			return err
		}
		last := b.Position
		var failed error // the feed's, after the changes before it
		lctx, cancel := context.WithTimeout(ctx, StreamLinger)
		for len(changes) < maxStreamBatch {
			b, err := feed.Next(lctx)
			if err != nil {
				if lctx.Err() == nil || !errors.Is(err, lctx.Err()) {
					// Not the linger's end: the feed failed, or stopped for
					// its caller (a TRUNCATE), after what was gathered.
					failed = fmt.Errorf("sync %s: stream: %w", f.sync.Name, err)
				}
				break
			}
			if changes, err = f.queueable(changes, b); err != nil {
				cancel()
				return err
			}
			last = b.Position
		}
		cancel()
		if ctx.Err() != nil {
			// Not queued, not acknowledged: the feed gives them again.
			return context.Cause(ctx)
		}
		changes = state.Coalesce(changes)
		// A deliverer waiting for changes (none older are queued) sends
		// these while they are being queued: their latency does not
		// include the queue's transaction. They are removed from the
		// queue only once queued, and the feed is told only then.
		var h *handoff
		if len(changes) > 0 {
			h = &handoff{changes: slices.Clone(changes), queued: make(chan struct{})}
			select {
			case f.handoffs <- h:
			default:
				h = nil
			}
		}
		err = f.queue.Put(ctx, changes)
		if h != nil {
			if err == nil {
				h.seqs = make([]int64, len(changes))
				for i, c := range changes {
					h.seqs[i] = c.Seq
				}
			}
			close(h.queued)
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("sync %s: %w", f.sync.Name, err)
		}
		// Queued durably: the feed need not keep them any more.
		feed.Ack(last)
		if h == nil && len(changes) > 0 {
			select {
			case wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
		if failed != nil {
			return failed
		}
	}
}

// handoff is a gathered batch of changes the reader gives the waiting
// deliverer as it queues them.
type handoff struct {
	changes []state.StreamChange // the deliverer's copy, without seqs
	queued  chan struct{}        // closed once the reader's Put returned
	seqs    []int64              // per change, set before queued is closed; nil if the Put failed
}

// queueable appends a feed batch's changes to changes, as the queue
// keeps them: keyed by the record key, with the model's columns and the
// row's values.
func (f *follower) queueable(changes []state.StreamChange, b ChangeBatch) ([]state.StreamChange, error) {
	if len(b.Changes) == 0 {
		return changes, nil
	}
	rd := &f.rd
	if rd.encoded == nil || !slices.Equal(b.Columns, rd.columns) {
		idx, err := keyColumns(f.sync, f.model, b.Columns)
		if err != nil {
			return changes, err
		}
		rd.columns, rd.encoded, rd.pkIdx = slices.Clone(b.Columns), encodeColumns(b.Columns), idx
	}
	parts := make([]string, len(rd.pkIdx))
changes:
	for _, c := range b.Changes {
		if len(c.Row) != len(rd.columns) {
			return changes, fmt.Errorf("sync %s: a streamed row has %d values for %d columns", f.sync.Name, len(c.Row), len(rd.columns))
		}
		for i, j := range rd.pkIdx {
			if c.Row[j] == nil {
				f.log.Warn("streamed row without its primary key skipped", "column", f.model.PrimaryKey[i])
				continue changes
			}
			parts[i] = value.Text(c.Row[j])
		}
		changes = append(changes, state.StreamChange{
			Key: value.JoinKey(parts), Delete: c.Delete, Data: encodeChange(rd.encoded, c.Row),
		})
	}
	return changes, nil
}

// A queued change's data is the model's columns (as encodeColumns gives
// them, behind their length) then the row's values as one array, both in
// the value package's encoding: a change queued by one process is
// delivered by the next with the columns it was read with, and its
// values hash as the batch run's do.

func encodeChange(columns []byte, row []any) []byte {
	buf := binary.AppendUvarint(make([]byte, 0, len(columns)+16*len(row)), uint64(len(columns)))
	buf = append(buf, columns...)
	return value.Append(buf, row)
}

var errBadChange = errors.New("truncated queued change")

// decodeChange returns a queued change's encoded columns and its row.
func decodeChange(data []byte) ([]byte, []any, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return nil, nil, errBadChange
	}
	columns := data[k : k+int(n)]
	v, used, err := value.Decode(data[k+int(n):])
	if err != nil {
		return nil, nil, fmt.Errorf("queued change: %w", err)
	}
	row, ok := v.([]any)
	if !ok || k+int(n)+used != len(data) {
		return nil, nil, errBadChange
	}
	return columns, row, nil
}

func encodeColumns(columns []string) []byte {
	vals := make([]any, len(columns))
	for i, c := range columns {
		vals[i] = c
	}
	return value.Append(nil, vals)
}

func decodeColumns(b []byte) ([]string, error) {
	v, _, err := value.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("queued change's columns: %w", err)
	}
	vals, ok := v.([]any)
	if !ok {
		return nil, errBadChange
	}
	out := make([]string, len(vals))
	for i, c := range vals {
		if out[i], ok = c.(string); !ok {
			return nil, errBadChange
		}
	}
	return out, nil
}

// outageWatch is the destination as Follow delivers to it: it notes the
// records whose last request failed for a passing reason (429, 5xx, a
// timeout or a lost connection, all of which the delivery layer retries)
// so that, when the delivery layer gives up on them, they stay queued
// rather than count as refused.
type outageWatch struct {
	dst     connector.Destination
	mu      sync.Mutex
	failing map[string]bool
}

func (w *outageWatch) Write(ctx context.Context, b *connector.Batch) error {
	err := w.dst.Write(ctx, b)
	passing := err != nil && passingFailure(err)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range b.Records {
		if passing {
			w.failing[r.Key] = true
		} else {
			delete(w.failing, r.Key)
		}
	}
	return err
}

func (w *outageWatch) Close(ctx context.Context) error { return w.dst.Close(ctx) }

// reset forgets the failures of an earlier delivery.
func (w *outageWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = map[string]bool{}
}

// passing reports whether the last request carrying key failed for a
// passing reason.
func (w *outageWatch) passing(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing[key]
}

// passingFailure tells a failure the delivery layer retries (and that a
// later try may get past) from a verdict on the records: as
// connector.Destination's Write documents, a *RowErrors and a
// non-retryable *RequestError are verdicts; any other error is transient.
func passingFailure(err error) bool {
	var rowErrs *connector.RowErrors
	if errors.As(err, &rowErrs) {
		return false
	}
	var reqErr *connector.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.Retryable
	}
	return true
}
