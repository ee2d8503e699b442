package config

import (
	"maps"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// keyWriteBack is the project-wide (top-level) and per-sync key that
// writes each run's row outcomes back to a warehouse.
const keyWriteBack = "write_back"

// Write-back defaults.
const (
	DefaultWriteBackSchema = "riptide"
	DefaultWriteBackTable  = "sync_rows"
)

// WriteBack says where a sync's row outcomes are written: a table of
// every row of every run (run_id, sync, key, op, status, error, at), in a
// source that accepts writes.
type WriteBack struct {
	Source string
	Schema string // ignored by SQLite, which has no schemas
	Table  string
	Pos    Pos
}

var writeBackKeys = []string{"source", "schema", "table"}

// writeBackName is what a schema or table may be called: a plain
// identifier every warehouse accepts, no longer than PostgreSQL's limit.
var writeBackName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// writeBack reads a write_back value: a mapping, or (on a sync) false to
// leave out a project-wide write_back, which it returns as a WriteBack
// with no Source. The source is checked to exist here and to accept
// writes by resolveWriteBack, once sources are read.
func (l *loader) writeBack(n node, path string, onSync bool) (*WriteBack, bool) {
	v := n.deref()
	if onSync && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		var b bool
		if err := v.Decode(&b); err == nil && !b {
			return &WriteBack{Pos: n.pos()}, true
		}
		l.errorAt(v, "%s: expected {source: NAME, schema: …, table: …}, or false to write nothing back, got %s", path, describe(v))
		return nil, false
	}
	pairs, ok := l.mapping(n, path)
	if !ok {
		return nil, false
	}
	l.checkKeys(pairs, writeBackKeys, path)
	wb := &WriteBack{Schema: DefaultWriteBackSchema, Table: DefaultWriteBackTable, Pos: v.pos()}
	allOK := true
	sawSource := false
	for _, p := range pairs {
		kpath := path + "." + p.key
		switch p.key {
		case "source":
			sawSource = true
			name, ok := l.ref(p.val, sectionSources, kpath)
			wb.Source, allOK = name, allOK && ok
		case "schema", "table":
			name, ok := l.str(p.val, kpath)
			if ok && !writeBackName.MatchString(name) {
				l.errorAt(p.val.deref(), "%s: %q is not a plain name: use letters, digits and _ (not first), at most 63", kpath, name)
				ok = false
			}
			allOK = allOK && ok
			if p.key == "schema" {
				wb.Schema = name
			} else {
				wb.Table = name
			}
		default:
			allOK = false
		}
	}
	if !sawSource {
		l.errorAt(v, "%s: missing source (the warehouse to write row outcomes to)", path)
		allOK = false
	}
	return wb, allOK
}

// resolveWriteBack gives every sync without a write_back of its own the
// project's, drops the ones written false, and checks that each source
// written to accepts writes.
func (l *loader) resolveWriteBack(p *Project, sources map[string]*Source) {
	if l.writeBackAt != nil && !l.writeBackAt.val.isNull() {
		p.WriteBack, _ = l.writeBack(l.writeBackAt.val, keyWriteBack, false)
	}
	checked := map[*WriteBack]bool{}
	check := func(wb *WriteBack, path string) {
		if wb == nil || wb.Source == "" || checked[wb] {
			return
		}
		checked[wb] = true
		src, ok := sources[wb.Source]
		if !ok {
			return // reported where it is defined or referenced
		}
		spec, _ := lookupSpec(l.specs.Source, src.Type)
		switch {
		case !spec.WriteBack:
			l.errorf(wb.Pos, "%s: source %q is of type %s, which cannot be written to; name a source of a type that can", path, wb.Source, src.Type)
		case src.Settings.Bool("read_only"):
			l.errorf(wb.Pos, "%s: source %q is opened read_only, so row outcomes cannot be written to it", path, wb.Source)
		}
	}
	check(p.WriteBack, keyWriteBack)
	names := slices.Sorted(maps.Keys(p.Syncs))
	for _, name := range names {
		s := p.Syncs[name]
		switch {
		case s.WriteBack == nil:
			s.WriteBack = p.WriteBack
		case s.WriteBack.Source == "":
			s.WriteBack = nil // write_back: false
		default:
			check(s.WriteBack, sectionSyncs.name+"."+name+"."+keyWriteBack)
		}
	}
}
