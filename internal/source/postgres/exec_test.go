package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/testsvc"
)

func TestExecIsOneTransaction(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	src, err := New(ctx, connector.Settings{"url": url}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ex, ok := src.(connector.Executor)
	if !ok || ex.Dialect() != "postgres" {
		t.Fatalf("the PostgreSQL source is no postgres Executor (%v)", ok)
	}
	schema := fmt.Sprintf("exec_%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = ex.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	if err := ex.Exec(ctx, "CREATE SCHEMA "+schema, "CREATE TABLE "+schema+".t (k text PRIMARY KEY, v int)",
		"INSERT INTO "+schema+".t VALUES ('a', 1)"); err != nil {
		t.Fatal(err)
	}
	err = ex.Exec(ctx, "INSERT INTO "+schema+".t VALUES ('b', 2)", "INSERT INTO "+schema+".t VALUES ('a', 3)")
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate key: %v", err)
	}
	// The connection is still usable after the server's error.
	if err := ex.Exec(ctx, "INSERT INTO "+schema+".t VALUES ('c', 3)"); err != nil {
		t.Fatal(err)
	}
	rows, err := src.Query(ctx, "SELECT string_agg(k, ',' ORDER BY k) FROM "+schema+".t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	if got := rows.Values()[0]; got != "a,c" {
		t.Errorf("keys after a failed transaction: %v, want a,c", got)
	}
}
