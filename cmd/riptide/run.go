package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/telemetry"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	return newExecCmd(g, true, &cobra.Command{
		Use:   "run SYNC... | --all",
		Short: "Run syncs: extract, diff, and send what changed",
		Long: `Run one or more syncs. Syncs that share a model extract it once.

Only what changed since the last successful delivery is sent; rows that
failed are retried by the next run. The snapshot is committed batch by batch
as the destination acknowledges, so an interrupted run loses nothing.

Exit status: 0 when every planned row was delivered, 1 when a run failed or
any row failed, 2 for configuration errors.`,
	})
}

func newPlanCmd(g *globalFlags) *cobra.Command {
	return newExecCmd(g, false, &cobra.Command{
		Use:   "plan SYNC... | --all",
		Short: "Show what a run would send, sending nothing",
	})
}

// newExecCmd completes `run` (send) or `plan`: the same flags, the same
// output, one engine call apart.
func newExecCmd(g *globalFlags, send bool, cmd *cobra.Command) *cobra.Command {
	var (
		all          bool
		opts         engine.Options
		otlpEndpoint string
		followSync   bool
	)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if followSync && (all || len(args) != 1) {
			return &exitError{code: exitInvalid, err: fmt.Errorf("--follow streams one sync: name it, without --all")}
		}
		return withApp(g, func(ctx context.Context, a *app) error {
			if followSync {
				return follow(ctx, a, args[0], opts, os.Stdout, func(results []*engine.Result) error {
					if g.json {
						return writeJSON(os.Stdout, runJSON(results, true))
					}
					printSummary(os.Stdout, results, true, 0)
					return nil
				})
			}
			syncs, err := syncArgs(a.project, args, all)
			if err != nil {
				return err
			}
			if send {
				tracing, flushTraces, err := startTracing(ctx, otlpEndpoint, a.logger)
				if err != nil {
					return err
				}
				defer flushTraces()
				a.engine.Tracer = tracing.Runs()
			}
			obs := newObserver(os.Stdout, g.json)
			a.engine.Observer = obs
			start := time.Now()
			execute := a.engine.Plan
			if send {
				execute = a.engine.Run
			}
			results, err := execute(ctx, syncs, opts)
			obs.done()
			if err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			failed := false
			for _, r := range results {
				failed = failed || r.Err != nil || send && r.Failed()
			}
			if g.json {
				if err := writeJSON(os.Stdout, runJSON(results, send)); err != nil {
					return err
				}
			} else {
				printSummary(os.Stdout, results, send, time.Since(start))
			}
			if failed {
				return &exitError{code: exitFailed, err: errSilent}
			}
			return nil
		})
	}
	verb := "plan"
	if send {
		verb = "run"
	}
	cmd.Flags().BoolVar(&all, "all", false, verb+" every sync of the project")
	cmd.Flags().BoolVar(&opts.FullResync, "full-resync", false, "send every row again, not only changes (deletes only what a mirror would)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "send even when the plan exceeds max_change_pct")
	if send {
		addOTLPFlag(cmd, &otlpEndpoint)
		cmd.Flags().BoolVar(&followSync, "follow", false,
			"stream the sync in the foreground: a first batch run, then each change of its PostgreSQL table as it commits, until Ctrl-C")
	}
	return cmd
}

// addOTLPFlag adds --otlp-endpoint, where run and serve export traces.
func addOTLPFlag(cmd *cobra.Command, endpoint *string) {
	cmd.Flags().StringVar(endpoint, "otlp-endpoint", "",
		"OTLP/HTTP base URL to export traces of runs to, e.g. http://127.0.0.1:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT or $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; none: no tracing)")
}

// startTracing sets up trace export for run and serve. flush exports the
// spans still buffered, waiting for the endpoint at most 10 seconds: a
// slow or absent collector must not hold the exit up for long.
func startTracing(ctx context.Context, endpoint string, logger *slog.Logger) (tracing *telemetry.Tracing, flush func(), err error) {
	tracing, err = telemetry.Start(ctx, telemetry.Config{Endpoint: endpoint, Logger: logger})
	if err != nil {
		return nil, nil, &exitError{code: exitInvalid, err: err}
	}
	flush = func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := tracing.Shutdown(ctx); err != nil {
			logger.Warn("traces were not all exported", "error", err)
		}
	}
	return tracing, flush, nil
}

// resultJSON is the machine-readable form of one sync's run or plan.
type resultJSON struct {
	ID        string              `json:"id,omitempty"`
	Sync      string              `json:"sync"`
	Status    string              `json:"status"`
	Error     string              `json:"error,omitempty"`
	Rows      uint64              `json:"rows"`
	Added     uint64              `json:"added"`
	Changed   uint64              `json:"changed"`
	Removed   uint64              `json:"removed"`
	Unchanged uint64              `json:"unchanged"`
	Rejected  uint64              `json:"rejected"`
	Skipped   uint64              `json:"skipped"`
	Planned   uint64              `json:"planned"`
	Succeeded *uint64             `json:"succeeded,omitempty"`
	Failed    *uint64             `json:"failed,omitempty"`
	Seconds   float64             `json:"duration_seconds"`
	Phases    []state.Phase       `json:"phases,omitempty"`
	Samples   map[string][]string `json:"samples,omitempty"`
	Warnings  []string            `json:"warnings,omitempty"`
}

func toJSON(r *engine.Result, sent bool) resultJSON {
	run := r.Run
	c := run.Counts
	out := resultJSON{
		Sync: r.Sync, Status: run.Status, Rows: c.Rows, Added: c.Added, Changed: c.Changed,
		Removed: c.Removed, Unchanged: c.Unchanged, Rejected: c.Rejected, Skipped: c.Skipped,
		Planned: c.Planned, Phases: run.Phases, Samples: r.Samples, Warnings: r.Warnings,
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	if run.FinishedAt != nil {
		out.Seconds = run.FinishedAt.Sub(run.StartedAt).Seconds()
	}
	if sent {
		out.ID = run.ID
		out.Succeeded, out.Failed = &c.Succeeded, &c.Failed
	} else if r.Err == nil {
		out.Status = "planned"
	}
	return out
}

// runJSON prints one object: the sync's own for a single sync; for
// several, the totals with each sync's object under "runs".
func runJSON(results []*engine.Result, sent bool) any {
	if len(results) == 1 {
		return toJSON(results[0], sent)
	}
	type total struct {
		Status    string       `json:"status"`
		Rows      uint64       `json:"rows"`
		Added     uint64       `json:"added"`
		Changed   uint64       `json:"changed"`
		Removed   uint64       `json:"removed"`
		Rejected  uint64       `json:"rejected"`
		Skipped   uint64       `json:"skipped"`
		Planned   uint64       `json:"planned"`
		Succeeded *uint64      `json:"succeeded,omitempty"`
		Failed    *uint64      `json:"failed,omitempty"`
		Runs      []resultJSON `json:"runs"`
	}
	t := total{Status: "succeeded"}
	if !sent {
		t.Status = "planned"
	}
	var succeeded, failed uint64
	for _, r := range results {
		j := toJSON(r, sent)
		t.Runs = append(t.Runs, j)
		t.Rows += j.Rows
		t.Added += j.Added
		t.Changed += j.Changed
		t.Removed += j.Removed
		t.Rejected += j.Rejected
		t.Skipped += j.Skipped
		t.Planned += j.Planned
		succeeded += r.Run.Counts.Succeeded
		failed += r.Run.Counts.Failed
		if r.Failed() && (sent || r.Err != nil) {
			t.Status = state.StatusFailed
		}
	}
	if sent {
		t.Succeeded, t.Failed = &succeeded, &failed
	}
	return t
}

func printSummary(w io.Writer, results []*engine.Result, sent bool, took time.Duration) {
	for _, r := range results {
		run := r.Run
		c := run.Counts
		status := run.Status
		if !sent && r.Err == nil {
			status = "plan"
		}
		fmt.Fprintf(w, "%s: %s", r.Sync, strings.ToUpper(status))
		if sent {
			fmt.Fprintf(w, "  (run %s)", run.ID)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  rows %d · added %d · changed %d · removed %d · unchanged %d · rejected %d · skipped %d\n",
			c.Rows, c.Added, c.Changed, c.Removed, c.Unchanged, c.Rejected, c.Skipped)
		if sent {
			secs := 0.0
			if run.FinishedAt != nil {
				secs = run.FinishedAt.Sub(run.StartedAt).Seconds()
			}
			fmt.Fprintf(w, "  sent %d · succeeded %d · failed %d · %.2fs\n", c.Planned, c.Succeeded, c.Failed, secs)
		} else {
			fmt.Fprintf(w, "  would send %d\n", c.Planned)
			kinds := make([]string, 0, len(r.Samples))
			for k := range r.Samples {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				fmt.Fprintf(w, "  %-9s e.g. %s\n", k, strings.Join(r.Samples[k], ", "))
			}
		}
		if r.Err != nil {
			fmt.Fprintf(w, "  error: %s\n", r.Err)
		}
		for _, warning := range r.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warning)
		}
		if sent && c.Rejected > 0 {
			fmt.Fprintf(w, "  %d rows rejected (null or duplicate primary key): riptide runs show %s\n", c.Rejected, run.ID)
		}
		if sent && c.Failed > 0 {
			fmt.Fprintf(w, "  %d rows failed and will be retried by the next run: riptide runs show %s\n", c.Failed, run.ID)
		}
	}
	if len(results) > 1 {
		fmt.Fprintf(w, "%d syncs in %.2fs\n", len(results), took.Seconds())
	}
}

func sortStrings(s []string) { sort.Strings(s) }
