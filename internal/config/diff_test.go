package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
)

// diffSpecs are testSpecs where duckdb can diff in the warehouse and
// postgres (here) cannot.
func diffSpecs() Specs {
	specs := testSpecs()
	base := specs.Source
	specs.Source = func(typ string) (connector.Spec, bool) {
		s, ok := base(typ)
		s.WarehouseDiff = typ == "duckdb"
		return s, ok
	}
	return specs
}

func loadDiff(t *testing.T, yaml string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ProjectFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir, diffSpecs())
}

const diffBase = `
sources:
  wh: {type: duckdb, path: w.duckdb, diff_schema: rt_snapshots}
  plain: {type: duckdb, path: p.duckdb}
  pg: {type: postgres, url: "postgres://x@localhost/db"}
destinations:
  hook: {type: webhook, url: "http://127.0.0.1:1/"}
models:
  users: {source: wh, primary_key: id, sql: "select 1 as id"}
  plain_users: {source: plain, primary_key: id, sql: "select 1 as id"}
  pg_users: {source: pg, primary_key: id, sql: "select 1 as id"}
`

func TestDiffStrategyAndSchema(t *testing.T) {
	p, err := loadDiff(t, diffBase+`
syncs:
  defaults: {model: plain_users, destination: hook}
  from_source: {model: users, destination: hook, diff: warehouse}
  own_schema: {model: users, destination: hook, diff: warehouse, diff_schema: mine}
  local: {model: pg_users, destination: hook, diff: local}
`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]string{
		"defaults":    {DiffAuto, DefaultDiffSchema},
		"from_source": {DiffWarehouse, "rt_snapshots"},
		"own_schema":  {DiffWarehouse, "mine"},
		"local":       {DiffLocal, DefaultDiffSchema},
	} {
		s := p.Syncs[name]
		if s.Diff != want[0] || s.DiffSchema != want[1] {
			t.Errorf("sync %s: diff %q, diff_schema %q; want %q, %q", name, s.Diff, s.DiffSchema, want[0], want[1])
		}
	}
}

func TestDiffRefusals(t *testing.T) {
	for name, c := range map[string]struct{ syncs, want string }{
		"unsupported source": {`
syncs:
  s: {model: pg_users, destination: hook, diff: warehouse}
`, `syncs.s.diff: model "pg_users" reads source "pg" of type postgres, which cannot run the diff in the warehouse`},
		"unknown strategy": {`
syncs:
  s: {model: users, destination: hook, diff: warehous}
`, `unknown diff strategy "warehous" (did you mean "warehouse"?)`},
		"bad schema": {`
syncs:
  s: {model: users, destination: hook, diff_schema: "a b"}
`, `syncs.s.diff_schema: "a b" is not a plain name`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadDiff(t, diffBase+c.syncs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("load: %v\nwant an error containing %s", err, c.want)
			}
		})
	}
}

func TestUseWarehouseDiff(t *testing.T) {
	for _, c := range []struct {
		diff            string
		supported, auto bool
		lastRows        uint64
		want            bool
	}{
		{DiffWarehouse, true, true, 0, true},
		{DiffWarehouse, true, false, 0, true}, // chosen outright
		{DiffLocal, true, true, 1 << 40, false},
		{DiffAuto, true, true, WarehouseDiffThreshold, false},
		{DiffAuto, true, true, WarehouseDiffThreshold + 1, true},
		{DiffAuto, true, false, 1 << 40, false}, // a source whose warehouse diff is slower
		{DiffAuto, false, true, 1 << 40, false},
	} {
		s := &Sync{Diff: c.diff}
		if got := s.UseWarehouseDiff(c.supported, c.auto, c.lastRows); got != c.want {
			t.Errorf("diff %s, supported %v, auto %v, last run %d rows: warehouse %v, want %v", c.diff, c.supported, c.auto, c.lastRows, got, c.want)
		}
	}
}
