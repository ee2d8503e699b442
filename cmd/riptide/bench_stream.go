package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/bench"
)

func newBenchStreamCmd(g *globalFlags) *cobra.Command {
	cfg := bench.StreamConfig{}
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Commit changes to a PostgreSQL table at a steady rate while `riptide run --follow` streams them into a webhook receiver, and report the commit-to-receiver latency",
		Long: `Create a database (through --pg, dropped at the end with the follow's
replication slot) with one table, start riptide run --follow on a project
syncing it into a webhook receiver in this process, then commit --rate
changes a second for --duration, --per-tx to a transaction (default 1), from
--connections connections: inserts, and updates of rows inserted about a
second earlier. For each change, the latency is the time from COMMIT
returning to the receiver getting the request that carries it, both on
this process's clock. A change that never arrives is lost, and fails the
command.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			self, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Riptide = self
			r, err := bench.Stream(ctx, cfg)
			if r != nil {
				if g.json {
					if werr := writeJSON(os.Stdout, r); werr != nil {
						return werr
					}
				} else {
					fmt.Printf("%d changes (%d inserts, %d updates) in %.1fs: %.0f/s of %d/s asked, %d connections, %d per transaction\n",
						r.Sent, r.Inserts, r.Updates, r.Seconds, r.AchievedRate, r.Rate, r.Connections, r.PerTx)
					fmt.Printf("received %d (%d through a later change of the row), lost %d; %d records in %d requests (batch %d, concurrency %d)\n",
						r.Received, r.Superseded, r.Lost, r.Records, r.Requests, r.BatchSize, r.Concurrency)
					fmt.Printf("commit to receiver: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; last change %.2fs after the last commit\n",
						r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs, r.DrainSeconds)
				}
			}
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.Rate, "rate", 1000, "changes committed per second")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long changes are committed")
	cmd.Flags().IntVar(&cfg.Connections, "connections", 16, "connections committing changes in parallel")
	cmd.Flags().IntVar(&cfg.PerTx, "per-tx", 1, "changes each transaction commits")
	cmd.Flags().DurationVar(&cfg.Drain, "drain", 30*time.Second, "after the last commit, how long the receiver may go without progress before missing changes count as lost")
	cmd.Flags().StringVar(&cfg.AdminURL, "pg", bench.DefaultPostgresURL, "PostgreSQL admin connection the bench's database is created through (wal_level must be logical)")
	return cmd
}
