package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/bench"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/state"
)

// workersBench is what `riptide bench workers` was asked for.
type workersBench struct {
	workers, syncs, rows   int
	batchSize, concurrency int
	pg                     string
	timeout                time.Duration
}

func newBenchWorkersCmd(g *globalFlags) *cobra.Command {
	var b workersBench
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "Trigger several syncs of a generated model at once on several `riptide serve` processes sharing a PostgreSQL store, and report the throughput and which process ran each run",
		Long: `Generate a DuckDB model, write a project with --syncs syncs of it into one
webhook receiver in this process, keep its state in a new PostgreSQL
database (created through --pg, dropped at the end), start --workers
riptide serve processes on it, trigger every sync at once through the API
and wait for every run to finish.

One run of a sync is carried out by one process (it holds the sync's lock),
so more workers can only speed up several syncs, not one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := benchWorkers(ctx, b)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("%d workers, %d syncs of %d rows: %d records in %.2fs, %.0f records/s; %d of %d workers ran a run\n",
				r.Workers, r.Syncs, r.Rows, r.Received, r.Seconds, r.RecordsPerSecond, r.WorkersUsed, r.Workers)
			for _, run := range r.Runs {
				var phases []string
				for _, ph := range run.Phases {
					phases = append(phases, fmt.Sprintf("%s %.2fs", ph.Name, ph.Seconds))
				}
				fmt.Printf("  %-10s %6.2fs on worker %d (%s), %d succeeded, %d attempt(s); %s\n",
					run.Sync, run.Seconds, run.Worker, run.WorkerID, run.Succeeded, run.Attempts, strings.Join(phases, ", "))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&b.workers, "workers", 1, "riptide serve processes sharing the state store")
	cmd.Flags().IntVar(&b.syncs, "syncs", 3, "syncs of the model, all triggered at once")
	cmd.Flags().IntVar(&b.rows, "rows", 1_000_000, "rows in the generated model")
	cmd.Flags().IntVar(&b.batchSize, "batch-size", 1000, "records per webhook request")
	cmd.Flags().IntVar(&b.concurrency, "concurrency", 4, "webhook requests in flight per run")
	cmd.Flags().StringVar(&b.pg, "pg", bench.DefaultPostgresURL, "PostgreSQL admin connection the run's database is created through")
	cmd.Flags().DurationVar(&b.timeout, "timeout", 30*time.Minute, "how long the runs may take")
	return cmd
}

// benchWorkers carries out `riptide bench workers`.
func benchWorkers(ctx context.Context, b workersBench) (*bench.WorkersResult, error) {
	switch {
	case b.workers < 1:
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--workers %d: need at least 1", b.workers)}
	case b.syncs < 1:
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--syncs %d: need at least 1", b.syncs)}
	case b.rows < 1:
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--rows %d: need at least 1", b.rows)}
	case b.batchSize < 1 || b.concurrency < 1:
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--batch-size %d, --concurrency %d: both must be at least 1", b.batchSize, b.concurrency)}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "riptide-bench-workers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "bench.duckdb")
	if err := bench.Generate(ctx, model, b.rows); err != nil {
		return nil, err
	}
	stateURL, dbName, dropDB, err := bench.TempPostgres(ctx, b.pg)
	if err != nil {
		return nil, err
	}
	defer dropDB()
	recv, err := webhooktest.Listen("127.0.0.1:0", webhooktest.Discard())
	if err != nil {
		return nil, err
	}
	defer recv.Close()

	// Each process has a project directory of its own, as on a machine of
	// its own; they read the one model file, opened read-only.
	yaml := workersProject(model, recv.URL(), b)
	dirs := make([]string, b.workers)
	for i := range dirs {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("worker%d", i))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dirs[i], "riptide.yaml"), []byte(yaml), 0o644); err != nil {
			return nil, err
		}
	}
	out, err := exec.CommandContext(ctx, self, "--state", stateURL, "-p", dirs[0], "--json",
		"tokens", "create", "--role", "editor", "--name", "bench").Output()
	if err != nil {
		return nil, fmt.Errorf("create a token: %w%s", err, stderrOf(err))
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		return nil, fmt.Errorf("read the token riptide tokens create printed: %v", err)
	}

	procs := make([]*benchServe, 0, b.workers)
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, d := range dirs {
		p, err := startBenchServe(self, stateURL, d)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	// The model was just written: its writeback must not compete with the
	// runs.
	syscall.Sync()

	client := &http.Client{Timeout: 30 * time.Second}
	runIDs := make([]string, b.syncs)
	errs := make([]error, b.syncs)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range b.syncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the triggers over the processes' APIs; which process
			// works a run is the queue's choice, not the API's.
			runIDs[i], errs[i] = triggerRun(ctx, client, procs[i%len(procs)].base, tok.Token, workersSync(i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	runs := make([]*state.Run, b.syncs)
	deadline := time.Now().Add(b.timeout)
	for pending := b.syncs; pending > 0; {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d runs not finished after %s%s", pending, b.syncs, b.timeout, serveLogs(procs))
		}
		for _, p := range procs {
			if p.exited() {
				return nil, fmt.Errorf("a riptide serve process exited during the runs%s", serveLogs(procs))
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		pending = 0
		for i, id := range runIDs {
			if runs[i] != nil {
				continue
			}
			r, err := getRun(ctx, client, procs[0].base, tok.Token, id)
			if err != nil {
				return nil, fmt.Errorf("%w%s", err, serveLogs(procs))
			}
			if r.Status == state.StatusQueued || r.Status == state.StatusRunning {
				pending++
				continue
			}
			runs[i] = r
		}
	}
	wall := time.Since(start).Seconds()

	byRun, err := bench.RunWorkers(ctx, stateURL)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.cmd.Process.Pid
	}
	res := &bench.WorkersResult{
		Workers: b.workers, Syncs: b.syncs, Rows: b.rows, Database: dbName, Seconds: wall,
		RecordsPerSecond: float64(b.rows*b.syncs) / wall, Received: recv.Count(),
	}
	used := map[int]bool{}
	var bad []string
	for i, r := range runs {
		wr := byRun[r.ID]
		wr.Sync, wr.RunID, wr.Status = workersSync(i), r.ID, r.Status
		wr.Succeeded, wr.Failed, wr.Phases = r.Counts.Succeeded, r.Counts.Failed, r.Phases
		if r.FinishedAt != nil {
			wr.Seconds = r.FinishedAt.Sub(r.StartedAt).Seconds()
		}
		wr.Worker = bench.WorkerIndex(wr.WorkerID, pids)
		if wr.Worker >= 0 {
			used[wr.Worker] = true
		}
		if r.Status != state.StatusSucceeded || r.Counts.Succeeded != uint64(b.rows) {
			bad = append(bad, fmt.Sprintf("%s: %s with %d of %d rows delivered %s", wr.Sync, r.Status, r.Counts.Succeeded, b.rows, r.Error))
		}
		res.Runs = append(res.Runs, wr)
	}
	res.WorkersUsed = len(used)
	if len(bad) > 0 {
		return res, fmt.Errorf("runs did not deliver every row: %s%s", strings.Join(bad, "; "), serveLogs(procs))
	}
	if want := b.rows * b.syncs; res.Received < want {
		return res, fmt.Errorf("the receiver accepted %d records, want at least %d", res.Received, want)
	}
	return res, nil
}

func workersSync(i int) string { return fmt.Sprintf("bench_%d", i+1) }

// workersProject is the project every process serves: syncs of one model
// into one receiver, none scheduled (the bench triggers them).
func workersProject(model, hookURL string, b workersBench) string {
	var s strings.Builder
	fmt.Fprintf(&s, `sources:
  warehouse: {type: duckdb, path: %q, read_only: true}
destinations:
  hook: {type: webhook, url: %q, batch_size: %d, concurrency: %d}
models:
  customers: {source: warehouse, primary_key: id, sql: select * from customers}
syncs:
`, model, hookURL+"/ingest", b.batchSize, b.concurrency)
	for i := range b.syncs {
		fmt.Fprintf(&s, "  %s: {model: customers, destination: hook, mode: upsert}\n", workersSync(i))
	}
	return s.String()
}

// benchServe is one `riptide serve` process of the bench.
type benchServe struct {
	cmd  *exec.Cmd
	base string
	logs *tailBuffer
	done chan struct{}
}

func startBenchServe(self, stateURL, dir string) (*benchServe, error) {
	// One run at a time per process: a worker is a process.
	cmd := exec.Command(self, "--state", stateURL, "-p", dir, "serve", "--addr", "127.0.0.1:0", "--workers", "1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &benchServe{cmd: cmd, logs: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start riptide serve: %w", err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
			p.base = url
			break
		}
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	if p.base == "" {
		p.stop()
		return nil, fmt.Errorf("riptide serve did not say where it listens:\n%s", p.logs.String())
	}
	return p, nil
}

func (p *benchServe) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end as an operator would, and kills it if it
// takes longer than a run in flight should.
func (p *benchServe) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func serveLogs(procs []*benchServe) string {
	var s strings.Builder
	for i, p := range procs {
		status := "running"
		if p.exited() {
			status = p.cmd.ProcessState.String()
		}
		fmt.Fprintf(&s, "\n--- riptide serve %d (pid %d, %s), last logs:\n%s", i, p.cmd.Process.Pid, status, p.logs.String())
	}
	return s.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// triggerRun asks for a run of sync and returns its ID.
func triggerRun(ctx context.Context, c *http.Client, base, token, sync string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/syncs/"+sync+"/runs", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("trigger %s: %w", sync, err)
	}
	defer resp.Body.Close()
	var run struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil || resp.StatusCode != http.StatusAccepted || run.ID == "" {
		return "", fmt.Errorf("trigger %s: status %d (%v)", sync, resp.StatusCode, err)
	}
	return run.ID, nil
}

// getRun reads a run's record through the API.
func getRun(ctx context.Context, c *http.Client, base, token, id string) (*state.Run, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/runs/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read run %s: %w", id, err)
	}
	defer resp.Body.Close()
	var r state.Run
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read run %s: status %d (%v)", id, resp.StatusCode, err)
	}
	return &r, nil
}

// stderrOf is the stderr of a command that exited with an error, for its
// message.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
