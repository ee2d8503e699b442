package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrLockLost is returned by a snapshot write of a process whose sync lock
// is no longer its own: its lock session ended (a dropped connection, a
// terminated backend) while the process lived on, and another process may
// have taken the sync since. The write did not happen, so the batch it
// records does not count.
var ErrLockLost = errors.New("this process no longer holds the sync's lock: its lock session ended and the sync may be another process's now")

// bumpEpoch starts a new epoch of the sync's lock, on the connection that
// has just taken the lock: from now on only writes carrying the returned
// epoch are accepted.
func (ss *SnapshotStorage) bumpEpoch(ctx context.Context, conn *sql.Conn) (int64, error) {
	var epoch int64
	err := conn.QueryRowContext(ctx, `INSERT INTO sync_epochs (sync, epoch) VALUES ($1, 1)
		ON CONFLICT (sync) DO UPDATE SET epoch = sync_epochs.epoch + 1 RETURNING epoch`, ss.sync).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("start the lock epoch of sync %s: %w", ss.sync, err)
	}
	return epoch, nil
}

// checkEpoch fails with ErrLockLost unless the sync's lock epoch is still
// the one this storage's TryLock started. The epoch row stays share-locked
// until tx ends, so a process taking the sync meanwhile waits for this
// write to commit before its epoch begins: a write either lands before the
// new holder reads the snapshot or is refused.
func (ss *SnapshotStorage) checkEpoch(ctx context.Context, tx *sql.Tx) error {
	mine := ss.epoch.Load()
	if mine == 0 {
		return fmt.Errorf("write the snapshot of sync %s: its lock was never taken here: %w", ss.sync, ErrLockLost)
	}
	var cur int64
	err := tx.QueryRowContext(ctx, `SELECT epoch FROM sync_epochs WHERE sync = $1 FOR SHARE`, ss.sync).Scan(&cur)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check the lock epoch of sync %s: %w", ss.sync, err)
	}
	if cur != mine {
		return fmt.Errorf("write the snapshot of sync %s (lock epoch %d, now %d): %w", ss.sync, mine, cur, ErrLockLost)
	}
	return nil
}
