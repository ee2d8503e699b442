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
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/bench"
)

// newBenchServiceCmds are the benchmarks of `riptide serve`: the API under
// load, and the scheduler's own cost.
func newBenchServiceCmds(g *globalFlags) []*cobra.Command {
	var (
		apiSeconds  time.Duration
		concurrency int
	)
	apiCmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the example project and time GET /api/v1/runs/{id} and POST /api/v1/syncs/{name}/runs under a loopback load",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			res, err := benchAPI(ctx, concurrency, apiSeconds)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, res)
			}
			for _, r := range res {
				fmt.Printf("%-28s %d clients: %7.0f req/s  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  (%d requests, %d errors)\n",
					r.Name, r.Concurrency, r.PerSecond, r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs, r.Requests, r.Errors)
			}
			return nil
		},
	}
	apiCmd.Flags().DurationVar(&apiSeconds, "duration", 10*time.Second, "how long each endpoint is loaded")
	apiCmd.Flags().IntVar(&concurrency, "concurrency", 8, "clients sending requests back to back")

	var (
		syncs    int
		every    time.Duration
		duration time.Duration
	)
	schedCmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Schedule many syncs on a short interval with runs that take no time, and report the scheduler's CPU use and timing drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			dir, err := os.MkdirTemp("", "riptide-bench-scheduler-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			r, err := bench.Scheduler(ctx, dir, syncs, every, duration)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("%d syncs every %s for %.1fs: %d runs (%d expected), CPU %.1f%% of one core, interval drift p50 %.2f ms p99 %.2f ms max %.2f ms\n",
				r.Syncs, r.Every, r.Seconds, r.Runs, r.ExpectedRuns, r.CPUPercent, r.DriftP50Ms, r.DriftP99Ms, r.DriftMaxMs)
			return nil
		},
	}
	schedCmd.Flags().IntVar(&syncs, "syncs", 1000, "syncs, each on its own model")
	schedCmd.Flags().DurationVar(&every, "every", time.Second, "each sync's interval")
	schedCmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long to run")
	return []*cobra.Command{apiCmd, schedCmd}
}

// benchAPI starts `riptide serve` (this binary) on the example project in
// a temporary directory, as a user would, and loads two endpoints through
// loopback HTTP.
func benchAPI(ctx context.Context, concurrency int, d time.Duration) ([]bench.Latency, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "riptide-bench-api-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	proj := filepath.Join(dir, "demo")
	riptide := func(args ...string) ([]byte, error) {
		out, err := exec.CommandContext(ctx, self, append([]string{"-p", proj}, args...)...).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("riptide %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return out, err
	}
	if _, err := exec.CommandContext(ctx, self, "init", proj).Output(); err != nil {
		return nil, fmt.Errorf("riptide init: %w", err)
	}
	out, err := riptide("--json", "tokens", "create", "--role", "editor", "--name", "bench")
	if err != nil {
		return nil, err
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil {
		return nil, fmt.Errorf("read the token: %w", err)
	}
	srv := exec.CommandContext(ctx, self, "-p", proj, "serve", "--addr", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
			base = url
			break
		}
	}
	if base == "" {
		return nil, errors.New("riptide serve did not say where it listens")
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	const sync = "customers_to_crm"
	runID, err := triggerAndWait(ctx, client, base, tok.Token, sync)
	if err != nil {
		return nil, err
	}
	get, err := bench.Load(ctx, "GET /api/v1/runs/{id}", concurrency, d, func(ctx context.Context) error {
		return bench.Call(ctx, client, http.MethodGet, base+"/api/v1/runs/"+runID, tok.Token, http.StatusOK)
	})
	if err != nil {
		return nil, err
	}
	post, err := bench.Load(ctx, "POST /api/v1/syncs/{name}/runs", concurrency, d, func(ctx context.Context) error {
		return bench.Call(ctx, client, http.MethodPost, base+"/api/v1/syncs/"+sync+"/runs", tok.Token, http.StatusAccepted)
	})
	if err != nil {
		return nil, err
	}
	return []bench.Latency{get, post}, nil
}

// triggerAndWait runs a sync through the API and waits until it ends.
func triggerAndWait(ctx context.Context, c *http.Client, base, token, sync string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/syncs/"+sync+"/runs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	var run struct{ ID, Status string }
	err = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("trigger %s: status %d, %v", sync, resp.StatusCode, err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/runs/"+run.ID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		if run.Status != "queued" && run.Status != "running" {
			return run.ID, nil
		}
	}
	return "", fmt.Errorf("run %s of %s did not finish within a minute", run.ID, sync)
}
