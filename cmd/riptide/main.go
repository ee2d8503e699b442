// Command riptide is the Riptide CLI: it reads a project, and plans, runs
// and inspects its syncs. It only parses flags and wires the packages
// under internal/ together.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a run failed or some rows failed
	exitInvalid = 2 // bad configuration or usage
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	tuneGC()
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		return
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "riptide:", err)
	}
	os.Exit(code)
}

// errSilent marks a failure whose details were already printed.
var errSilent = errors.New("failed")

// tuneGC trades memory for speed: a run's live heap is small and bounded
// (rows stream through, partitions are a few MB), so a higher GOGC cuts GC
// work on the row-scanning hot path without raising memory much. A
// GOMEMLIMIT keeps the heap from growing past a soft ceiling all the same.
// Users' own GOGC/GOMEMLIMIT win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

type globalFlags struct {
	project  string
	json     bool
	logLevel string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "riptide",
		Short:         "Riptide syncs warehouse models into the tools business teams use (reverse ETL)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.project, "project", "p", ".", "project directory (holding riptide.yaml)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print machine-readable JSON")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitInvalid, err: fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())}
	})
	root.AddCommand(
		newInitCmd(g),
		newValidateCmd(g),
		newPlanCmd(g),
		newRunCmd(g),
		newRunsCmd(g),
		newResetCmd(g),
		newBenchCmd(g),
	)
	return root
}
