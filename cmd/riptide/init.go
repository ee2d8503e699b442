package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/example"
)

func newInitCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a working example project (DuckDB warehouse, a model, two syncs)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := g.project
			if len(args) == 1 {
				dir = args[0]
			}
			if err := example.Create(dir); err != nil {
				return err
			}
			if g.json {
				return writeJSON(os.Stdout, map[string]any{"project": dir, "created": true})
			}
			fmt.Printf("created an example project in %s\n  riptide -p %s run --all   # sync the sample customers into %s/out/\n", dir, dir, dir)
			return nil
		},
	}
}
