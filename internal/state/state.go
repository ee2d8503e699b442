// Package state keeps Riptide's run history and per-sync bookkeeping: runs
// with their counts, phase timings and status, the first row errors of
// each run, and what each sync last ran with. The embedded store is SQLite
// (modernc, pure Go) in WAL mode under the project's .riptide directory,
// which survives a process crash at any point; the shared store is
// PostgreSQL, which several processes on several machines use at once and
// which also keeps the syncs' snapshots (SnapshotStorage).
package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Run statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusPartial   = "partial" // finished, some rows failed
	StatusFailed    = "failed"
)

// MaxRowErrors is how many row errors a run keeps.
const MaxRowErrors = 1000

// MaxRequests is how many requests a run's request log keeps: the first
// ones, which show how the destination answered (bodies are capped by the
// recorder).
const MaxRequests = 500

// Counts are a run's figures.
type Counts struct {
	Rows      uint64 `json:"rows"`
	Added     uint64 `json:"added"`
	Changed   uint64 `json:"changed"`
	Removed   uint64 `json:"removed"`
	Unchanged uint64 `json:"unchanged"`
	Rejected  uint64 `json:"rejected"`
	Skipped   uint64 `json:"skipped"`
	Planned   uint64 `json:"planned"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
}

// Phase is the time one phase of a run took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Run is one execution of a sync.
type Run struct {
	ID          string     `json:"id"`
	Sync        string     `json:"sync"`
	Model       string     `json:"model"`
	Destination string     `json:"destination"`
	Status      string     `json:"status"`
	FullResync  bool       `json:"full_resync"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Counts      Counts     `json:"counts"`
	Phases      []Phase    `json:"phases"`
	Error       string     `json:"error,omitempty"`
	// RowErrors counts every row error of the run, including those past
	// MaxRowErrors that were not kept.
	RowErrors uint64 `json:"row_errors"`
	// Requests counts the requests the destination made, including those
	// past MaxRequests that the request log did not keep.
	Requests uint64 `json:"requests"`
}

// RowError is one row that was rejected or failed.
type RowError struct {
	Key   string `json:"key"`
	Op    string `json:"op,omitempty"`
	Phase string `json:"phase"` // validate or load
	Error string `json:"error"`
}

// SyncState is what a sync's last completed run was configured with.
type SyncState struct {
	Sync        string
	MappingHash string
	PrimaryKey  string
	LastRows    uint64
}

// Store is the state database.
type Store struct {
	db      *sql.DB
	dialect dialect
	box     *SecretBox // encrypts secrets at rest when set (UseSecretBox)
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// timeFormat is how times are stored: always UTC with nine fraction
// digits, so that text order is time order (ListRuns sorts on started_at;
// RFC 3339 with trimmed fractions sorts "05.5Z" before "05Z"). Stored times
// are read with time.RFC3339Nano, which also accepts the trimmed form older
// stores hold.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// SaveRun inserts or updates a run.
func (s *Store) SaveRun(ctx context.Context, r *Run) error {
	return s.saveRun(ctx, s.db, r)
}

// SaveRunTx saves a run within tx, so that a caller can commit it with
// work of its own (a job queue inserting the run's job); PostgreSQL only.
func (s *Store) SaveRunTx(ctx context.Context, tx *sql.Tx, r *Run) error {
	return s.saveRun(ctx, tx, r)
}

// execer is what saveRun writes through: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func (s *Store) saveRun(ctx context.Context, ex execer, r *Run) error {
	counts, _ := json.Marshal(r.Counts)
	phases, _ := json.Marshal(r.Phases)
	var finished any
	if r.FinishedAt != nil {
		finished = r.FinishedAt.UTC().Format(timeFormat)
	}
	_, err := ex.ExecContext(ctx, s.dialect.rebind(`
		INSERT INTO runs (id, sync, model, destination, status, full_resync, started_at, finished_at, counts, phases, error, row_errors, requests)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
			counts = excluded.counts, phases = excluded.phases, error = excluded.error, row_errors = excluded.row_errors,
			requests = excluded.requests`),
		r.ID, r.Sync, r.Model, r.Destination, r.Status, r.FullResync, r.StartedAt.UTC().Format(timeFormat),
		finished, string(counts), string(phases), r.Error, r.RowErrors, r.Requests)
	if err != nil {
		return fmt.Errorf("save run %s: %w", r.ID, err)
	}
	return nil
}

// AddRowErrors stores row errors of a run, numbered from first (the number
// of errors the run already has); errors past MaxRowErrors are dropped.
func (s *Store) AddRowErrors(ctx context.Context, runID string, first uint64, errs []RowError) error {
	if first >= MaxRowErrors || len(errs) == 0 {
		return nil
	}
	if room := MaxRowErrors - first; uint64(len(errs)) > room {
		errs = errs[:room]
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save row errors: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.dialect.rebind(`INSERT INTO row_errors (run_id, seq, key, op, phase, error) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, seq) DO UPDATE SET key = excluded.key, op = excluded.op, phase = excluded.phase, error = excluded.error`))
	if err != nil {
		return fmt.Errorf("save row errors: %w", err)
	}
	defer stmt.Close()
	for i, e := range errs {
		if _, err := stmt.ExecContext(ctx, runID, first+uint64(i), e.Key, e.Op, e.Phase, e.Error); err != nil {
			return fmt.Errorf("save row errors: %w", err)
		}
	}
	return tx.Commit()
}

const runColumns = `id, sync, model, destination, status, full_resync, started_at, finished_at, counts, phases, error, row_errors, requests`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var (
		r              Run
		started        string
		finished       sql.NullString
		counts, phases string
	)
	if err := row.Scan(&r.ID, &r.Sync, &r.Model, &r.Destination, &r.Status, &r.FullResync, &started, &finished, &counts, &phases, &r.Error, &r.RowErrors, &r.Requests); err != nil {
		return nil, err
	}
	r.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
	if finished.Valid {
		t, _ := time.Parse(time.RFC3339Nano, finished.String)
		r.FinishedAt = &t
	}
	_ = json.Unmarshal([]byte(counts), &r.Counts)
	_ = json.Unmarshal([]byte(phases), &r.Phases)
	return &r, nil
}

// ListRuns returns the latest runs, newest first, of one sync or of all
// ("").
func (s *Store) ListRuns(ctx context.Context, sync string, limit int) ([]*Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs`
	var args []any
	if sync != "" {
		q += ` WHERE sync = ?`
		args = append(args, sync)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNotFound is returned for an unknown run.
var ErrNotFound = errors.New("not found")

// GetRun returns a run by ID or by an unambiguous prefix of its ID.
func (s *Store) GetRun(ctx context.Context, id string) (*Run, error) {
	// A whole ID is one primary-key lookup; only a prefix (typed by a
	// user) scans, since LIKE cannot use the key's index.
	rows, err := s.query(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	if rows.Next() {
		r, err := scanRun(rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("get run: %w", err)
		}
		return r, nil
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	rows, err = s.query(ctx, `SELECT `+runColumns+` FROM runs WHERE id LIKE ? ESCAPE '\' ORDER BY id LIMIT 2`,
		escapeLike(id)+"%")
	if err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	defer rows.Close()
	var found []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("get run: %w", err)
		}
		if r.ID == id {
			return r, nil
		}
		found = append(found, r)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("run %q is ambiguous: give more of the ID", id)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// RowErrors returns a run's stored row errors in order.
func (s *Store) RowErrors(ctx context.Context, runID string, limit, offset int) ([]RowError, error) {
	rows, err := s.query(ctx, `SELECT key, op, phase, error FROM row_errors WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?`, runID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("row errors: %w", err)
	}
	defer rows.Close()
	var out []RowError
	for rows.Next() {
		var e RowError
		if err := rows.Scan(&e.Key, &e.Op, &e.Phase, &e.Error); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MarkInterrupted fails the runs of a sync still recorded as running but
// for the runs in keep (those about to start): the caller holds the sync's
// lock, so no process runs them; the process that did stopped (crash or
// kill). Queued runs are left: a scheduler or a job queue holds them.
func (s *Store) MarkInterrupted(ctx context.Context, sync string, keep ...string) error {
	q := `UPDATE runs SET status = ?, error = ?, finished_at = COALESCE(finished_at, ?)
		WHERE sync = ? AND status = ?`
	args := []any{StatusFailed, "interrupted: the process running it stopped (crash or kill); the next run resends what was not acknowledged",
		time.Now().UTC().Format(timeFormat), sync, StatusRunning}
	for _, id := range keep {
		q += ` AND id <> ?`
		args = append(args, id)
	}
	if _, err := s.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("mark interrupted runs of %s: %w", sync, err)
	}
	return nil
}

// FailQueued fails every run still recorded as queued, with reason: a
// process starting its own scheduler over an embedded store finds there
// the runs queued by one that stopped without starting them.
func (s *Store) FailQueued(ctx context.Context, reason string) (int64, error) {
	res, err := s.exec(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = COALESCE(finished_at, ?) WHERE status = ?`,
		StatusFailed, reason, time.Now().UTC().Format(timeFormat), StatusQueued)
	if err != nil {
		return 0, fmt.Errorf("fail queued runs: %w", err)
	}
	return res.RowsAffected()
}

// SyncState returns what the sync last ran with; ok is false for a sync
// that never completed a run.
func (s *Store) SyncState(ctx context.Context, sync string) (SyncState, bool, error) {
	st := SyncState{Sync: sync}
	err := s.queryRow(ctx, `SELECT mapping_hash, primary_key, last_rows FROM sync_state WHERE sync = ?`, sync).
		Scan(&st.MappingHash, &st.PrimaryKey, &st.LastRows)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("sync state of %s: %w", sync, err)
	}
	return st, true, nil
}

// SetSyncState records what a sync's completed run used.
func (s *Store) SetSyncState(ctx context.Context, st SyncState) error {
	_, err := s.exec(ctx, `INSERT INTO sync_state (sync, mapping_hash, primary_key, last_rows) VALUES (?, ?, ?, ?)
		ON CONFLICT (sync) DO UPDATE SET mapping_hash = excluded.mapping_hash, primary_key = excluded.primary_key, last_rows = excluded.last_rows`,
		st.Sync, st.MappingHash, st.PrimaryKey, st.LastRows)
	if err != nil {
		return fmt.Errorf("save sync state of %s: %w", st.Sync, err)
	}
	return nil
}

// ResetSync forgets a sync's bookkeeping (its run history stays).
func (s *Store) ResetSync(ctx context.Context, sync string) error {
	_, err := s.exec(ctx, `DELETE FROM sync_state WHERE sync = ?`, sync)
	if err != nil {
		return fmt.Errorf("reset sync state of %s: %w", sync, err)
	}
	return nil
}

// Request is one entry of a run's request log.
type Request struct {
	Seq          uint64    `json:"seq"`
	At           time.Time `json:"at"`
	Method       string    `json:"method"`
	URL          string    `json:"url"`
	Status       int       `json:"status"`
	LatencyMS    float64   `json:"latency_ms"`
	RequestBody  string    `json:"request_body"`
	ResponseBody string    `json:"response_body"`
	Error        string    `json:"error,omitempty"`
}

// AddRequests stores request log entries of a run; entries numbered past
// MaxRequests are dropped.
func (s *Store) AddRequests(ctx context.Context, runID string, reqs []Request) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save requests: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.dialect.rebind(`INSERT INTO requests (run_id, seq, at, method, url, status, latency_ms, request_body, response_body, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, seq) DO UPDATE SET at = excluded.at, method = excluded.method, url = excluded.url, status = excluded.status,
			latency_ms = excluded.latency_ms, request_body = excluded.request_body, response_body = excluded.response_body, error = excluded.error`))
	if err != nil {
		return fmt.Errorf("save requests: %w", err)
	}
	defer stmt.Close()
	for _, r := range reqs {
		if r.Seq >= MaxRequests {
			continue
		}
		if _, err := stmt.ExecContext(ctx, runID, r.Seq, r.At.UTC().Format(timeFormat), r.Method, r.URL, r.Status,
			r.LatencyMS, r.RequestBody, r.ResponseBody, r.Error); err != nil {
			return fmt.Errorf("save requests: %w", err)
		}
	}
	return tx.Commit()
}

// Requests returns a run's request log in order.
func (s *Store) Requests(ctx context.Context, runID string, limit, offset int) ([]Request, error) {
	rows, err := s.query(ctx, `SELECT seq, at, method, url, status, latency_ms, request_body, response_body, error
		FROM requests WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?`, runID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		var r Request
		var at string
		if err := rows.Scan(&r.Seq, &at, &r.Method, &r.URL, &r.Status, &r.LatencyMS, &r.RequestBody, &r.ResponseBody, &r.Error); err != nil {
			return nil, err
		}
		r.At, _ = time.Parse(timeFormat, at)
		out = append(out, r)
	}
	return out, rows.Err()
}
