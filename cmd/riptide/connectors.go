package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/connector"
)

// connectorJSON is a connector's spec as `riptide connectors --json`
// prints it.
type connectorJSON struct {
	Kind     string             `json:"kind"`
	Type     string             `json:"type"`
	Summary  string             `json:"summary"`
	Settings []settingJSON      `json:"settings"`
	Modes    []string           `json:"modes,omitempty"`
	Objects  []connector.Object `json:"objects,omitempty"`
	Limits   *connector.Limits  `json:"limits,omitempty"`
	Deferred bool               `json:"deferred,omitempty"`
}

type settingJSON struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Secret   bool     `json:"secret,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Doc      string   `json:"doc"`
}

func newConnectorsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "connectors",
		Short: "List every source and destination with its settings, modes and limits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []connectorJSON
			add := func(kind string, spec connector.Spec) {
				c := connectorJSON{Kind: kind, Type: spec.Type, Summary: spec.Summary, Modes: spec.Modes, Objects: spec.Objects, Deferred: spec.Deferred}
				if kind == "destination" {
					limits := spec.Limits
					c.Limits = &limits
				}
				for _, f := range spec.Fields {
					c.Settings = append(c.Settings, settingJSON{Name: f.Name, Kind: string(f.Kind), Required: f.Required,
						Default: f.Default, Secret: f.Secret, Enum: f.Enum, Doc: f.Doc})
				}
				all = append(all, c)
			}
			for _, p := range builtin.Sources() {
				add("source", p.Spec)
			}
			for _, p := range builtin.Destinations() {
				add("destination", p.Spec)
			}
			sort.Slice(all, func(i, j int) bool {
				if all[i].Kind != all[j].Kind {
					return all[i].Kind > all[j].Kind // sources first
				}
				return all[i].Type < all[j].Type
			})
			if g.json {
				return writeJSON(os.Stdout, all)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tTYPE\tSETTINGS (* required, ! secret)\tMODES\tBATCH")
			for _, c := range all {
				var names []string
				for _, s := range c.Settings {
					n := s.Name
					if s.Required {
						n += "*"
					}
					if s.Secret {
						n += "!"
					}
					names = append(names, n)
				}
				batch := ""
				if c.Limits != nil {
					batch = fmt.Sprint(c.Limits.BatchSize)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Kind, c.Type, strings.Join(names, " "), strings.Join(c.Modes, ","), batch)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Println("\nEach connector's reference: docs/sources/<type>.md and docs/destinations/<type>.md")
			return nil
		},
	}
}
