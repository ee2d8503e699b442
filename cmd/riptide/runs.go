package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/streamsync"
)

func newRunsCmd(g *globalFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs [SYNC]",
		Short: "List recent runs, of one sync or of all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(g, func(ctx context.Context, a *app) error {
				sync := ""
				if len(args) == 1 {
					if _, err := syncArgs(a.project, args, false); err != nil {
						return err
					}
					sync = args[0]
				}
				runs, err := a.store.ListRuns(ctx, sync, limit)
				if err != nil {
					return err
				}
				if g.json {
					if runs == nil {
						runs = []*state.Run{}
					}
					return writeJSON(os.Stdout, runs)
				}
				if len(runs) == 0 {
					fmt.Println("no runs yet")
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RUN\tSYNC\tSTATUS\tSTARTED\tDURATION\tADDED\tCHANGED\tREMOVED\tREJECTED\tSUCCEEDED\tFAILED")
				for _, r := range runs {
					c := r.Counts
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.Sync, r.Status,
						r.StartedAt.Local().Format("2006-01-02 15:04:05"), duration(r), c.Added, c.Changed, c.Removed, c.Rejected, c.Succeeded, c.Failed)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to list")
	cmd.AddCommand(newRunsShowCmd(g))
	return cmd
}

func duration(r *state.Run) string {
	if r.FinishedAt == nil {
		return "-"
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
}

func newRunsShowCmd(g *globalFlags) *cobra.Command {
	var (
		maxErrors    int
		showRequests bool
	)
	cmd := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show a run: counts, phase timings, status, row errors and (--requests) the request log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(g, func(ctx context.Context, a *app) error {
				r, err := a.store.GetRun(ctx, args[0])
				if err != nil {
					return err
				}
				errs, err := a.store.RowErrors(ctx, r.ID, maxErrors, 0)
				if err != nil {
					return err
				}
				var reqs []state.Request
				if showRequests {
					if reqs, err = a.store.Requests(ctx, r.ID, state.MaxRequests, 0); err != nil {
						return err
					}
				}
				if g.json {
					if errs == nil {
						errs = []state.RowError{}
					}
					out := struct {
						*state.Run
						Errors     []state.RowError `json:"errors"`
						RequestLog []state.Request  `json:"request_log,omitempty"`
					}{r, errs, reqs}
					if showRequests && out.RequestLog == nil {
						out.RequestLog = []state.Request{}
					}
					return writeJSON(os.Stdout, out)
				}
				c := r.Counts
				fmt.Printf("run       %s\n", r.ID)
				fmt.Printf("sync      %s (model %s → destination %s)\n", r.Sync, r.Model, r.Destination)
				fmt.Printf("status    %s\n", r.Status)
				fmt.Printf("started   %s\n", r.StartedAt.Local().Format(time.RFC3339))
				fmt.Printf("duration  %s\n", duration(r))
				if r.FullResync {
					fmt.Println("mode      full resync")
				}
				fmt.Printf("rows      %d: added %d, changed %d, removed %d, unchanged %d, rejected %d, skipped %d\n",
					c.Rows, c.Added, c.Changed, c.Removed, c.Unchanged, c.Rejected, c.Skipped)
				fmt.Printf("sent      %d: succeeded %d, failed %d\n", c.Planned, c.Succeeded, c.Failed)
				if len(r.Phases) > 0 {
					fmt.Print("phases   ")
					for _, p := range r.Phases {
						fmt.Printf(" %s %.3fs", p.Name, p.Seconds)
					}
					fmt.Println()
				}
				if r.Error != "" {
					fmt.Printf("error     %s\n", r.Error)
				}
				if len(errs) > 0 {
					fmt.Printf("\nrow errors (%d", r.RowErrors)
					if r.RowErrors > uint64(len(errs)) {
						fmt.Printf(", first %d shown", len(errs))
					}
					fmt.Println("):")
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "KEY\tOP\tPHASE\tERROR")
					for _, e := range errs {
						key := e.Key
						if key == "" {
							key = "(null)"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", key, dash(e.Op), e.Phase, e.Error)
					}
					tw.Flush()
					if c.Failed > 0 {
						fmt.Println("\nFailed rows stay pending: the next run of this sync retries them.")
					}
				}
				if showRequests {
					printRequests(r, reqs)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&maxErrors, "errors", state.MaxRowErrors, "how many row errors to show")
	cmd.Flags().BoolVar(&showRequests, "requests", false, "show the request log: each request to the destination with its status, latency and bodies")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newResetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset SYNC",
		Short: "Forget a sync's snapshot: its next run sends every row and deletes nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(g, func(ctx context.Context, a *app) error {
				if _, err := syncArgs(a.project, args, false); err != nil {
					return err
				}
				if err := a.engine.Reset(ctx, args[0]); err != nil {
					return err
				}
				if g.json {
					return writeJSON(os.Stdout, map[string]any{"sync": args[0], "reset": true})
				}
				fmt.Printf("%s: snapshot reset; the next run sends every row and deletes nothing\n", args[0])
				return nil
			})
		},
	}
}

func newValidateCmd(g *globalFlags) *cobra.Command {
	var connect bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the project's configuration (--connect: also each sync's mapping against the destination's schema)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g)
			var cerrs *config.Errors
			if g.json && errors.As(err, &cerrs) {
				list := make([]map[string]any, len(cerrs.List))
				for i, e := range cerrs.List {
					list[i] = map[string]any{"file": e.Pos.File, "line": e.Pos.Line, "column": e.Pos.Col, "message": e.Msg, "error": e.Error()}
				}
				if werr := writeJSON(os.Stdout, map[string]any{"valid": false, "errors": list}); werr != nil {
					return werr
				}
				return &exitError{code: exitInvalid, err: errSilent}
			}
			if err != nil {
				return err
			}
			out := map[string]any{
				"valid": true, "sources": len(p.Sources), "destinations": len(p.Destinations),
				"models": len(p.Models), "syncs": len(p.Syncs), "warnings": p.Warnings,
			}
			var problems []engine.Problem
			if connect {
				err := withApp(g, func(ctx context.Context, a *app) error {
					probs, checked, skipped, err := a.engine.CheckDestinations(ctx, sortedSyncs(p))
					problems = probs
					out["connected"], out["no_schema"] = checked, skipped
					if !g.json && err == nil {
						fmt.Printf("connected: %d syncs checked against their destination's schema", len(checked))
						if len(skipped) > 0 {
							fmt.Printf(" (%d skipped: their destination lists no schema: %s)", len(skipped), strings.Join(skipped, ", "))
						}
						fmt.Println()
					}
					if err != nil {
						return err
					}
					streams, probs, err := checkStreams(ctx, a.engine, p)
					problems = append(problems, probs...)
					if len(streams) > 0 {
						out["streams"] = streams
					}
					if !g.json {
						for _, name := range sortedSyncs(p) {
							if fw, ok := streams[name]; ok {
								fmt.Printf("stream %s: %s\n", name, fw)
							}
						}
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			if len(problems) > 0 {
				list := make([]string, len(problems))
				for i, pr := range problems {
					list[i] = pr.Error()
				}
				if g.json {
					out["valid"], out["problems"] = false, list
					if err := writeJSON(os.Stdout, out); err != nil {
						return err
					}
					return &exitError{code: exitInvalid, err: errSilent}
				}
				return &exitError{code: exitInvalid, err: errors.New(strings.Join(list, "\n"))}
			}
			if g.json {
				return writeJSON(os.Stdout, out)
			}
			fmt.Printf("ok: %d sources, %d destinations, %d models, %d syncs\n",
				len(p.Sources), len(p.Destinations), len(p.Models), len(p.Syncs))
			return nil
		},
	}
	cmd.Flags().BoolVar(&connect, "connect", false, "connect to destinations that list their schema and check each mapping's fields, and to the databases of stream syncs")
	return cmd
}

// checkStreams checks that each stream sync of p could stream: how it
// would be followed, by sync, and its problems.
func checkStreams(ctx context.Context, e *engine.Engine, p *config.Project) (map[string]streamsync.Following, []engine.Problem, error) {
	out := map[string]streamsync.Following{}
	var problems []engine.Problem
	for _, name := range sortedSyncs(p) {
		s := p.Syncs[name]
		if s.Schedule.Kind != config.ScheduleStream {
			continue
		}
		fw, probs, err := streamsync.Check(ctx, e, name)
		if err != nil {
			return nil, nil, fmt.Errorf("sync %s: %w", name, err)
		}
		for _, pr := range probs {
			problems = append(problems, engine.Problem{Pos: s.SchedulePos, Message: "syncs." + name + ".schedule: cannot stream: " + pr})
		}
		if len(probs) == 0 {
			out[name] = fw
		}
	}
	return out, problems, nil
}

// printRequests prints a run's request log, the "debugger".
func printRequests(r *state.Run, reqs []state.Request) {
	fmt.Printf("\nrequests (%d", r.Requests)
	if r.Requests > uint64(len(reqs)) {
		fmt.Printf(", first %d kept", len(reqs))
	}
	fmt.Println("):")
	for _, q := range reqs {
		status := strconv.Itoa(q.Status)
		if q.Status == 0 {
			status = "no response"
		}
		fmt.Printf("#%d %s %s %s → %s in %.1f ms\n", q.Seq+1, q.At.Local().Format("15:04:05.000"), q.Method, q.URL, status, q.LatencyMS)
		if q.Error != "" {
			fmt.Printf("   error: %s\n", q.Error)
		}
		if q.RequestBody != "" {
			fmt.Printf("   > %s\n", indentBody(q.RequestBody))
		}
		if q.ResponseBody != "" {
			fmt.Printf("   < %s\n", indentBody(q.ResponseBody))
		}
	}
}

func indentBody(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n     ")
}
