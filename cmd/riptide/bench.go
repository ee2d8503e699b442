package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/bench"
)

func newBenchCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Riptide on generated models (see docs/BENCHMARKS.md)",
	}
	var (
		rows        int
		changedPct  float64
		batchSize   int
		concurrency int
		cpuProfile  string
	)
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured part to this file")
	// The profile covers the measured part only: the plan, or the sync.
	profile := func() (stop func()) {
		if cpuProfile == "" {
			return func() {}
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			return func() {}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			return func() {}
		}
		return func() { pprof.StopCPUProfile(); f.Close() }
	}
	planCmd := &cobra.Command{
		Use:   "plan",
		Short: "Time a plan of a generated DuckDB model against its snapshot, and its peak memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := bench.Plan(ctx, rows, changedPct, profile)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("rows %d, changed %.2f%% (%d)\nscan_seconds %.3f\nplan_seconds %.3f (%.2f× scan)\npeak_rss %.1f MiB\n",
				r.Rows, r.ChangedPct, r.Changed, r.ScanSeconds, r.PlanSeconds, r.PlanOverScan, float64(r.PeakRSSBytes)/(1<<20))
			return nil
		},
	}
	planCmd.Flags().IntVar(&rows, "rows", 1_000_000, "rows in the generated model")
	planCmd.Flags().Float64Var(&changedPct, "changed-pct", 1, "percent of rows changed after the first sync")

	syncCmd := &cobra.Command{
		Use:   "sync",
		Short: "Time a first full sync of a generated model into a local webhook receiver",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := bench.Sync(ctx, rows, batchSize, concurrency, profile)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("rows %d in %.3fs: %.0f records/s (batch %d, concurrency %d), peak_rss %.1f MiB\n",
				r.Rows, r.Seconds, r.RecordsPerSecond, r.BatchSize, r.Concurrency, float64(r.PeakRSSBytes)/(1<<20))
			return nil
		},
	}
	syncCmd.Flags().IntVar(&rows, "rows", 1_000_000, "rows in the generated model")
	syncCmd.Flags().IntVar(&batchSize, "batch-size", 1000, "records per webhook request")
	syncCmd.Flags().IntVar(&concurrency, "concurrency", 4, "webhook requests in flight")
	var (
		destRows int
		to       []string
	)
	destCmd := &cobra.Command{
		Use:   "destinations",
		Short: "Time a first full sync of a generated model into the webhook emulator, Kafka (in-process kfake) and Redis (127.0.0.1:6379)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			results, err := bench.Destinations(ctx, destRows, to)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, results)
			}
			for _, r := range results {
				fmt.Printf("%-8s %d rows in %.3fs: %.0f records/s (failed %d)\n", r.Destination, r.Rows, r.Seconds, r.RecordsPerSecond, r.Failed)
			}
			return nil
		},
	}
	destCmd.Flags().IntVar(&destRows, "rows", 1_000_000, "rows in the generated model")
	destCmd.Flags().StringSliceVar(&to, "to", []string{"webhook", "kafka", "redis"}, "destinations to sync into")

	var (
		hsRows      int
		perInterval int
	)
	hubspotCmd := &cobra.Command{
		Use:   "hubspot",
		Short: "Sync a generated model into the HubSpot emulator enforcing HubSpot's private-app rate limit, and report how much of it was used",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := bench.HubSpot(ctx, hsRows, perInterval)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("hubspot %d rows in %.1fs: %d requests (%.1f%% of %d per 10 s), %d throttled, %d contacts held, failed %d\n",
				r.Rows, r.Seconds, r.Requests, 100*r.Utilisation, r.PerInterval, r.Throttled, r.Contacts, r.Failed)
			fmt.Printf("\nthe same %d rows at each rate-limited destination's default limits:\n", r.Rows)
			for _, e := range bench.Estimates(r.Rows) {
				fmt.Printf("  %-10s batches of %-5d %6d requests at %7.2f/s: %8.1fs\n", e.Destination, e.BatchSize, e.Requests, e.RequestsPerSecond, e.Seconds)
			}
			return nil
		},
	}
	hubspotCmd.Flags().IntVar(&hsRows, "rows", 100_000, "rows in the generated model")
	hubspotCmd.Flags().IntVar(&perInterval, "requests-per-10s", 100, "the private app's limit, enforced by the emulator and configured on the destination")
	var (
		mixRows, mixBatch     int
		refusedPct, faultsPct float64
	)
	mixedCmd := &cobra.Command{
		Use:   "mixed",
		Short: "Sync into a webhook emulator that refuses some rows and fails some requests; report where every row ended up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := bench.Mixed(ctx, mixRows, mixBatch, refusedPct, faultsPct)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("%d rows in %.1fs: %d succeeded, %d failed (%d refused by the receiver), %d lost; %d requests for %d batches with %d injected failures (%.2f of the bound)\n",
				r.Rows, r.Seconds, r.Succeeded, r.Failed, r.Refused, r.Lost, r.Requests, r.MinRequests, r.Injected, r.Overhead)
			return nil
		},
	}
	mixedCmd.Flags().IntVar(&mixRows, "rows", 100_000, "rows in the generated model")
	mixedCmd.Flags().IntVar(&mixBatch, "batch-size", 100, "records per request")
	mixedCmd.Flags().Float64Var(&refusedPct, "refused-pct", 5, "percent of rows the receiver refuses")
	mixedCmd.Flags().Float64Var(&faultsPct, "faults-pct", 10, "percent of requests answered 500 or 429")
	cmd.AddCommand(planCmd, syncCmd, destCmd, hubspotCmd, mixedCmd)
	cmd.AddCommand(newBenchServiceCmds(g)...)
	cmd.AddCommand(newBenchWorkersCmd(g))
	cmd.AddCommand(newBenchStreamCmd(g))
	cmd.AddCommand(newBenchWarehouseCmd(g))
	return cmd
}
