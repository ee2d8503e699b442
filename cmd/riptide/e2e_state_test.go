package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestE2EStateOnPostgres runs a project on the PostgreSQL state store,
// chosen with --state, then a copy of the project on another "machine"
// (its own directory, no .riptide) that names the same store with the
// state key: the run history, the snapshot and the tokens are shared.
func TestE2EStateOnPostgres(t *testing.T) {
	t.Parallel()
	url := testsvc.PostgresURL(t)
	p, srv := hookSetup(t, 4)

	v, r := p.runJSON("--state", url, "users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=10 chg=0 rem=0 rej=0 ok=10 fail=0" {
		t.Fatalf("first run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".riptide", "state.db")); !os.IsNotExist(err) {
		t.Errorf("--state postgres://… still made the embedded store: %v", err)
	}

	other := &proj{t: t, dir: t.TempDir(), env: append(p.env, "RIPTIDE_STATE="+url)}
	yaml, err := os.ReadFile(filepath.Join(p.dir, "riptide.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	other.write("riptide.yaml", "state: ${RIPTIDE_STATE}\n"+string(yaml))
	warehouse, err := os.ReadFile(filepath.Join(p.dir, "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	other.write("warehouse.duckdb", string(warehouse))
	other.sql(`UPDATE users SET plan = 'pro' WHERE id = 4`)

	srv.Reset()
	v, r = other.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=0 chg=1 rem=0 rej=0 ok=1 fail=0" {
		t.Fatalf("run on the second machine: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if recs := srv.Records(); len(recs) != 1 || recs[0].Key != "4" {
		t.Errorf("second machine sent %+v", recs)
	}
	if r = other.riptide("runs", "users_to_hook"); r.code != 0 || strings.Count(r.stdout, "succeeded") != 2 {
		t.Errorf("shared run history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r = other.riptide("tokens", "create", "--name", "ops", "--role", "admin"); r.code != 0 {
		t.Fatalf("tokens create: exit %d, %s", r.code, r.stderr)
	}
	if r = p.riptide("--state", url, "tokens", "list"); r.code != 0 || !strings.Contains(r.stdout, "ops") {
		t.Errorf("token made on the other machine: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	bad := &proj{t: t, dir: p.dir, env: p.env}
	r = bad.riptide("--state", "postgres://riptide:hunter2@127.0.0.1:1/nowhere?connect_timeout=2", "runs")
	if r.code == 0 || !strings.Contains(r.stderr, "state store") || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("unreachable store: exit %d, %q", r.code, r.stderr)
	}
}
