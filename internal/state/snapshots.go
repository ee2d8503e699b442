package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync/atomic"
	"time"
)

// SnapshotStorage keeps one sync's snapshot in the shared store: the head
// last published, the base of that generation in chunks and the delta
// groups appended since, one row per acknowledged batch. It is the durable
// copy the diff package's Storage describes; the snapshot's local
// directory is a cache of it.
type SnapshotStorage struct {
	db   *sql.DB
	sync string
	// epoch is the lock epoch TryLock started (0 before): every write
	// checks it is still the sync's (checkEpoch).
	epoch atomic.Int64
}

// snapshotChunk is the size of the rows a base is stored in: small enough
// for one statement, large enough to keep rows few.
const snapshotChunk = 1 << 20

// SnapshotStorage returns the storage of a sync's snapshot, or nil when
// the store is the embedded one, whose snapshots live in files only.
func (s *Store) SnapshotStorage(sync string) *SnapshotStorage {
	if !s.Shared() {
		return nil
	}
	return &SnapshotStorage{db: s.db, sync: sync}
}

// lockKey is the advisory lock of a sync: a hash of its name, in a space
// of its own (the prefix) so that it never meets another lock of ours.
func (ss *SnapshotStorage) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("riptide snapshot\x00" + ss.sync))
	return int64(h.Sum64())
}

// TryLock takes the sync's session-level advisory lock on a connection
// kept for as long as the lock is held; PostgreSQL drops the lock when
// that session ends, so a worker that dies frees the sync. Taking it
// starts a new lock epoch, which this storage's writes then carry: a
// process that lost its session without noticing cannot write once
// another has taken the sync.
func (ss *SnapshotStorage) TryLock(ctx context.Context) (func() error, bool, error) {
	conn, err := ss.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock sync %s: %w", ss.sync, err)
	}
	key := ss.lockKey()
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock sync %s: %w", ss.sync, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	epoch, err := ss.bumpEpoch(ctx, conn)
	if err != nil {
		// Ending the session frees the lock.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
		return nil, false, err
	}
	ss.epoch.Store(epoch)
	release := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
		defer cancel()
		var unlocked bool
		err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&unlocked)
		if err != nil || !unlocked {
			// The session must not go back to the pool still holding
			// the lock: discard it, which ends the session.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
		if err != nil {
			return fmt.Errorf("unlock sync %s: %w", ss.sync, err)
		}
		return nil
	}
	return release, true, nil
}

// storageTimeout bounds giving a lock back after the caller's context is
// gone.
const storageTimeout = 30 * time.Second

// Head returns the head last published, nil when none was.
func (ss *SnapshotStorage) Head(ctx context.Context) ([]byte, error) {
	var head []byte
	err := ss.db.QueryRowContext(ctx, `SELECT head FROM snapshot_heads WHERE sync = $1`, ss.sync).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot head of %s: %w", ss.sync, err)
	}
	return head, nil
}

// ReadBase writes the base of generation gen to w, chunk by chunk.
func (ss *SnapshotStorage) ReadBase(ctx context.Context, gen uint64, w io.Writer) error {
	rows, err := ss.db.QueryContext(ctx, `SELECT data FROM snapshot_chunks WHERE sync = $1 AND generation = $2 ORDER BY seq`, ss.sync, gen)
	if err != nil {
		return fmt.Errorf("read snapshot of %s: %w", ss.sync, err)
	}
	defer rows.Close()
	var chunk []byte
	for rows.Next() {
		if err := rows.Scan(&chunk); err != nil {
			return fmt.Errorf("read snapshot of %s: %w", ss.sync, err)
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read snapshot of %s: %w", ss.sync, err)
	}
	return nil
}

// Deltas calls fn with each delta group of generation gen, in order.
func (ss *SnapshotStorage) Deltas(ctx context.Context, gen uint64, fn func([]byte) error) error {
	rows, err := ss.db.QueryContext(ctx, `SELECT data FROM snapshot_deltas WHERE sync = $1 AND generation = $2 ORDER BY seq`, ss.sync, gen)
	if err != nil {
		return fmt.Errorf("read snapshot delta of %s: %w", ss.sync, err)
	}
	defer rows.Close()
	var group []byte
	for rows.Next() {
		if err := rows.Scan(&group); err != nil {
			return fmt.Errorf("read snapshot delta of %s: %w", ss.sync, err)
		}
		if err := fn(group); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read snapshot delta of %s: %w", ss.sync, err)
	}
	return nil
}

// ErrSnapshotMoved is returned when appending to a generation that is no
// longer the published one: another process took the sync over.
var ErrSnapshotMoved = errors.New("the snapshot moved on to another generation: another process took the sync over")

// AppendDelta records one group, committed when it returns, provided gen
// is still the published generation and this storage still holds the
// sync's lock epoch.
func (ss *SnapshotStorage) AppendDelta(ctx context.Context, gen uint64, group []byte) error {
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record snapshot delta of %s: %w", ss.sync, err)
	}
	defer tx.Rollback()
	if err := ss.checkEpoch(ctx, tx); err != nil {
		return fmt.Errorf("record snapshot delta: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO snapshot_deltas (sync, generation, data)
		SELECT $1::text, $2::bigint, $3::bytea WHERE EXISTS (SELECT 1 FROM snapshot_heads WHERE sync = $1 AND generation = $2)`,
		ss.sync, gen, group)
	if err != nil {
		return fmt.Errorf("record snapshot delta of %s: %w", ss.sync, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record snapshot delta of %s (generation %d): %w", ss.sync, gen, ErrSnapshotMoved)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record snapshot delta of %s: %w", ss.sync, err)
	}
	return nil
}

// Publish replaces the sync's snapshot by generation gen, its base read
// from base (nil for none), in one transaction: a crash leaves the old
// generation with its delta or the new one, never a mixture. Like
// AppendDelta, it needs this storage's lock epoch to be the sync's.
func (ss *SnapshotStorage) Publish(ctx context.Context, gen uint64, head []byte, base io.Reader) error {
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("publish snapshot of %s: %w", ss.sync, err)
	}
	defer tx.Rollback()
	if err := ss.checkEpoch(ctx, tx); err != nil {
		return fmt.Errorf("publish snapshot: %w", err)
	}
	for _, q := range []string{`DELETE FROM snapshot_chunks WHERE sync = $1`, `DELETE FROM snapshot_deltas WHERE sync = $1`} {
		if _, err := tx.ExecContext(ctx, q, ss.sync); err != nil {
			return fmt.Errorf("publish snapshot of %s: %w", ss.sync, err)
		}
	}
	if base != nil {
		buf := make([]byte, snapshotChunk)
		for seq := 0; ; seq++ {
			n, rerr := io.ReadFull(base, buf)
			if n > 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_chunks (sync, generation, seq, data) VALUES ($1, $2, $3, $4)`,
					ss.sync, gen, seq, buf[:n]); err != nil {
					return fmt.Errorf("publish snapshot of %s: %w", ss.sync, err)
				}
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				return fmt.Errorf("publish snapshot of %s: read base: %w", ss.sync, rerr)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_heads (sync, generation, head) VALUES ($1, $2, $3)
		ON CONFLICT (sync) DO UPDATE SET generation = excluded.generation, head = excluded.head`, ss.sync, gen, head); err != nil {
		return fmt.Errorf("publish snapshot of %s: %w", ss.sync, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("publish snapshot of %s: %w", ss.sync, err)
	}
	return nil
}
