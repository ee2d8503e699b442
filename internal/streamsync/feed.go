package streamsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/stream"
)

// errResync stops following when the table's rows went without a change
// each (a TRUNCATE): only a batch run can tell the destination which.
type errResync struct {
	table stream.Table
	// end is the position of the transaction that truncated: once the
	// batch run has run, the stream goes on after it.
	end stream.LSN
}

func (e *errResync) Error() string {
	return fmt.Sprintf("table %s was truncated; the sync runs in batch to remove what went, then streams on", e.table)
}

// exactFeed turns a table's changes into the rows of a model the stream
// follows exactly.
type exactFeed struct {
	s          *stream.Stream
	model      *stream.Model
	primaryKey []string
	log        *slog.Logger
	// lookup reads rows again when a change left values unsent.
	lookup *stream.Lookup

	cols  []stream.Column
	bound *stream.Bound
}

func (f *exactFeed) Next(ctx context.Context) (engine.ChangeBatch, error) {
	tx, err := f.s.Next(ctx)
	if err != nil {
		return engine.ChangeBatch{}, err
	}
	if tx.Truncated {
		return engine.ChangeBatch{}, &errResync{table: f.s.Table(), end: tx.End}
	}
	out := engine.ChangeBatch{Position: uint64(tx.End)}
	for _, c := range tx.Changes {
		if err := f.bind(c.Columns); err != nil {
			return engine.ChangeBatch{}, err
		}
		acts, err := f.bound.Apply(c)
		if errors.Is(err, stream.ErrUnchanged) {
			// The filter needs a value the update did not send: the
			// table tells where the row stands now.
			acts, err = nil, nil
			if c.KeyChanged() {
				acts = append(acts, f.bound.Deletion(c.Key))
			}
			if a, ok := f.reread(ctx, f.bound.Deletion(c.Row).Row); ok {
				acts = append(acts, a)
			}
		}
		if err != nil {
			// The row stays as the last batch run left it until the next.
			f.log.Warn("streamed change skipped", "op", c.Op.String(), "error", err)
			continue
		}
		for _, a := range acts {
			if !a.Delete && slices.Contains(a.Row, any(stream.Unchanged)) {
				var ok bool
				if a, ok = f.reread(ctx, a.Row); !ok {
					continue
				}
			}
			out.Changes = append(out.Changes, engine.ModelChange{Delete: a.Delete, Row: a.Row})
		}
	}
	if f.bound != nil {
		out.Columns = f.bound.Columns
	}
	return out, nil
}

// reread reads again the model's row whose key row holds (in the model's
// column order) when the change left values unsent (TOAST): its current
// values, or its deletion when the model no longer has it. ok is false
// when the row cannot be read; it stays as the last batch run left it.
func (f *exactFeed) reread(ctx context.Context, row []any) (a stream.Action, ok bool) {
	var (
		keys  []string
		types []uint32
		vals  []any
	)
	for i, isKey := range f.bound.Key {
		if isKey {
			keys, types, vals = append(keys, f.bound.Columns[i]), append(types, f.bound.Types[i]), append(vals, row[i])
		}
	}
	cols, got, found, err := f.lookup.Row(ctx, keys, types, vals)
	if err != nil {
		f.log.Warn("streamed row skipped: it holds a value the update did not send (TOAST) and could not be read again; the next batch run sends it",
			"error", err)
		return a, false
	}
	if !found {
		del := make([]any, len(row))
		for i, isKey := range f.bound.Key {
			if isKey {
				del[i] = row[i]
			}
		}
		return stream.Action{Delete: true, Row: del}, true
	}
	out := make([]any, len(f.bound.Columns))
	for i, name := range f.bound.Columns {
		j := slices.Index(cols, name)
		if j < 0 {
			f.log.Warn("streamed row skipped: read again, it lacks the model's column", "column", name)
			return a, false
		}
		out[i] = got[j]
	}
	return stream.Action{Row: out}, true
}

func (f *exactFeed) Ack(position uint64) { f.s.Ack(stream.LSN(position)) }

// bind binds the model to the table's columns when they are first seen
// or changed.
func (f *exactFeed) bind(cols []stream.Column) error {
	if f.bound != nil && slices.Equal(cols, f.cols) {
		return nil
	}
	b, err := f.model.Bind(cols)
	if err != nil {
		if errors.Is(err, stream.ErrNotExact) {
			return fmt.Errorf("model is %w", err)
		}
		return err
	}
	for _, k := range f.primaryKey {
		i := slices.Index(b.Columns, k)
		if i < 0 || !b.Key[i] {
			return fmt.Errorf("model is %w: its primary key column %s is not the table's primary key, so a deleted row could not be named", stream.ErrNotExact, k)
		}
	}
	f.cols, f.bound = cols, b
	return nil
}
