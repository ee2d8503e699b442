package worker

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/riptide-data/riptide/internal/state"
)

// Each working process holds a session advisory lock named by its worker
// ID (River's client ID, which River writes into attempted_by of every
// job it takes) from before it fetches a job until it stops. PostgreSQL
// frees the lock when the process dies, so "this ID's lock is free" is
// "no live process works under this ID": the sweep's test for a job
// whose worker died before its run took the sync lock.

func aliveKey(id string) int64 { return lockKey("worker alive " + id) }

// holdAlive takes this process's liveness lock on a connection of its
// own, kept until the returned release.
func (q *Queue) holdAlive(ctx context.Context) (func(), error) {
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("register worker %s: %w", q.cfg.ID, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, aliveKey(q.cfg.ID)).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("register worker %s: %w", q.cfg.ID, err)
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("register worker %s: a live process already works under this ID; give each process its own", q.cfg.ID)
	}
	return func() {
		// Ending the session frees the lock, whatever state it is in.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}, nil
}

// workerAlive reports whether a process holds id's liveness lock, by
// trying to take it (and giving it straight back) on a connection of its
// own.
func (q *Queue) workerAlive(ctx context.Context, id string) (bool, error) {
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var free bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, aliveKey(id)).Scan(&free); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return false, err
	}
	if free {
		var unlocked bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, aliveKey(id)).Scan(&unlocked); err != nil || !unlocked {
			// Never hand a session holding a dead worker's lock back to
			// the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	return !free, nil
}

// strandedJob is a run still recorded queued whose job a worker took
// (River says running) before dying: the run never began, so the running
// sweep does not see it, and River would hold the job for an hour.
type strandedJob struct {
	run, sync string
	job       int64
	worker    string
	full      bool
}

func (q *Queue) strandedJobs(ctx context.Context) ([]strandedJob, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT r.id, r.sync, j.id, coalesce(j.attempted_by[cardinality(j.attempted_by)], ''),
			coalesce((j.args->>'full_resync')::boolean, false)
		FROM runs r JOIN river_job j ON j.args->>'run_id' = r.id
		WHERE r.status = $1 AND j.kind = $2 AND j.state = 'running' LIMIT 1000`, state.StatusQueued, Kind)
	if err != nil {
		return nil, fmt.Errorf("find queued runs whose job is running: %w", err)
	}
	defer rows.Close()
	var out []strandedJob
	for rows.Next() {
		var s strandedJob
		if err := rows.Scan(&s.run, &s.sync, &s.job, &s.worker, &s.full); err != nil {
			return nil, fmt.Errorf("find queued runs whose job is running: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// requeueStranded queues again, once, a queued run whose job's worker is
// gone: while the sync's lock is free (no worker runs the sync, not even
// one that lost only its liveness session), in one transaction under the
// lock Enqueue takes for the sync, it finds the job still running, ends
// it (discarded, as River's rescuer would have) and inserts a job for the
// same run ID. A second sweep finds no running job, so never adds another.
func (q *Queue) requeueStranded(ctx context.Context, s strandedJob) error {
	if s.worker == "" {
		return nil // River records the worker as it takes the job
	}
	alive, err := q.workerAlive(ctx, s.worker)
	if err != nil || alive {
		return err
	}
	release, ok, err := q.cfg.Store.SnapshotStorage(s.sync).TryLock(ctx)
	if err != nil || !ok {
		return err // held: a worker runs the sync
	}
	defer func() {
		if err := release(); err != nil {
			q.cfg.Logger.Warn("release a sync after looking at it", "sync", s.sync, "error", err)
		}
	}()
	requeued := false
	err = q.cfg.Store.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("queue "+s.sync)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE id = $1 AND state = 'running'`, s.job)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // River or another sweep finished it meanwhile
		}
		var status string
		err = tx.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = $1`, s.run).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && status != string(state.StatusQueued)) {
			return nil // the run went on; its stuck job is merely ended
		}
		if err != nil {
			return err
		}
		if _, err := q.client.InsertTx(ctx, tx, RunArgs{Sync: s.sync, RunID: s.run, FullResync: s.full, Resume: true}, nil); err != nil {
			return err
		}
		requeued = true
		return nil
	})
	if err != nil {
		return err
	}
	if requeued {
		q.cfg.Logger.Warn("run queued again: the worker that took it stopped before it began", "sync", s.sync, "run", s.run, "worker", s.worker)
	}
	return nil
}

// Depth is how many runs wait for a worker across every process: the
// sync_run jobs River holds available or scheduled (a snoozed job is
// scheduled until its wait ends).
func (q *Queue) Depth(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state IN ('available', 'scheduled')`, Kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count queued runs: %w", err)
	}
	return n, nil
}
