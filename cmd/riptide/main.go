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

// tuneGC sizes the garbage collector for a run's working set. What a run
// keeps live is small and bounded (rows stream through; a diff partition
// or a few batches in flight are a few MB), while rows are allocated and
// dropped at millions per second. So the heap may grow to a fixed soft
// limit (GOMEMLIMIT, 128 MiB) before collecting, rather than collecting
// every time it doubles a tiny live heap (GOGC=off): GC work falls to a
// few cycles per million rows, and memory stays the same whatever the
// model's size. Users' own GOGC/GOMEMLIMIT win; raise GOMEMLIMIT for very
// wide rows or large batches, whose working set could approach the limit
// (the GC then runs often, capped by Go at half the CPU).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(-1)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}

type globalFlags struct {
	project  string
	json     bool
	logLevel string
	state    string // --state: the state store, overriding the project's state key
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
	root.PersistentFlags().StringVar(&g.state, "state", "", "state store: postgres://user@host:port/db (shared by several processes) or an SQLite file; default: the project's state key, else .riptide/state.db")
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
		newConnectorsCmd(g),
		newEmulateCmd(g),
		newDiscoverCmd(g),
		newServeCmd(g),
		newTokensCmd(g),
	)
	return root
}
