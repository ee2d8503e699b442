package config

import (
	"maps"
	"slices"
)

// Keys of the diff strategy: per sync, and diff_schema also per source.
const (
	keyDiff       = "diff"
	keyDiffSchema = "diff_schema"
)

// Diff strategies (a sync's diff key).
const (
	// DiffAuto diffs locally, unless the model's source diffs faster in
	// the warehouse (connector.Spec.WarehouseDiffAuto) and the sync's last
	// run read more than WarehouseDiffThreshold rows.
	DiffAuto = "auto"
	// DiffLocal reads every row out of the warehouse and diffs it against
	// the snapshot kept by Riptide (.riptide/snapshots or the state store).
	DiffLocal = "local"
	// DiffWarehouse keeps the snapshot in a table of the warehouse and
	// lets the warehouse compute the plan: only changed rows leave it.
	DiffWarehouse = "warehouse"
)

// DiffStrategies are the values a sync's diff key takes.
var DiffStrategies = []string{DiffAuto, DiffLocal, DiffWarehouse}

// WarehouseDiffThreshold is the model size above which diff: auto moves
// the diff into the warehouse: past a few million rows, reading every row
// out on every run costs more than one query joining the model with its
// snapshot where the data lives.
const WarehouseDiffThreshold = 5_000_000

// DefaultDiffSchema is the warehouse schema Riptide owns for snapshots.
const DefaultDiffSchema = "riptide"

// UseWarehouseDiff decides a sync's strategy: supported says whether the
// model's source can run the diff, auto whether diff: auto may choose it
// for a large model, lastRows is how many rows the sync's last run read
// (0 when it never ran).
func (s *Sync) UseWarehouseDiff(supported, auto bool, lastRows uint64) bool {
	if s.Schedule.Kind == ScheduleStream {
		// A stream commits what it delivers to the local snapshot, which
		// its batch runs must therefore use too (diff: warehouse is refused).
		return false
	}
	switch s.Diff {
	case DiffWarehouse:
		return supported
	case DiffLocal:
		return false
	}
	return supported && auto && lastRows > WarehouseDiffThreshold
}

// diffStrategy reads a sync's diff key.
func (l *loader) diffStrategy(n node, path string) string {
	v, ok := l.str(n, path)
	if !ok {
		return DiffAuto
	}
	if !contains(DiffStrategies, v) {
		l.errorAt(n.deref(), "%s: unknown diff strategy %q%s", path, v, orKnown(v, DiffStrategies, "strategies"))
		return DiffAuto
	}
	return v
}

// diffSchema reads a diff_schema: a plain name, as write_back's schema.
func (l *loader) diffSchema(n node, path string) string {
	name, ok := l.str(n, path)
	if ok && !writeBackName.MatchString(name) {
		l.errorAt(n.deref(), "%s: %q is not a plain name: use letters, digits and _ (not first), at most 63", path, name)
		return ""
	}
	return name
}

// sourceDiffSchema reads a source's diff_schema, a key that belongs to
// Riptide, not to the connector.
func (l *loader) sourceDiffSchema(d *def, src *Source) {
	pairs, _ := l.mapping(d.val, sectionSources.name+"."+d.name)
	for _, p := range pairs {
		if p.key == keyDiffSchema && !p.val.isNull() {
			src.DiffSchema = l.diffSchema(p.val, sectionSources.name+"."+d.name+"."+p.key)
		}
	}
}

// resolveDiff refuses diff: warehouse on a sync whose model's source
// cannot run it, and fills in each sync's DiffSchema: its own, else its
// source's, else DefaultDiffSchema.
func (l *loader) resolveDiff(p *Project) {
	names := slices.Sorted(maps.Keys(p.Syncs))
	for _, name := range names {
		s := p.Syncs[name]
		m, ok := p.Models[s.Model]
		if !ok {
			continue
		}
		src, ok := p.Sources[m.Source]
		if !ok {
			continue
		}
		if s.DiffSchema == "" {
			s.DiffSchema = src.DiffSchema
		}
		if s.DiffSchema == "" {
			s.DiffSchema = DefaultDiffSchema
		}
		spec, _ := lookupSpec(l.specs.Source, src.Type)
		if s.Diff == DiffWarehouse && !spec.WarehouseDiff {
			l.errorf(s.DiffPos, "%s.%s.%s: model %q reads source %q of type %s, which cannot run the diff in the warehouse; use diff: local (or auto)",
				sectionSyncs.name, name, keyDiff, s.Model, m.Source, src.Type)
		}
	}
}
