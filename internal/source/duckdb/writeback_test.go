package duckdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
)

func TestWriteBack(t *testing.T) {
	dir := t.TempDir()
	sourcetest.WriteBack(t, func(t *testing.T) connector.Source {
		src, err := New(context.Background(), connector.Settings{"path": "w.duckdb"}, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}, "riptide", "sync_rows", "riptide.sync_rows")
}

// Write-back must not wait for a model's query on the same database to
// finish: the engine writes rejected rows while it still reads.
func TestWriteBackWhileQueryStreams(t *testing.T) {
	src := openMemory(t)
	ctx := context.Background()
	rows, err := src.Query(ctx, "SELECT * FROM range(100000)")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	outcomes := make([]connector.Outcome, 5000) // more than one chunk
	for i := range outcomes {
		outcomes[i] = connector.Outcome{RunID: "r", Sync: "s", Key: "k", Status: connector.OutcomeSucceeded, At: time.Now()}
	}
	if err := src.WriteOutcomes(ctx, "main", "rows_out", outcomes); err != nil {
		t.Fatal(err)
	}
	n := 1
	for rows.Next() {
		n++
	}
	if n != 100000 {
		t.Errorf("read %d rows while writing, want 100000", n)
	}
	count, err := src.Query(ctx, "SELECT count(*), count(op), count(error) FROM main.rows_out")
	if err != nil {
		t.Fatal(err)
	}
	defer count.Close()
	count.Next()
	if got := count.Values(); got[0] != int64(5000) || got[1] != int64(0) || got[2] != int64(0) {
		t.Errorf("count(*), count(op), count(error) = %v, want 5000 rows with NULL op and error", got)
	}
}

func TestWriteBackReadOnly(t *testing.T) {
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
	err = ro.(connector.OutcomeWriter).WriteOutcomes(context.Background(), "riptide", "sync_rows",
		[]connector.Outcome{{RunID: "r", Sync: "s", Key: "1", Status: connector.OutcomeSucceeded, At: time.Now()}})
	if err == nil || !strings.Contains(err.Error(), "read_only") {
		t.Errorf("write to a read_only source: %v, want an error naming read_only", err)
	}
}
