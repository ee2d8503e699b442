package streamsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SlotLag is how many bytes of write-ahead log the server keeps for a
// slot that its stream has not acknowledged: what a stream that is down or
// behind has yet to deliver (and the disk it holds on the database
// server). ok is false when the slot does not exist (yet).
func SlotLag(ctx context.Context, url, slot string) (lag int64, ok bool, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, false, fmt.Errorf("connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lag)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the lag of slot %s: %s", slot, rootCause(err))
	}
	return lag, true, nil
}
