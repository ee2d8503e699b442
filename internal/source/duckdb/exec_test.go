package duckdb

import (
	"context"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
)

func TestExecIsOneTransaction(t *testing.T) {
	src := openMemory(t)
	ctx := context.Background()
	ex, ok := connector.Source(src).(connector.Executor)
	if !ok || ex.Dialect() != "duckdb" {
		t.Fatalf("the DuckDB source is no duckdb Executor (%v)", ok)
	}
	if err := ex.Exec(ctx, "CREATE SCHEMA s", "CREATE TABLE s.t (k VARCHAR PRIMARY KEY, v INTEGER)", "INSERT INTO s.t VALUES ('a', 1)"); err != nil {
		t.Fatal(err)
	}
	// The second statement breaks the key: the first must not stay.
	err := ex.Exec(ctx, "INSERT INTO s.t VALUES ('b', 2)", "INSERT INTO s.t VALUES ('a', 3)")
	if err == nil || !strings.Contains(err.Error(), "exec:") {
		t.Fatalf("duplicate key: %v", err)
	}
	if got := count(t, src, "SELECT count(*) FROM s.t"); got != 1 {
		t.Errorf("%d rows after a failed transaction, want 1", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ex.Exec(cctx, "INSERT INTO s.t VALUES ('c', 4)"); err != context.Canceled {
		t.Errorf("canceled: %v", err)
	}
}

func TestExecRefusedReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw, err := New(context.Background(), connector.Settings{"path": "w.duckdb"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro, err := New(context.Background(), connector.Settings{"path": "w.duckdb", "read_only": true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.(connector.Executor).Exec(context.Background(), "CREATE TABLE t (a INTEGER)")
	if err == nil || !strings.Contains(err.Error(), "read_only") {
		t.Fatalf("read-only exec: %v", err)
	}
}

func count(t *testing.T, src connector.Source, sql string) int64 {
	t.Helper()
	rows, err := src.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	return rows.Values()[0].(int64)
}
