package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
)

// Problem is something `validate --connect` found wrong with a sync.
type Problem struct {
	Pos     config.Pos
	Message string
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s", p.Pos, p.Message) }

// CheckDestinations connects to the catalog of each sync's destination and
// checks the sync against what the account holds: an object it does not
// have (with the nearest name), unknown fields (likewise), read-only
// fields, an identifier that cannot match records, and mapped columns
// whose type (read from the model's query, no rows fetched) can never fit
// the field's. Syncs whose destination has no schema API are skipped and
// returned in skipped.
func (e *Engine) CheckDestinations(ctx context.Context, syncs []string) (problems []Problem, checked, skipped []string, err error) {
	modelTypes := map[string]map[string]string{}
	// Syncs sharing a destination list its objects once.
	objectLists := map[string][]connector.ObjectInfo{}
	listed := func(ctx context.Context, cat connector.Catalog, dest string) ([]connector.ObjectInfo, error) {
		if objs, ok := objectLists[dest]; ok {
			return objs, nil
		}
		objs, err := cat.Objects(ctx)
		if err == nil {
			objectLists[dest] = objs
		}
		return objs, err
	}
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
		// Building the sync's destination reports what its settings and
		// target get wrong before the vendor is asked anything.
		dst, err := plugin.New(ctx, dcfg.Settings, target, e.Project.Dir)
		if err != nil {
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: destination %s: %s", s.Name, dcfg.Name, e.Redactor.Error(err))})
			continue
		}
		dst.Close(ctx)
		cat, err := e.catalog(ctx, plugin, dcfg)
		if err != nil {
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: destination %s: %s", s.Name, dcfg.Name, e.Redactor.Error(err))})
			continue
		}
		if cat == nil {
			skipped = append(skipped, name)
			continue
		}
		objects, err := listed(ctx, cat, dcfg.Name)
		switch {
		case errors.Is(err, connector.ErrNotListed):
		case err != nil:
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: list %s objects: %s", s.Name, dcfg.Type, e.Redactor.Error(err))})
			continue
		case s.Object == "":
			// The destination's default object: New accepted it.
		default:
			if p, ok := checkObject(s, dcfg, objects); !ok {
				problems = append(problems, p)
				checked = append(checked, name)
				continue // its fields cannot be read
			}
		}
		schema, err := cat.Fields(ctx, s.Object)
		if errors.Is(err, connector.ErrNotListed) {
			checked = append(checked, name)
			continue
		}
		if err != nil {
			problems = append(problems, Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: %s", s.Name, e.Redactor.Error(err))})
			continue
		}
		checked = append(checked, name)
		problems = append(problems, checkMapping(s, dcfg, schema)...)
		types, err := e.columnTypes(ctx, s.Model, modelTypes)
		if err != nil {
			problems = append(problems, Problem{Pos: e.Project.Models[s.Model].Pos, Message: fmt.Sprintf("model %s: %s", s.Model, e.Redactor.Error(err))})
			continue
		}
		problems = append(problems, checkTypes(s, dcfg, schema, types)...)
	}
	return problems, checked, skipped, nil
}

// catalog connects the destination's catalog: nil when its vendor has no
// schema API.
func (e *Engine) catalog(ctx context.Context, plugin connector.DestinationPlugin, dcfg *config.Destination) (connector.Catalog, error) {
	if plugin.Catalog == nil {
		return nil, nil
	}
	return plugin.Catalog(ctx, dcfg.Settings, e.Project.Dir)
}

// checkObject reports a sync whose object the destination account does
// not hold.
func checkObject(s *config.Sync, dcfg *config.Destination, objects []connector.ObjectInfo) (Problem, bool) {
	names := map[string]bool{}
	for _, o := range objects {
		// Vendors match object names without regard to case (Salesforce).
		if strings.EqualFold(o.Name, s.Object) || slices.ContainsFunc(o.Aliases, func(a string) bool { return strings.EqualFold(a, s.Object) }) {
			return Problem{}, true
		}
		names[o.Name] = true
	}
	return Problem{Pos: s.Pos, Message: fmt.Sprintf("sync %s: %s destination %s has no object %q%s",
		s.Name, dcfg.Type, dcfg.Name, s.Object, suggestName(s.Object, names))}, false
}

// columnTypes runs a model's query only to read its columns' types
// (cached per model): the rows are not read.
func (e *Engine) columnTypes(ctx context.Context, model string, cache map[string]map[string]string) (map[string]string, error) {
	if types, ok := cache[model]; ok {
		return types, nil
	}
	m := e.Project.Models[model]
	src := e.Project.Sources[m.Source]
	plugin, ok := e.Sources[src.Type]
	if !ok {
		return nil, fmt.Errorf("source %s: unknown type %q", src.Name, src.Type)
	}
	conn, err := plugin.New(ctx, src.Settings, e.Project.Dir)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, m.SQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := map[string]string{}
	for _, c := range rows.Columns() {
		types[c.Name] = c.DatabaseType
	}
	cache[model] = types
	return types, nil
}

// checkTypes reports mapped columns whose type can never fit the
// destination field's.
func checkTypes(s *config.Sync, dcfg *config.Destination, schema []connector.FieldInfo, types map[string]string) []Problem {
	byName := map[string]connector.FieldInfo{}
	for _, f := range schema {
		byName[f.Name] = f
	}
	var out []Problem
	for _, m := range s.Mapping {
		f, ok := byName[m.Field]
		if !ok {
			continue
		}
		dest := destinationClass(f.Type)
		if m.Type != "" {
			// The mapping converts the value; what it converts to must fit.
			if conv := mappingClass(m.Type); !fits(conv, dest) {
				out = append(out, Problem{Pos: m.Pos, Message: fmt.Sprintf("sync %s: mapping %s converts to %s, but %s %s field %q holds %s",
					s.Name, m.Field, m.Type, dcfg.Type, objectName(s), m.Field, dest)})
			}
			continue
		}
		if m.Column == "" {
			continue
		}
		colType, ok := types[m.Column]
		if !ok {
			continue // the run reports missing columns with the mapping
		}
		col := warehouseClass(colType)
		if !fits(col, dest) {
			out = append(out, Problem{Pos: m.Pos, Message: fmt.Sprintf("sync %s: column %s is %s (%s) in the model, but %s %s field %q holds %s%s",
				s.Name, m.Column, col, colType, dcfg.Type, objectName(s), m.Field, dest, convertHint(col, dest))})
		}
	}
	return out
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

// typeClass is a coarse kind of value, enough to tell a mapping that can
// never fit its destination field from one that can.
type typeClass int

const (
	classUnknown typeClass = iota
	classText
	classNumber
	classBool
	classDate
	classTime
	classJSON
)

func (c typeClass) String() string {
	return [...]string{"unknown", "text", "a number", "a boolean", "a date", "a timestamp", "JSON"}[c]
}

// warehouseClass classifies a warehouse column type name (DuckDB,
// PostgreSQL, MySQL, SQLite spellings).
func warehouseClass(t string) typeClass {
	t = strings.ToUpper(strings.TrimSpace(t))
	switch {
	case t == "":
		return classUnknown
	case strings.HasSuffix(t, "[]"), strings.Contains(t, "JSON"), strings.HasPrefix(t, "STRUCT"), strings.HasPrefix(t, "MAP"), strings.HasPrefix(t, "LIST"):
		return classJSON
	case strings.Contains(t, "TIMESTAMP"), strings.Contains(t, "DATETIME"):
		return classTime
	case t == "DATE":
		return classDate
	case strings.HasPrefix(t, "BOOL"):
		return classBool
	case strings.Contains(t, "INT"), strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"), strings.HasPrefix(t, "DOUBLE"),
		strings.HasPrefix(t, "FLOAT"), t == "REAL", t == "MONEY":
		return classNumber
	case strings.Contains(t, "CHAR"), strings.Contains(t, "TEXT"), t == "STRING", t == "UUID", t == "NAME", strings.HasPrefix(t, "ENUM"):
		return classText
	}
	return classUnknown
}

// destinationClass classifies a vendor's field type; text-like fields
// (string, email, picklist …) take any value as text and are not checked.
func destinationClass(t string) typeClass {
	switch strings.ToLower(t) {
	case "number", "double", "currency", "int", "integer", "percent", "decimal", "long", "float":
		return classNumber
	case "bool", "boolean", "booleancheckbox", "checkbox":
		return classBool
	case "date":
		return classDate
	case "datetime", "date-time", "timestamp":
		return classTime
	}
	return classUnknown
}

// mappingClass is the class of values a mapping's type converts to.
func mappingClass(typ string) typeClass {
	switch typ {
	case "integer", "number", "epoch_ms":
		return classNumber
	case "boolean":
		return classBool
	case "date":
		return classDate
	case "datetime":
		return classTime
	case "string":
		return classText
	}
	return classUnknown
}

// convertHint names the mapping type that would convert a text column for
// the field: text that holds numbers or dates can be converted per row.
func convertHint(col, dest typeClass) string {
	if col != classText {
		return ""
	}
	switch dest {
	case classNumber:
		return " (add type: number to the mapping to convert the text)"
	case classBool:
		return " (add type: boolean to the mapping to convert the text)"
	}
	return ""
}

// fits reports whether values of a model column's class can go into a
// destination field of class dest. Text may hold a number or a date the
// vendor parses, so only kinds that can never fit are refused.
func fits(col, dest typeClass) bool {
	if col == classUnknown || dest == classUnknown || col == dest {
		return true
	}
	switch dest {
	case classNumber:
		return false
	case classBool:
		return col == classNumber // 0/1 columns (MySQL has no boolean)
	case classDate, classTime:
		return col == classText || col == classDate || col == classTime
	}
	return true
}

// ErrNoCatalog is returned by Catalog for a destination whose vendor has
// no schema API.
var ErrNoCatalog = errors.New("its vendor has no schema API")

// Catalog connects the catalog of the named destination of the project.
func (e *Engine) Catalog(ctx context.Context, dest string) (connector.Catalog, error) {
	dcfg, ok := e.Project.Destinations[dest]
	if !ok {
		return nil, fmt.Errorf("no destination named %q%s", dest, suggestName(dest, e.Project.Destinations))
	}
	plugin, ok := e.Destinations[dcfg.Type]
	if !ok {
		return nil, fmt.Errorf("destination %s: unknown type %q", dest, dcfg.Type)
	}
	if plugin.Catalog == nil {
		return nil, fmt.Errorf("destination %s (%s): %w", dest, dcfg.Type, ErrNoCatalog)
	}
	cat, err := plugin.Catalog(ctx, dcfg.Settings, e.Project.Dir)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %s", dest, e.Redactor.Error(err))
	}
	return cat, nil
}
