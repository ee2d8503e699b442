package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/riptide-data/riptide/internal/connector"
)

var syncKeys = []string{
	"model", "destination", "mode", "object", "identifier", "mapping",
	"schedule", "after", "max_change_pct", "max_rejected_pct", keyAlerts, keyWriteBack,
	keyDiff, keyDiffSchema,
}

// Guard defaults.
const (
	defaultMaxChangePct   = 0 // off
	defaultMaxRejectedPct = 50
)

func (l *loader) sync(d *def, destSpecs map[string]connector.Spec) *Sync {
	path := sectionSyncs.name + "." + d.name
	pairs, ok := l.definitionPairs(d, path)
	if !ok {
		return nil
	}
	errsBefore := len(l.errs)
	l.checkKeys(pairs, syncKeys, path)
	s := &Sync{
		Name:           d.name,
		Mode:           ModeUpsert,
		MapAll:         true,
		Schedule:       Schedule{Kind: ScheduleManual},
		MaxChangePct:   defaultMaxChangePct,
		MaxRejectedPct: defaultMaxRejectedPct,
		Diff:           DiffAuto,
		Pos:            d.pos(),
	}
	modeAt := d.where
	modeOK := true
	var sawModel, sawDest, destOK bool
	for _, p := range pairs {
		kpath := path + "." + p.key
		if p.val.isNull() && p.key != "model" && p.key != "destination" {
			continue // an empty value keeps the default
		}
		switch p.key {
		case "model":
			sawModel = true
			s.Model, _ = l.ref(p.val, sectionModels, kpath)
		case "destination":
			sawDest = true
			s.Destination, destOK = l.ref(p.val, sectionDestinations, kpath)
		case "mode":
			modeAt = p.val.deref()
			s.Mode, modeOK = l.str(p.val, kpath)
			if modeOK && !contains(Modes, s.Mode) {
				l.errorAt(modeAt, "%s: unknown mode %q%s", kpath, s.Mode, orKnown(s.Mode, Modes, "modes"))
				modeOK = false
			}
		case "object":
			s.Object, _ = l.str(p.val, kpath)
		case "identifier":
			s.Identifier, _ = l.strList(p.val, kpath)
		case "mapping":
			s.Mapping, _ = l.fieldMapping(p.val, kpath)
			s.MapAll = false
		case "schedule":
			text, ok := l.str(p.val, kpath)
			if !ok {
				break
			}
			sched, err := ParseSchedule(text)
			if err != nil {
				l.errorAt(p.val.deref(), "%s: %v (write a five-field cron expression, \"every 10m\", \"stream\" or \"manual\")", kpath, err)
				break
			}
			s.Schedule, s.SchedulePos = sched, p.val.pos()
		case "after":
			s.After, _ = l.after(p.val, kpath, d.name)
		case "max_change_pct":
			s.MaxChangePct = l.percent(p.val, kpath, defaultMaxChangePct)
		case "max_rejected_pct":
			s.MaxRejectedPct = l.percent(p.val, kpath, defaultMaxRejectedPct)
		case keyAlerts:
			l.syncAlerts(d.name, p.val, kpath)
		case keyWriteBack:
			s.WriteBack, _ = l.writeBack(p.val, kpath, true)
		case keyDiff:
			s.Diff, s.DiffPos = l.diffStrategy(p.val, kpath), p.val.pos()
		case keyDiffSchema:
			s.DiffSchema = l.diffSchema(p.val, kpath)
		}
	}
	if !sawModel {
		l.errorAt(d.where, "%s: missing model", path)
	}
	if !sawDest {
		l.errorAt(d.where, "%s: missing destination", path)
	}
	if spec, known := destSpecs[s.Destination]; destOK && known && modeOK && len(spec.Modes) > 0 && !spec.SupportsMode(s.Mode) {
		l.errorAt(modeAt, "%s: mode %s is not supported by destination %q (type %s supports %s)",
			path, s.Mode, s.Destination, spec.Type, strings.Join(spec.Modes, ", "))
	}
	if len(l.errs) > errsBefore {
		return nil
	}
	return s
}

// percent reads a guard threshold: a number from 0 to 100.
func (l *loader) percent(n node, path string, def float64) float64 {
	x, ok := number(n)
	if !ok || x < 0 || x > 100 {
		l.errorAt(n.deref(), "%s: expected a number from 0 to 100, got %s", path, describe(n))
		return def
	}
	return x
}

var mappingSpecKeys = []string{"column", "value", "template", "type"}

// Conversions a mapping's `type` asks for (see package transform).
var MappingTypes = []string{"string", "integer", "number", "boolean", "date", "datetime", "epoch_ms"}

// fieldMapping reads a sync's mapping, destination field by destination
// field, in the order written.
func (l *loader) fieldMapping(n node, path string) ([]Mapping, bool) {
	pairs, ok := l.mapping(n, path)
	if !ok {
		return nil, false
	}
	if len(pairs) == 0 {
		l.errorAt(n.deref(), "%s: is empty; leave mapping out to send every column under its own name", path)
		return nil, false
	}
	out := make([]Mapping, 0, len(pairs))
	allOK := true
	for _, p := range pairs {
		fpath := path + "." + p.key
		if p.key == "" {
			fpath = path + `.""`
		}
		m, ok := l.fieldSpec(p, fpath)
		allOK = allOK && ok
		out = append(out, m)
	}
	return out, allOK
}

const mappingForms = "a column name, {column: name}, {value: ...} or {template: \"...\"}"

func (l *loader) fieldSpec(p pair, path string) (Mapping, bool) {
	m := Mapping{Field: p.key, Pos: p.knode.pos()}
	if p.key == "" {
		l.errorAt(p.knode, "%s: a destination field name must not be empty", path)
		return m, false
	}
	v := p.val.deref()
	switch v.Kind {
	case yaml.ScalarNode:
		switch {
		case v.ShortTag() == "!!null":
			l.errorAt(v, "%s: expected %s, got %s", path, mappingForms, describe(v))
			return m, false
		case v.ShortTag() != "!!str":
			l.errorAt(v, "%s: expected %s, got %s (write {value: %s} for a static value)", path, mappingForms, describe(v), v.Value)
			return m, false
		case v.Value == "":
			l.errorAt(v, "%s: the column name must not be empty", path)
			return m, false
		}
		m.Column = v.Value
		return m, true
	case yaml.MappingNode:
	default:
		l.errorAt(v, "%s: expected %s, got %s", path, mappingForms, describe(v))
		return m, false
	}
	entries, ok := l.mapping(v, path)
	if !ok {
		return m, false
	}
	for i, e := range entries {
		if e.key != "type" {
			continue
		}
		typ, ok := l.str(e.val, path+".type")
		if !ok {
			return m, false
		}
		if !slices.Contains(MappingTypes, typ) {
			l.errorAt(e.val.deref(), "%s.type: unknown type %q%s", path, typ, orKnown(typ, MappingTypes, "types"))
			return m, false
		}
		m.Type = typ
		entries = slices.Delete(slices.Clone(entries), i, i+1)
		break
	}
	if len(entries) != 1 {
		keys := make([]string, len(entries))
		for i, e := range entries {
			keys[i] = e.key
		}
		got := "nothing"
		if len(keys) > 0 {
			got = strings.Join(keys, ", ")
		}
		l.errorAt(v, "%s: expected exactly one of column, value or template (and optionally type), got %s", path, got)
		return m, false
	}
	e := entries[0]
	switch e.key {
	case "column":
		col, ok := l.str(e.val, path+".column")
		if ok && col == "" {
			l.errorAt(e.val.deref(), "%s.column: must not be empty", path)
			ok = false
		}
		m.Column = col
		return m, ok
	case "value":
		if m.Type != "" {
			l.errorAt(v, "%s: type converts a column or a template; write the static value in the type it should have", path)
			return m, false
		}
		val, ok := l.staticValue(e.val, path+".value", 0)
		m.Value, m.IsValue = val, true
		return m, ok
	case "template":
		src, ok := l.str(e.val, path+".template")
		if !ok {
			return m, false
		}
		if strings.TrimSpace(src) == "" {
			l.errorAt(e.val.deref(), "%s.template: must not be empty", path)
			return m, false
		}
		if err := checkTemplate(p.key, src); err != nil {
			l.errorAt(e.val.deref(), "%s.template: %v", path, err)
			return m, false
		}
		m.Template = src
		return m, true
	}
	l.errorAt(e.knode, "%s: unknown key %q%s", path, e.key, orKnown(e.key, mappingSpecKeys, "known keys"))
	return m, false
}

// maxValueDepth bounds how deeply a static value may nest; an alias to one
// of its own parents would otherwise nest forever.
const maxValueDepth = 64

// staticValue converts a static mapping value into plain Go values: string,
// int64, float64, bool, nil, []any and map[string]any. Messages name the
// mapping entry and point at the offending part; the first problem ends the
// conversion, as an alias loop would otherwise repeat it at every level.
func (l *loader) staticValue(n node, path string, depth int) (any, bool) {
	n = n.deref()
	if depth > maxValueDepth {
		l.errorAt(n, "%s: nests more than %d levels deep", path, maxValueDepth)
		return nil, false
	}
	if !l.spend(len(n.Content)) {
		l.errorAt(n, "%s: too many aliases to expand", path)
		return nil, false
	}
	switch n.Kind {
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := l.staticValue(node{n.file, c}, path, depth+1)
			if !ok {
				return nil, false
			}
			list = append(list, v)
		}
		return list, true
	case yaml.MappingNode:
		pairs, ok := l.mapping(n, path)
		if !ok {
			return nil, false
		}
		obj := make(map[string]any, len(pairs))
		for _, p := range pairs {
			v, ok := l.staticValue(p.val, path, depth+1)
			if !ok {
				return nil, false
			}
			obj[p.key] = v
		}
		return obj, true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, true
			}
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				return i, true
			}
			l.errorAt(n, "%s: integer %s is out of range", path, n.Value)
			return nil, false
		case "!!float":
			var x float64
			if err := n.Decode(&x); err == nil {
				return x, true
			}
		default:
			// Strings, and timestamps and other tagged scalars kept as
			// written: the destination decides what they mean.
			return n.Value, true
		}
		l.errorAt(n, "%s: invalid %s value %q", path, n.ShortTag(), n.Value)
		return nil, false
	}
	l.errorAt(n, "%s: unsupported value %s", path, describe(n))
	return nil, false
}
