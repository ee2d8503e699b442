package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/scheduler"
	"github.com/riptide-data/riptide/internal/state"
)

// Latency is one endpoint's figures under a closed-loop load: Concurrency
// clients each sending their next request when the last one answered.
type Latency struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	PerSecond   float64 `json:"per_second"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}

// Load runs do from concurrency goroutines for d and reports the
// latencies of the calls that succeeded; a call is an error when do
// returns one (the first is kept in firstErr for the report).
func Load(ctx context.Context, name string, concurrency int, d time.Duration, do func(ctx context.Context) error) (Latency, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				err := do(ctx)
				took := time.Since(t)
				if ctx.Err() != nil {
					break // cut short by the end of the measurement
				}
				if err != nil {
					mu.Lock()
					errs++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, took)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	slices.Sort(lat)
	r := Latency{Name: name, Concurrency: concurrency, Seconds: secs, Requests: len(lat), Errors: errs, PerSecond: float64(len(lat)) / secs}
	if len(lat) > 0 {
		r.P50Ms, r.P95Ms, r.P99Ms = ms(pct(lat, 50)), ms(pct(lat, 95)), ms(pct(lat, 99))
		r.MaxMs = ms(lat[len(lat)-1])
	}
	return r, firstErr
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Call sends one API request and fails unless it is answered with want.
func Call(ctx context.Context, c *http.Client, method, url, token string, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf [4096]byte
	for {
		if _, err := resp.Body.Read(buf[:]); err != nil {
			break
		}
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
	return nil
}

// SchedulerResult is what `riptide bench scheduler` reports: the cost of
// scheduling many syncs on short intervals, with runs that take no time,
// so that what is measured is the scheduler and its state store writes.
type SchedulerResult struct {
	Syncs        int     `json:"syncs"`
	Every        string  `json:"every"`
	Seconds      float64 `json:"seconds"`
	Runs         int     `json:"runs"`
	ExpectedRuns int     `json:"expected_runs"`
	// CPUPercent is the process's CPU time over wall time (100 = one
	// core busy).
	CPUPercent float64 `json:"cpu_percent"`
	// Interval drift: how far the time between two runs of one sync is
	// from its interval.
	DriftP50Ms float64 `json:"drift_p50_ms"`
	DriftP99Ms float64 `json:"drift_p99_ms"`
	DriftMaxMs float64 `json:"drift_max_ms"`
}

// noopRunner finishes every run at once, recording when each sync ran.
type noopRunner struct {
	mu   sync.Mutex
	runs map[string][]time.Time
	n    atomic.Int64
}

func (r *noopRunner) Run(_ context.Context, syncs []string, opts engine.Options) ([]*engine.Result, error) {
	now := time.Now()
	out := make([]*engine.Result, len(syncs))
	r.mu.Lock()
	for i, s := range syncs {
		r.runs[s] = append(r.runs[s], now)
		fin := now.UTC()
		out[i] = &engine.Result{Sync: s, Run: &state.Run{ID: opts.RunIDs[s], Sync: s, Status: state.StatusSucceeded, StartedAt: fin, FinishedAt: &fin}}
	}
	r.mu.Unlock()
	r.n.Add(int64(len(syncs)))
	return out, nil
}

// Scheduler runs the scheduler over syncs syncs, each on its own model
// and `every` interval, for d, with a state store in dir.
func Scheduler(ctx context.Context, dir string, syncs int, every, d time.Duration) (*SchedulerResult, error) {
	p := &config.Project{
		Dir:          dir,
		Sources:      map[string]*config.Source{"wh": {Name: "wh", Type: "duckdb"}},
		Destinations: map[string]*config.Destination{"hook": {Name: "hook", Type: "webhook"}},
		Models:       map[string]*config.Model{},
		Syncs:        map[string]*config.Sync{},
	}
	for i := range syncs {
		m := fmt.Sprintf("m%04d", i)
		p.Models[m] = &config.Model{Name: m, Source: "wh", PrimaryKey: []string{"id"}, SQL: "select 1 as id"}
		s := fmt.Sprintf("s%04d", i)
		p.Syncs[s] = &config.Sync{Name: s, Model: m, Destination: "hook", Mode: config.ModeUpsert, MapAll: true,
			Schedule: config.Schedule{Kind: config.ScheduleInterval, Every: every}}
	}
	store, err := state.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	runner := &noopRunner{runs: map[string][]time.Time{}}
	sched, err := scheduler.New(scheduler.Config{Project: p, Runner: runner, Store: store})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	cpu0, t0 := cpuSeconds(), time.Now()
	if err := sched.Start(runCtx); err != nil {
		return nil, err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop()
	if err := sched.Wait(); err != nil {
		return nil, err
	}
	wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	res := &SchedulerResult{Syncs: syncs, Every: every.String(), Seconds: wall, Runs: int(runner.n.Load()),
		// Each sync runs at start (never run before) and then every interval.
		ExpectedRuns: syncs * (1 + int(d/every)),
		CPUPercent:   100 * cpu / wall}
	var drift []time.Duration
	runner.mu.Lock()
	for _, ts := range runner.runs {
		for i := 1; i < len(ts); i++ {
			dd := ts[i].Sub(ts[i-1]) - every
			drift = append(drift, max(dd, -dd))
		}
	}
	runner.mu.Unlock()
	slices.Sort(drift)
	if len(drift) > 0 {
		res.DriftP50Ms, res.DriftP99Ms, res.DriftMaxMs = ms(pct(drift, 50)), ms(pct(drift, 99)), ms(drift[len(drift)-1])
	}
	return res, nil
}
