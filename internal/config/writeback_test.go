package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

// writeBackSpecs are testSpecs with a source type that accepts writes
// (duckdb) and one that does not (postgres, here).
func writeBackSpecs() Specs {
	specs := testSpecs()
	base := specs.Source
	specs.Source = func(typ string) (connector.Spec, bool) {
		s, ok := base(typ)
		s.WriteBack = typ == "duckdb"
		return s, ok
	}
	return specs
}

func loadWriteBack(t *testing.T, yaml string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ProjectFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir, writeBackSpecs())
}

const writeBackBase = `
sources:
  wh: {type: duckdb, path: w.duckdb}
  other: {type: duckdb, path: o.duckdb}
  ro: {type: duckdb, path: w.duckdb, read_only: true}
  pg: {type: postgres, url: "postgres://x@localhost/db"}
destinations:
  hook: {type: webhook, url: "http://127.0.0.1:1/"}
models:
  users: {source: wh, primary_key: id, sql: "select 1 as id"}
`

func TestWriteBackInheritedOverriddenAndTurnedOff(t *testing.T) {
	p, err := loadWriteBack(t, writeBackBase+`
write_back: {source: wh}
syncs:
  inherits: {model: users, destination: hook}
  own: {model: users, destination: hook, write_back: {source: other, schema: audit, table: rows_out}}
  none: {model: users, destination: hook, write_back: false}
`)
	if err != nil {
		t.Fatal(err)
	}
	type got struct{ Source, Schema, Table string }
	view := func(wb *WriteBack) *got {
		if wb == nil {
			return nil
		}
		return &got{wb.Source, wb.Schema, wb.Table}
	}
	want := map[string]*got{
		"project":  {"wh", DefaultWriteBackSchema, DefaultWriteBackTable},
		"inherits": {"wh", DefaultWriteBackSchema, DefaultWriteBackTable},
		"own":      {"other", "audit", "rows_out"},
		"none":     nil,
	}
	have := map[string]*got{"project": view(p.WriteBack)}
	for name, s := range p.Syncs {
		have[name] = view(s.WriteBack)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("write_back (-want +got):\n%s", diff)
	}
	if p.WriteBack.Pos.Line != 12 {
		t.Errorf("project write_back at %s, want line 12", p.WriteBack.Pos)
	}
}

func TestWriteBackErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"undefined source", "write_back: {source: whh}\n", `write_back.source: source "whh" is not defined (did you mean "wh"?)`},
		{"type cannot be written", "write_back: {source: pg}\n", `write_back: source "pg" is of type postgres, which cannot be written to`},
		{"read only", "syncs:\n  s: {model: users, destination: hook, write_back: {source: ro}}\n",
			`syncs.s.write_back: source "ro" is opened read_only`},
		{"missing source", "write_back: {schema: audit}\n", "write_back: missing source"},
		{"unknown key", "write_back: {source: wh, tabel: x}\n", `write_back: unknown key "tabel" (did you mean "table"?)`},
		{"bad table name", "write_back: {source: wh, table: \"sync rows\"}\n", `write_back.table: "sync rows" is not a plain name`},
		{"bad schema name", "write_back: {source: wh, schema: 1st}\n", `write_back.schema: "1st" is not a plain name`},
		{"true on a sync", "syncs:\n  s: {model: users, destination: hook, write_back: true}\n",
			"syncs.s.write_back: expected {source: NAME, schema: …, table: …}, or false to write nothing back, got true"},
		{"false project-wide", "write_back: false\n", "write_back: expected a mapping, got false"},
		{"typo top-level", "write_bak: {source: wh}\n", `unknown top-level key "write_bak" (did you mean "write_back"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWriteBack(t, writeBackBase+tt.yaml)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: %v, want errors", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("errors:\n%v\nwant one containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "riptide.yaml:1") {
				t.Errorf("errors:\n%v\nwant a position in riptide.yaml", err)
			}
		})
	}
}
