package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/bench"
)

func newBenchWarehouseCmd(g *globalFlags) *cobra.Command {
	var (
		rows        int
		changedPct  float64
		memoryLimit string
		dir         string
		key         string
		pg          string
	)
	cmd := &cobra.Command{
		Use:   "warehouse",
		Short: "Plan a generated DuckDB model with the local diff and the warehouse diff side by side: plan time, rows read out of the warehouse, peak memory",
		Long: `Generate a DuckDB model, fill two syncs' snapshots as if every row had been
delivered (one sync diffs locally, the other in the warehouse, its snapshot a
table of the DuckDB file), change --changed-pct percent of the rows, then plan
each sync in turn in this process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r, err := bench.Warehouse(ctx, bench.WarehouseOptions{
				Rows: rows, ChangedPct: changedPct, Key: key, MemoryLimit: memoryLimit, Dir: dir, Postgres: pg,
			})
			if err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("%s, rows %d, %s key, changed %.2f%% (%d rows)\n", r.Source, r.Rows, r.Key, r.ChangedPct, r.ChangedRows)
			for _, d := range []bench.DiffResult{r.Local, r.Warehouse} {
				fmt.Printf("  %-9s plan_seconds %8.3f  rows_read %11d  changed %9d  peak_rss %7.1f MiB\n",
					d.Diff, d.PlanSeconds, d.RowsRead, d.Changed, float64(d.PeakRSSBytes)/(1<<20))
			}
			fmt.Printf("warehouse diff %.2f× faster than local; reads only the changed rows: %v\n", r.Speedup, r.ReadsOnlyChanged)
			fmt.Printf("commit points of %d keys into the warehouse snapshot: %v seconds\n", r.CommitKeys, r.CommitSeconds)
			return nil
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 10_000_000, "rows in the generated model")
	cmd.Flags().Float64Var(&changedPct, "changed-pct", 0.1, "percent of rows changed after the first sync")
	cmd.Flags().StringVar(&memoryLimit, "memory-limit", "", "the DuckDB source's memory_limit for both plans, e.g. 2GB (default: the source's own)")
	cmd.Flags().StringVar(&pg, "postgres", "", "put the model and the warehouse's snapshot in a PostgreSQL database created through this admin connection (postgres://user@host:port/db) and dropped after, instead of a DuckDB file")
	cmd.Flags().StringVar(&key, "key", bench.KeyInteger, "the type of the model's key column: integer (the warehouse's key hash is the key itself) or text (hashed)")
	cmd.Flags().StringVar(&dir, "dir", "", "keep the generated model and snapshots in this directory, and plan again from it when it holds a benchmark of the same --rows, --changed-pct and --key (default: a temporary directory, removed)")
	return cmd
}
