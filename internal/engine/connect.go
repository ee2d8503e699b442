package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
)

// Problem is something `validate --connect` found wrong with a sync.
type Problem struct {
	Pos     config.Pos
	Message string
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s", p.Pos, p.Message) }

// CheckDestinations connects to each sync's destination that can list its
// object's fields and checks the sync's mapping against them: unknown
// fields (with the nearest name), read-only fields, and an identifier
// that cannot match records. Syncs whose destination lists no schema are
// skipped and returned in skipped.
func (e *Engine) CheckDestinations(ctx context.Context, syncs []string) (problems []Problem, checked, skipped []string, err error) {
	for _, name := range syncs {
		s := e.Project.Syncs[name]
		dcfg := e.Project.Destinations[s.Destination]
		plugin, ok := e.Destinations[dcfg.Type]
		if !ok {
			return nil, nil, nil, fmt.Errorf("destination %s: unknown type %q", dcfg.Name, dcfg.Type)
		}
		var fields []string
		for _, m := range s.Mapping {
			fields = append(fields, m.Field)
		}
		target := connector.Target{Sync: s.Name, RunID: "validate", Mode: s.Mode, Object: s.Object,
			Identifier: s.Identifier, Fields: fields, PrimaryKey: e.Project.Models[s.Model].PrimaryKey}
		dst, err := plugin.New(ctx, dcfg.Settings, target, e.Project.Dir)
		if err != nil {
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: destination %s: %s", s.Name, dcfg.Name, e.Redactor.Error(err))})
			continue
		}
		disc, ok := dst.(connector.Discoverer)
		if !ok {
			skipped = append(skipped, name)
			dst.Close(ctx)
			continue
		}
		schema, err := disc.Fields(ctx, s.Object)
		dst.Close(ctx)
		if err != nil {
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: %s", s.Name, e.Redactor.Error(err))})
			continue
		}
		checked = append(checked, name)
		problems = append(problems, checkMapping(s, dcfg, schema)...)
	}
	return problems, checked, skipped, nil
}

func checkMapping(s *config.Sync, dcfg *config.Destination, schema []connector.FieldInfo) []Problem {
	byName := map[string]connector.FieldInfo{}
	names := map[string]bool{}
	for _, f := range schema {
		byName[f.Name] = f
		names[f.Name] = true
	}
	var out []Problem
	for _, m := range s.Mapping {
		f, ok := byName[m.Field]
		switch {
		case !ok:
			out = append(out, Problem{Pos: m.Pos, Message: fmt.Sprintf("sync %s: %s %s has no field %q%s",
				s.Name, dcfg.Type, objectName(s), m.Field, suggestName(m.Field, names))})
		case f.ReadOnly:
			out = append(out, Problem{Pos: m.Pos, Message: fmt.Sprintf("sync %s: %s %s field %q is read-only: the destination sets it",
				s.Name, dcfg.Type, objectName(s), m.Field)})
		}
	}
	for _, id := range s.Identifier {
		if f, ok := byName[id]; ok && !f.Unique && !slices.Contains([]string{config.ModeInsert}, s.Mode) {
			out = append(out, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: identifier %q of %s %s does not hold unique values, so it cannot match records",
				s.Name, id, dcfg.Type, objectName(s))})
		}
	}
	return out
}

func objectName(s *config.Sync) string {
	if s.Object == "" {
		return "object"
	}
	return s.Object
}
