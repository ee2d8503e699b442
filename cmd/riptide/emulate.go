package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/builtin"
)

func newEmulateCmd(g *globalFlags) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "emulate DESTINATION",
		Short: "Run a destination's API emulator locally, to develop and test syncs without a vendor account",
		Long: "Run a destination's API emulator on this machine until Ctrl-C. It prints the base URL (and token) " +
			"to put in the destination's settings. Emulators: " + strings.Join(builtin.EmulatorNames(), ", ") + ".",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			em, ok := builtin.Emulators()[args[0]]
			if !ok {
				return &exitError{code: exitInvalid, err: fmt.Errorf("no emulator for %q (emulators: %s)", args[0], strings.Join(builtin.EmulatorNames(), ", "))}
			}
			// Catch Ctrl-C before saying where to connect, so that a stop
			// right after the first line is a clean stop.
			ctx, cancel := signalContext()
			defer cancel()
			run, err := em.Start(addr)
			if err != nil {
				return fmt.Errorf("start the %s emulator on %s: %w", args[0], addr, err)
			}
			defer run.Stop()
			if g.json {
				out := map[string]any{"destination": args[0], "base_url": run.BaseURL, "token": run.Token}
				if run.Objects != nil {
					out["objects"] = run.Objects
				}
				if err := writeJSON(os.Stdout, out); err != nil {
					return err
				}
			} else {
				fmt.Printf("%s emulator listening: base_url %s\n", args[0], run.BaseURL)
				if run.Token != "" {
					fmt.Printf("token: %s\n", run.Token)
				}
				for _, name := range slices.Sorted(maps.Keys(run.Objects)) {
					fmt.Printf("object: %s (%s)\n", name, run.Objects[name])
				}
				fmt.Println("Ctrl-C stops it.")
			}
			<-ctx.Done()
			if !g.json {
				fmt.Printf("\nreceived: %s\n", run.Summary())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9000", "host:port to listen on")
	return cmd
}
