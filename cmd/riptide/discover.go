package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/engine"
)

func newDiscoverCmd(g *globalFlags) *cobra.Command {
	var object string
	cmd := &cobra.Command{
		Use:   "discover DESTINATION",
		Short: "List what a destination account holds: its objects, or with --object an object's fields",
		Long: `discover connects to a destination of the project with its settings and
lists, from the vendor's schema API, the objects a sync can write (what a
sync's object: names) or, with --object, that object's fields: their type,
and whether they are read-only or unique (can serve as an identifier).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(g, func(ctx context.Context, a *app) error {
				cat, err := a.engine.Catalog(ctx, args[0])
				if errors.Is(err, engine.ErrNoCatalog) {
					return fmt.Errorf("%w; docs/destinations/%s.md lists the objects and fields it takes", err, a.project.Destinations[args[0]].Type)
				}
				if err != nil {
					return err
				}
				if object == "" {
					objs, err := cat.Objects(ctx)
					if err != nil {
						return discoverError(a, args[0], "objects", err)
					}
					if g.json {
						return writeJSON(os.Stdout, map[string]any{"destination": args[0], "objects": nonNil(objs)})
					}
					return printObjects(objs)
				}
				fields, err := cat.Fields(ctx, object)
				if err != nil {
					return discoverError(a, args[0], "fields of "+object, err)
				}
				if g.json {
					return writeJSON(os.Stdout, map[string]any{"destination": args[0], "object": object, "fields": nonNil(fields)})
				}
				return printFields(fields)
			})
		},
	}
	cmd.Flags().StringVar(&object, "object", "", "list this object's fields instead of the objects")
	return cmd
}

func discoverError(a *app, dest, what string, err error) error {
	if errors.Is(err, connector.ErrNotListed) {
		return fmt.Errorf("destination %s: %s: %w; docs/destinations/%s.md lists what it takes",
			dest, what, err, a.project.Destinations[dest].Type)
	}
	return fmt.Errorf("destination %s: list %s: %s", dest, what, a.redactor.Error(err))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func printObjects(objs []connector.ObjectInfo) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "OBJECT\tLABEL\tCUSTOM\tALSO NAMED")
	for _, o := range objs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Name, o.Label, yes(o.Custom), strings.Join(o.Aliases, ", "))
	}
	return w.Flush()
}

func printFields(fields []connector.FieldInfo) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FIELD\tTYPE\tLABEL\tREAD-ONLY\tUNIQUE")
	for _, f := range fields {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, f.Label, yes(f.ReadOnly), yes(f.Unique))
	}
	return w.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
