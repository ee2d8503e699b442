package state

import (
	"context"
	"fmt"
	"strings"
)

// StreamChange is one pending change of a streaming sync: the last change
// of its key read from the source and not yet delivered.
type StreamChange struct {
	// Key is the record's primary key as text (composite keys joined).
	Key string
	// Seq is the change's place in delivery order: set by Put, handed back
	// by Take, and what Done checks.
	Seq int64
	// Delete is set for a deleted row; otherwise the row was upserted.
	Delete bool
	// Data is the change as the engine encodes it (its columns and row
	// values); opaque here.
	Data []byte
}

// Ops of a queued change as stored.
const (
	streamOpUpsert = "upsert"
	streamOpDelete = "delete"
)

// StreamQueue is one sync's durable change queue, in the state store
// beside its runs: a streaming sync puts each change there before telling
// its source that the change is safe, and takes changes from there to
// deliver them, so that a destination that is slow or away makes the
// queue grow instead of the source's retained log (a PostgreSQL slot's
// WAL) or the process's memory.
//
// The queue coalesces: it holds one change per key, the newest, so it is
// bounded by the number of distinct keys, not of changes. Its methods may
// be called from several goroutines at once (a reader putting, a
// deliverer taking); one process at a time follows a sync.
type StreamQueue struct {
	s    *Store
	sync string
}

// StreamQueue returns the change queue of a streaming sync.
func (s *Store) StreamQueue(sync string) *StreamQueue {
	return &StreamQueue{s: s, sync: sync}
}

// Rows per multi-row statement: well under both backends' limits on
// placeholders, large enough that a gathered batch takes few round trips.
const streamQueueChunk = 200

// Put queues changes, in the order given, in one transaction: each gets
// a new seq, after every seq given before, and replaces the pending
// change of its key. Of several changes of one key in changes, the last
// counts (see Coalesce). When Put returns nil the changes are durable
// (against a crash of the process, as the rest of the store), and the
// Seq of each change it queued is set in changes (an earlier change of a
// key queued later keeps its Seq).
func (q *StreamQueue) Put(ctx context.Context, changes []StreamChange) error {
	keep := lastOfEachKey(changes)
	if len(keep) == 0 {
		return nil
	}
	tx, err := q.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue changes of sync %s: %w", q.sync, err)
	}
	defer tx.Rollback()
	// The counter row hands out a range of seqs no other Put gets: it is
	// never reset, so a seq once taken never names another change.
	var last int64
	err = tx.QueryRowContext(ctx, q.s.dialect.rebind(`INSERT INTO stream_queue_seqs (sync, seq) VALUES (?, ?)
		ON CONFLICT (sync) DO UPDATE SET seq = stream_queue_seqs.seq + excluded.seq RETURNING seq`),
		q.sync, len(keep)).Scan(&last)
	if err != nil {
		return fmt.Errorf("queue changes of sync %s: number them: %w", q.sync, err)
	}
	first := last - int64(len(keep)) + 1
	for start := 0; start < len(keep); start += streamQueueChunk {
		chunk := keep[start:min(start+streamQueueChunk, len(keep))]
		var b strings.Builder
		b.WriteString(`INSERT INTO stream_queue (sync, key, seq, op, data) VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for j, i := range chunk {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?, ?, ?, ?, ?)`)
			c := changes[i]
			op := streamOpUpsert
			if c.Delete {
				op = streamOpDelete
			}
			data := c.Data
			if data == nil {
				data = []byte{} // the column is NOT NULL
			}
			args = append(args, q.sync, c.Key, first+int64(start+j), op, data)
		}
		b.WriteString(` ON CONFLICT (sync, key) DO UPDATE SET seq = excluded.seq, op = excluded.op, data = excluded.data`)
		if _, err := tx.ExecContext(ctx, q.s.dialect.rebind(b.String()), args...); err != nil {
			return fmt.Errorf("queue changes of sync %s: %w", q.sync, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("queue changes of sync %s: commit: %w", q.sync, err)
	}
	for j, i := range keep {
		changes[i].Seq = first + int64(j)
	}
	return nil
}

// lastOfEachKey returns the indexes of the last change of each key, in
// order: a key changed again has moved to the back of the queue.
func lastOfEachKey(changes []StreamChange) []int {
	last := make(map[string]int, len(changes))
	for i, c := range changes {
		last[c.Key] = i
	}
	keep := make([]int, 0, len(last))
	for i, c := range changes {
		if last[c.Key] == i {
			keep = append(keep, i)
		}
	}
	return keep
}

// Coalesce returns the last change of each key of changes, in the order
// Put queues them: what a caller about to Put changes would deliver of
// them.
func Coalesce(changes []StreamChange) []StreamChange {
	keep := lastOfEachKey(changes)
	if len(keep) == len(changes) {
		return changes
	}
	out := make([]StreamChange, len(keep))
	for j, i := range keep {
		out[j] = changes[i]
	}
	return out
}

// Take returns up to n pending changes, oldest first. They stay queued
// until Done.
func (q *StreamQueue) Take(ctx context.Context, n int) ([]StreamChange, error) {
	rows, err := q.s.query(ctx, `SELECT key, seq, op, data FROM stream_queue WHERE sync = ? ORDER BY seq LIMIT ?`, q.sync, n)
	if err != nil {
		return nil, fmt.Errorf("take queued changes of sync %s: %w", q.sync, err)
	}
	defer rows.Close()
	var out []StreamChange
	for rows.Next() {
		var (
			c  StreamChange
			op string
		)
		if err := rows.Scan(&c.Key, &c.Seq, &op, &c.Data); err != nil {
			return nil, fmt.Errorf("take queued changes of sync %s: %w", q.sync, err)
		}
		c.Delete = op == streamOpDelete
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("take queued changes of sync %s: %w", q.sync, err)
	}
	return out, nil
}

// Done removes delivered changes, as Take returned them: a change whose
// key got a newer change since (a new seq) stays, so that the newer one
// is delivered too.
func (q *StreamQueue) Done(ctx context.Context, changes []StreamChange) error {
	if len(changes) == 0 {
		return nil
	}
	tx, err := q.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove delivered changes of sync %s: %w", q.sync, err)
	}
	defer tx.Rollback()
	for start := 0; start < len(changes); start += streamQueueChunk {
		chunk := changes[start:min(start+streamQueueChunk, len(changes))]
		var b strings.Builder
		b.WriteString(`DELETE FROM stream_queue WHERE sync = ? AND seq IN (`)
		args := make([]any, 0, 1+len(chunk))
		args = append(args, q.sync)
		for i, c := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			args = append(args, c.Seq)
		}
		b.WriteByte(')')
		// A seq names one change of one key and is never handed out again,
		// so matching it is matching the key at that version.
		if _, err := tx.ExecContext(ctx, q.s.dialect.rebind(b.String()), args...); err != nil {
			return fmt.Errorf("remove delivered changes of sync %s: %w", q.sync, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remove delivered changes of sync %s: commit: %w", q.sync, err)
	}
	return nil
}

// Len is how many changes are pending: the number of distinct keys
// changed and not yet delivered.
func (q *StreamQueue) Len(ctx context.Context) (int64, error) {
	var n int64
	if err := q.s.queryRow(ctx, `SELECT count(*) FROM stream_queue WHERE sync = ?`, q.sync).Scan(&n); err != nil {
		return 0, fmt.Errorf("length of the change queue of sync %s: %w", q.sync, err)
	}
	return n, nil
}

// Clear empties the queue: for a reset sync, whose next run sends every
// row anyway.
func (q *StreamQueue) Clear(ctx context.Context) error {
	if _, err := q.s.exec(ctx, `DELETE FROM stream_queue WHERE sync = ?`, q.sync); err != nil {
		return fmt.Errorf("clear the change queue of sync %s: %w", q.sync, err)
	}
	return nil
}

// StreamQueueLens returns the length of every non-empty change queue, by
// sync, in one query: for a metric of all syncs.
func (s *Store) StreamQueueLens(ctx context.Context) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT sync, count(*) FROM stream_queue GROUP BY sync`)
	if err != nil {
		return nil, fmt.Errorf("change queue lengths: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			sync string
			n    int64
		)
		if err := rows.Scan(&sync, &n); err != nil {
			return nil, fmt.Errorf("change queue lengths: %w", err)
		}
		out[sync] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("change queue lengths: %w", err)
	}
	return out, nil
}
