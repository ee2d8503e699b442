// Package bench measures Riptide on generated models: how fast a model
// scans, plans and syncs, and how much memory that takes. It backs the
// `riptide bench` command; its figures go in docs/BENCHMARKS.md.
package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/transform"
)

// PlanResult is what `riptide bench plan` reports.
type PlanResult struct {
	Rows        int     `json:"rows"`
	ChangedPct  float64 `json:"changed_pct"`
	Changed     uint64  `json:"changed"`
	ScanSeconds float64 `json:"scan_seconds"`
	PlanSeconds float64 `json:"plan_seconds"`
	// CPU time of the process (all threads) during each measurement.
	ScanCPUSeconds float64 `json:"scan_cpu_seconds"`
	PlanCPUSeconds float64 `json:"plan_cpu_seconds"`
	PlanOverScan   float64 `json:"plan_over_scan"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	// ScanPeakRSSBytes is the peak during the scan alone; PeakRSSBytes is
	// the plan's.
	ScanPeakRSSBytes int64 `json:"scan_peak_rss_bytes"`
	// BaselineRSSBytes is the process's resident size when the measurement
	// starts, after generating the model and the first sync.
	BaselineRSSBytes int64 `json:"baseline_rss_bytes"`
	GoMaxProcs       int   `json:"gomaxprocs"`
	// Phases are the plan's own timings (extract includes the scan).
	Phases []state.Phase `json:"phases"`
}

// SyncResult is what `riptide bench sync` reports.
type SyncResult struct {
	Rows              int     `json:"rows"`
	Seconds           float64 `json:"seconds"`
	RecordsPerSecond  float64 `json:"records_per_second"`
	Received          int64   `json:"received"`
	BatchSize         int     `json:"batch_size"`
	Concurrency       int     `json:"concurrency"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	RequestsPerSecond float64 `json:"requests_per_second"`
}

// generate writes a DuckDB database of n rows of the benchmark's model:
// id, email, first and last name, plan, a decimal, a timestamp and a
// short JSON text.
func generate(ctx context.Context, path string, n int) error {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf(`
		CREATE OR REPLACE TABLE customers AS
		SELECT
			i AS id,
			'user' || i || '@example.com' AS email,
			['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara'][1 + i %% 5] AS first_name,
			'Last' || (i %% 1000) AS last_name,
			['free', 'pro', 'team'][1 + i %% 3] AS plan,
			CAST((i %% 100000) / 100.0 AS DECIMAL(12, 2)) AS amount,
			TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS updated_at,
			'{"score":' || (i %% 97) || ',"tier":"t' || (i %% 4) || '"}' AS attrs
		FROM range(1, %d + 1) t(i)`, n))
	return err
}

// change alters pct percent of the rows, spread over the table.
func change(ctx context.Context, path string, pct float64) error {
	return execDuckDB(ctx, path, fmt.Sprintf(`UPDATE customers SET plan = plan || '-changed' WHERE hash(id) %% 10000 < %d`, int(pct*100)))
}

// execDuckDB runs one statement in the DuckDB file at path.
func execDuckDB(ctx context.Context, path, stmt string) error {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

type project struct {
	dir     string
	project *config.Project
	store   *state.Store
	engine  *engine.Engine
}

func newProject(ctx context.Context, dir string, dest *config.Destination) (*project, error) {
	srcSpec := builtin.Sources()["duckdb"].Spec
	p := &config.Project{
		Dir: dir,
		Sources: map[string]*config.Source{"warehouse": {
			Name: "warehouse", Type: "duckdb",
			Settings: srcSpec.WithDefaults(connector.Settings{"path": "bench.duckdb"}),
		}},
		Destinations: map[string]*config.Destination{dest.Name: dest},
		Models: map[string]*config.Model{"customers": {
			Name: "customers", Source: "warehouse", PrimaryKey: []string{"id"}, SQL: "select * from customers",
		}},
		Syncs: map[string]*config.Sync{"bench": {
			Name: "bench", Model: "customers", Destination: dest.Name, Mode: config.ModeUpsert,
			MapAll: true, MaxRejectedPct: 50,
		}},
	}
	stateDir := filepath.Join(dir, ".riptide")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	store, err := state.Open(ctx, filepath.Join(stateDir, "state.db"))
	if err != nil {
		return nil, err
	}
	return &project{dir: dir, project: p, store: store, engine: &engine.Engine{
		Project: p, Store: store, StateDir: stateDir,
		Sources: builtin.Sources(), Destinations: builtin.Destinations(),
		Redactor: redact.New(nil),
	}}, nil
}

// Plan runs the plan benchmark in a temporary directory.
func Plan(ctx context.Context, rows int, changedPct float64, profile func() (stop func())) (*PlanResult, error) {
	if profile == nil {
		profile = func() func() { return func() {} }
	}
	dir, err := os.MkdirTemp("", "riptide-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "bench.duckdb")
	if err := generate(ctx, db, rows); err != nil {
		return nil, fmt.Errorf("generate model: %w", err)
	}
	pr, err := newProject(ctx, dir, &config.Destination{Name: "hook", Type: "webhook",
		Settings: connector.Settings{"url": "http://127.0.0.1:9/unused"}})
	if err != nil {
		return nil, err
	}
	defer pr.store.Close()
	if err := syncAll(ctx, pr); err != nil {
		return nil, fmt.Errorf("first sync: %w", err)
	}
	if err := change(ctx, db, changedPct); err != nil {
		return nil, fmt.Errorf("change rows: %w", err)
	}
	quiesce()

	res := &PlanResult{Rows: rows, ChangedPct: changedPct, GoMaxProcs: runtime.GOMAXPROCS(0), BaselineRSSBytes: procStatus("VmRSS:")}
	start, cpu0 := time.Now(), cpuSeconds()
	n, err := scan(ctx, pr)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	res.ScanSeconds = time.Since(start).Seconds()
	res.ScanCPUSeconds = cpuSeconds() - cpu0
	res.ScanPeakRSSBytes = peakRSS()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	if n != rows {
		return nil, fmt.Errorf("scan read %d rows, want %d", n, rows)
	}
	stop := profile()
	start, cpu0 = time.Now(), cpuSeconds()
	results, err := pr.engine.Plan(ctx, []string{"bench"}, engine.Options{})
	stop()
	if err != nil {
		return nil, err
	}
	res.PlanSeconds = time.Since(start).Seconds()
	res.PlanCPUSeconds = cpuSeconds() - cpu0
	if r := results[0]; r.Err != nil {
		return nil, fmt.Errorf("plan: %w", r.Err)
	}
	res.Changed = results[0].Run.Counts.Changed
	res.Phases = results[0].Run.Phases
	res.PlanOverScan = res.PlanSeconds / res.ScanSeconds
	res.PeakRSSBytes = peakRSS()
	return res, nil
}

// scan reads the model through the source connector and does nothing
// else: the floor that planning is measured against.
func scan(ctx context.Context, pr *project) (int, error) {
	src := pr.project.Sources["warehouse"]
	s, err := builtin.Sources()[src.Type].New(ctx, src.Settings, pr.dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	rows, err := s.Query(ctx, pr.project.Models["customers"].SQL)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		_ = rows.Values()
		n++
	}
	return n, rows.Err()
}

// syncAll fills the sync's snapshot as if every row had been delivered.
func syncAll(ctx context.Context, pr *project) error {
	snap, err := diff.Open(engine.SnapshotDir(pr.engine.StateDir, "bench"))
	if err != nil {
		return err
	}
	defer snap.Close()
	src := pr.project.Sources["warehouse"]
	s, err := builtin.Sources()[src.Type].New(ctx, src.Settings, pr.dir)
	if err != nil {
		return err
	}
	defer s.Close()
	rows, err := s.Query(ctx, pr.project.Models["customers"].SQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	var names []string
	for _, c := range rows.Columns() {
		names = append(names, c.Name)
	}
	m, err := transform.New(pr.project.Syncs["bench"], names)
	if err != nil {
		return err
	}
	target := &diff.Target{Name: "bench", Snapshot: snap, Seed: m.Fingerprint(), Columns: m.HashColumns()}
	planner, err := diff.NewPlanner(filepath.Join(pr.engine.StateDir, "tmp"), []*diff.Target{target}, diff.PlannerOptions{})
	if err != nil {
		return err
	}
	defer planner.Close()
	if err := feed(rows, planner); err != nil {
		return err
	}
	plans, err := planner.Finish(ctx, func(diff.Rejection) error { return nil })
	if err != nil {
		return err
	}
	defer plans[0].Close()
	delta, err := snap.Delta("")
	if err != nil {
		return err
	}
	var batch []diff.Entry
	err = plans[0].Each(ctx, func(op diff.Op) error {
		batch = append(batch, op.Entry)
		if len(batch) == 10000 {
			err := delta.Commit(batch, nil)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil {
		err = delta.Commit(batch, nil)
	}
	if cerr := delta.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := snap.Compact(); err != nil {
		return err
	}
	return pr.store.SetSyncState(ctx, state.SyncState{Sync: "bench", MappingHash: fmt.Sprintf("%016x", m.Fingerprint()), PrimaryKey: "id", LastRows: uint64(planner.Rows())})
}

// Sync runs a first full sync of rows into an in-process webhook receiver.
func Sync(ctx context.Context, rows, batchSize, concurrency int, profile func() (stop func())) (*SyncResult, error) {
	if profile == nil {
		profile = func() func() { return func() {} }
	}
	dir, err := os.MkdirTemp("", "riptide-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generate(ctx, filepath.Join(dir, "bench.duckdb"), rows); err != nil {
		return nil, fmt.Errorf("generate model: %w", err)
	}
	recv := webhooktest.New(webhooktest.Discard())
	defer recv.Close()
	spec := builtin.Destinations()["webhook"].Spec
	dest := &config.Destination{Name: "hook", Type: "webhook", Settings: spec.WithDefaults(connector.Settings{
		"url": recv.URL(), "batch_size": batchSize, "concurrency": concurrency,
	})}
	pr, err := newProject(ctx, dir, dest)
	if err != nil {
		return nil, err
	}
	defer pr.store.Close()
	quiesce()
	stop := profile()
	start := time.Now()
	results, err := pr.engine.Run(ctx, []string{"bench"}, engine.Options{})
	secs := time.Since(start).Seconds()
	stop()
	if err != nil {
		return nil, err
	}
	r := results[0]
	if r.Failed() {
		return nil, fmt.Errorf("sync failed: %v (failed rows %d)", r.Err, r.Run.Counts.Failed)
	}
	return &SyncResult{
		Rows: rows, Seconds: secs, RecordsPerSecond: float64(rows) / secs,
		Received: int64(recv.Count()), BatchSize: batchSize, Concurrency: concurrency,
		PeakRSSBytes: peakRSS(), RequestsPerSecond: float64(recv.RequestCount()) / secs,
	}, nil
}

// quiesce settles the process and the machine before a measurement: the
// data generated so far is flushed to disk (so that its writeback does not
// compete with what is measured), the heap is collected and returned, and
// the peak-RSS count restarts.
func quiesce() {
	syscall.Sync()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
}

// cpuSeconds is the process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeakRSS restarts the kernel's peak-RSS count for this process, so
// that generating the benchmark's data is not measured.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o200)
}

// peakRSS reads the process's peak resident set size.
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus reads a size in kB from /proc/self/status, in bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}
