package worker

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// A destination's max_concurrent_syncs holds across every process: a run
// takes one of the destination's N slots, each a session advisory lock,
// for as long as it runs. A run that finds every slot taken waits (its job
// is snoozed) like one whose sync is busy. PostgreSQL frees a dead
// process's slots with its session.

func slotKey(dest string, i int) int64 {
	return lockKey(fmt.Sprintf("destination slot %s %d", dest, i))
}

// takeSlot takes a free slot of dest out of max, on a connection of its
// own kept until release; ok is false when all are taken.
func (q *Queue) takeSlot(ctx context.Context, dest string, max int) (release func(), ok bool, err error) {
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take a slot of destination %s: %w", dest, err)
	}
	for i := range max {
		var got bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, slotKey(dest, i)).Scan(&got); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			return nil, false, fmt.Errorf("take a slot of destination %s: %w", dest, err)
		}
		if got {
			return func() {
				// Ending the session frees the slot whatever happened
				// to the connection meanwhile.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				conn.Close()
			}, true, nil
		}
	}
	conn.Close()
	return nil, false, nil
}
