package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/state"
)

// DefaultPostgresURL is the admin connection `riptide bench workers`
// creates its database through unless told otherwise.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// WorkersResult is what `riptide bench workers` reports: N syncs of one
// generated model triggered at once on W `riptide serve` processes
// sharing a PostgreSQL state store.
type WorkersResult struct {
	Workers int `json:"workers"`
	Syncs   int `json:"syncs"`
	// Rows is the model's size; every sync sends all of them.
	Rows int `json:"rows"`
	// Database is the state store's database, created for the run and
	// dropped after it.
	Database string `json:"database"`
	// Seconds is the wall time from the first trigger until the bench saw
	// every run finished.
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	// Received is what the webhook receiver accepted, all syncs together.
	Received int `json:"received"`
	// WorkersUsed is how many of the processes ran at least one run.
	WorkersUsed int         `json:"workers_used"`
	Runs        []WorkerRun `json:"runs"`
}

// WorkerRun is one sync's run and the process that carried it out.
type WorkerRun struct {
	Sync      string  `json:"sync"`
	RunID     string  `json:"run_id"`
	Status    string  `json:"status"`
	Succeeded uint64  `json:"succeeded"`
	Failed    uint64  `json:"failed"`
	Seconds   float64 `json:"seconds"`
	// Worker is the index (0-based) of the serve process that ran it, -1
	// when River's job names none of them; WorkerID is River's name for
	// it (hostname-pid).
	Worker   int    `json:"worker"`
	WorkerID string `json:"worker_id"`
	// Attempts above 1 mean the job was snoozed or resumed.
	Attempts int `json:"attempts"`
	// Phases are the run's own timings, to see where the time went.
	Phases []state.Phase `json:"phases"`
}

// Generate writes the benchmark's model of n rows to a DuckDB database at
// path (the table customers, as every benchmark uses).
func Generate(ctx context.Context, path string, n int) error {
	if n <= 0 {
		return fmt.Errorf("generate a model of %d rows: need at least one", n)
	}
	if err := generate(ctx, path, n); err != nil {
		return fmt.Errorf("generate a model of %d rows in %s: %w", n, path, err)
	}
	return nil
}

// TempPostgres creates an empty database through the admin connection at
// adminURL and returns its URL, its name and a function that drops it.
func TempPostgres(ctx context.Context, adminURL string) (dbURL, name string, drop func(), err error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", nil, errors.New("--pg: give the admin connection as postgres://user@host:port/db")
	}
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return "", "", nil, errors.New("--pg: not a PostgreSQL URL (postgres://user@host:port/db)")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return "", "", nil, fmt.Errorf("connect to PostgreSQL on %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = "riptide_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), name, drop, nil
}

// RunWorkers reads from River's job rows which worker (River's client ID,
// hostname-pid) last worked each run, and how many attempts it took, by
// run ID.
func RunWorkers(ctx context.Context, stateURL string) (map[string]WorkerRun, error) {
	conn, err := pgx.Connect(ctx, stateURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the state store: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT args->>'run_id', coalesce(attempted_by[array_length(attempted_by, 1)], ''), attempt
		FROM river_job WHERE kind = 'sync_run'`)
	if err != nil {
		return nil, fmt.Errorf("read the runs' jobs: %w", err)
	}
	out := map[string]WorkerRun{}
	for rows.Next() {
		var r WorkerRun
		if err := rows.Scan(&r.RunID, &r.WorkerID, &r.Attempts); err != nil {
			return nil, fmt.Errorf("read the runs' jobs: %w", err)
		}
		out[r.RunID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the runs' jobs: %w", err)
	}
	return out, nil
}

// WorkerIndex is the index of the process (on this host) whose pid River's
// client ID names, or -1. The ID is hostname-pid, optionally followed by
// -suffix.
func WorkerIndex(workerID string, pids []int) int {
	host, _ := os.Hostname()
	for i, pid := range pids {
		rest, ok := strings.CutPrefix(workerID, fmt.Sprintf("%s-%d", host, pid))
		if ok && (rest == "" || rest[0] == '-') {
			return i
		}
	}
	return -1
}
