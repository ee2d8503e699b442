package worker

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/riptide-data/riptide/internal/state"
)

// ErrLeadershipLost is returned by Lead when the leader's database session
// ended under it: another process may lead by now, so this one must stop
// scheduling.
var ErrLeadershipLost = errors.New("lost the scheduler's leadership: its database session ended")

// Lead campaigns for the leadership until ctx ends: it holds a session
// advisory lock on a connection of its own, which PostgreSQL frees when
// the process dies, so another process takes over within a campaign
// interval. Once elected it calls elected (serve starts its scheduler)
// and every SweepEvery sweeps for runs whose worker died and calls
// Review. It returns nil
// when ctx ends, and ErrLeadershipLost when the session is lost: the
// caller stops (a restarted process campaigns again) rather than schedule
// beside a new leader.
func (q *Queue) Lead(ctx context.Context, elected func() error) error {
	conn, err := q.campaign(ctx)
	if err != nil || conn == nil {
		return err
	}
	defer func() {
		// Ending the session frees the lock, whatever state it is in.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	q.cfg.Logger.Info("elected to schedule", "worker", q.cfg.ID)
	if err := elected(); err != nil {
		return err
	}
	tick := time.NewTicker(q.cfg.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := conn.PingContext(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%w: %v", ErrLeadershipLost, err)
		}
		if err := q.sweep(ctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Error("look for runs whose worker died", "error", err)
		}
		if q.cfg.Review != nil {
			if err := q.cfg.Review(ctx); err != nil && ctx.Err() == nil {
				q.cfg.Logger.Error("queue the syncs whose upstream syncs succeeded", "error", err)
			}
		}
	}
}

// campaign waits for the leader's lock; it returns the connection holding
// it, or nil when ctx ended first.
func (q *Queue) campaign(ctx context.Context) (*sql.Conn, error) {
	key := lockKey("scheduler leader")
	for {
		conn, err := q.db.Conn(ctx)
		if err == nil {
			var ok bool
			err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok)
			if err == nil && ok {
				return conn, nil
			}
			conn.Close()
		}
		if err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("campaign for the scheduler's leadership", "error", err)
		}
		t := time.NewTimer(q.cfg.SweepEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
	}
}

// sweep queues again the runs whose worker died. A run's record says
// running only while its worker holds the sync's advisory lock (the engine
// takes the lock before it marks the run running and records the end
// before it lets go), and PostgreSQL frees the lock when the worker's
// session ends, at once on kill -9 (the socket closes) or, on a machine
// that vanished, when TCP keepalive gives up. So a run recorded running
// whose lock the sweep can take has no worker: under that lock, the sweep
// reads the record again, sets it back to queued and inserts a job for
// the same run ID in one transaction. The worker that takes the job runs
// the sync again, which resumes from its snapshot in PostgreSQL: every
// batch the destination acknowledged was recorded there before it
// counted, so only the batches in flight when the worker died are sent
// again. River's own rescue of stuck jobs was not used: it goes by a
// fixed time since the job started, which a long run outlasts, and it
// would hold a dead worker's run for that long.
//
// A worker can also die between taking a job and taking the sync's lock:
// the run is still recorded queued and its job stays running. The sweep
// queues such a run again once its worker's liveness lock is free
// (requeueStranded).
func (q *Queue) sweep(ctx context.Context) error {
	runs, err := q.cfg.Store.FindRuns(ctx, state.RunFilter{Status: state.StatusRunning, Limit: 1000})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if err := q.resume(ctx, r); err != nil {
			q.cfg.Logger.Error("queue a run whose worker died", "sync", r.Sync, "run", r.ID, "error", err)
		}
	}
	stranded, err := q.strandedJobs(ctx)
	if err != nil {
		return err
	}
	for _, s := range stranded {
		if err := q.requeueStranded(ctx, s); err != nil {
			q.cfg.Logger.Error("queue a run whose worker died before it began", "sync", s.sync, "run", s.run, "error", err)
		}
	}
	return nil
}

func (q *Queue) resume(ctx context.Context, r *state.Run) error {
	storage := q.cfg.Store.SnapshotStorage(r.Sync)
	release, ok, err := storage.TryLock(ctx)
	if err != nil || !ok {
		return err // held: its worker lives
	}
	defer func() {
		if err := release(); err != nil {
			q.cfg.Logger.Warn("release a sync after looking at it", "sync", r.Sync, "error", err)
		}
	}()
	cur, err := q.cfg.Store.GetRun(ctx, r.ID)
	if err != nil || cur.Status != state.StatusRunning {
		return err // it ended between the two looks
	}
	cur.Status, cur.Error = state.StatusQueued, "resuming: the worker running it stopped"
	err = q.cfg.Store.InTx(ctx, func(tx *sql.Tx) error {
		if err := q.cfg.Store.SaveRunTx(ctx, tx, cur); err != nil {
			return err
		}
		_, err := q.client.InsertTx(ctx, tx, RunArgs{Sync: cur.Sync, RunID: cur.ID, FullResync: cur.FullResync, Resume: true}, nil)
		return err
	})
	if err != nil {
		return err
	}
	q.cfg.Logger.Warn("run queued again: the worker running it stopped", "sync", cur.Sync, "run", cur.ID)
	return nil
}
