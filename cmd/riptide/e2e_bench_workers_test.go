package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/bench"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestE2EBenchWorkers: `riptide bench workers` with two serve processes
// and two syncs delivers every record of both runs, says which of its
// processes ran each, exits 0 and drops the database it created.
func TestE2EBenchWorkers(t *testing.T) {
	t.Parallel()
	const rows, syncs, workers = 2000, 2, 2
	// The bench creates its own database through this connection.
	admin := testsvc.PostgresURL(t)
	out, err := exec.Command(riptideBin(t), "--json", "bench", "workers", "--pg", admin,
		"--workers", "2", "--syncs", "2", "--rows", "2000", "--timeout", "2m").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("bench workers: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var r bench.WorkersResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Workers != workers || r.Syncs != syncs || r.Rows != rows || len(r.Runs) != syncs {
		t.Fatalf("result: %s", out)
	}
	if r.Received < rows*syncs || r.Seconds <= 0 || r.RecordsPerSecond <= 0 || r.WorkersUsed < 1 {
		t.Errorf("received %d of %d records in %.3fs (%.0f/s), %d workers used", r.Received, rows*syncs, r.Seconds, r.RecordsPerSecond, r.WorkersUsed)
	}
	seen := map[string]bool{}
	for _, run := range r.Runs {
		if run.Status != "succeeded" || run.Succeeded != rows || run.Failed != 0 {
			t.Errorf("%s: %s, %d succeeded, %d failed", run.Sync, run.Status, run.Succeeded, run.Failed)
		}
		if run.Worker < 0 || run.Worker >= workers || run.WorkerID == "" || run.Attempts < 1 {
			t.Errorf("%s ran on worker %d (%q, %d attempts), not one of the bench's", run.Sync, run.Worker, run.WorkerID, run.Attempts)
		}
		seen[run.Sync] = true
	}
	if !seen["bench_1"] || !seen["bench_2"] {
		t.Errorf("runs of %v, want bench_1 and bench_2", seen)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, r.Database).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if r.Database == "" || left != 0 {
		t.Errorf("the bench's database %q is still there (%d)", r.Database, left)
	}
}

// TestE2EBenchWorkersBadFlags: a nonsensical count is refused before
// anything is started, naming the flag.
func TestE2EBenchWorkersBadFlags(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(riptideBin(t), "bench", "workers", "--workers", "0").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 || !strings.Contains(string(out), "--workers 0") {
		t.Fatalf("bench workers --workers 0: %v\n%s", err, out)
	}
}
