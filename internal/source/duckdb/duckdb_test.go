package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/value"
)

func TestConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T, setup []string) connector.Source {
		src, err := New(context.Background(), connector.Settings{"path": ":memory:"}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range setup {
			if err := src.(*Source).exec(context.Background(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		return src
	})
}

func TestPlugin(t *testing.T) {
	p := Plugin()
	if p.Spec.Type != "duckdb" || p.New == nil {
		t.Fatalf("plugin %+v", p.Spec)
	}
	for name, want := range map[string]any{"memory_limit": nil, "threads": 0, "read_only": false} {
		f, ok := p.Spec.Field(name)
		if !ok || f.Default != want {
			t.Errorf("field %s: %+v, want default %v", name, f, want)
		}
	}
	if f, _ := p.Spec.Field("path"); !f.Required {
		t.Error("path must be required")
	}
	if _, err := p.New(context.Background(), connector.Settings{}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("missing path: %v", err)
	}
}

// Models read files relative to the project directory, whatever the
// process's working directory.
func TestRelativePathsResolveAgainstProject(t *testing.T) {
	project := t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	csv := "id,email,amount\n1,a@example.com,12.50\n2,b@example.com,0.10\n"
	if err := os.WriteFile(filepath.Join(project, "data", "users.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())

	for _, path := range []string{":memory:", "warehouse.duckdb"} {
		t.Run(path, func(t *testing.T) {
			src, err := New(context.Background(), connector.Settings{"path": path}, project)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := sourcetest.All(context.Background(), src,
				"SELECT id, email, amount::DECIMAL(12,2) FROM read_csv('data/users.csv') ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			want := [][]any{
				{int64(1), "a@example.com", value.Decimal("12.5")},
				{int64(2), "b@example.com", value.Decimal("0.1")},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(project, "warehouse.duckdb")); err != nil {
		t.Errorf("the database file was not created in the project directory: %v", err)
	}
}

func TestSettingsReachDuckDB(t *testing.T) {
	src, err := New(context.Background(), connector.Settings{"path": ":memory:", "memory_limit": "512MB", "threads": 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := sourcetest.All(context.Background(), src,
		"SELECT current_setting('memory_limit'), current_setting('threads')")
	if err != nil {
		t.Fatal(err)
	}
	// DuckDB reports limits in binary units: 512MB is 488.2 MiB.
	if want := []any{"488.2 MiB", int64(1)}; !cmp.Equal(want, got[0]) {
		t.Errorf("settings %v, want %v", got[0], want)
	}

	src, err = New(context.Background(), connector.Settings{"path": ":memory:"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err = sourcetest.All(context.Background(), src, "SELECT current_setting('memory_limit')")
	if err != nil {
		t.Fatal(err)
	}
	if got[0][0] != "45.7 MiB" {
		t.Errorf("default memory limit %v, want 45.7 MiB (48MB)", got[0][0])
	}

	_, err = New(context.Background(), connector.Settings{"path": ":memory:", "memory_limit": "lots"}, t.TempDir())
	if err == nil || !strings.HasPrefix(err.Error(), "open duckdb :memory:") {
		t.Errorf("invalid memory limit: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw, err := New(context.Background(), connector.Settings{"path": "w.duckdb"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.(*Source).exec(context.Background(), "CREATE TABLE t AS SELECT 1 AS a"); err != nil {
		t.Fatal(err)
	}
	rw.Close()

	ro, err := New(context.Background(), connector.Settings{"path": "w.duckdb", "read_only": true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := sourcetest.All(context.Background(), ro, "SELECT a FROM t")
	if err != nil || len(got) != 1 || got[0][0] != int64(1) {
		t.Fatalf("read: %v %v", got, err)
	}
	_, err = sourcetest.All(context.Background(), ro, "CREATE TABLE u AS SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("write to a read-only database: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s := openMemory(t)
	ctx := context.Background()
	tests := []struct {
		name, sql string
		want      []string // substrings of the error
	}{
		{"syntax", "SELEC 1", []string{"query: Parser Error", "SELEC"}},
		{"missing table", "SELECT * FROM nope", []string{"query: Catalog Error", "nope"}},
		{"mid-stream", "SELECT CASE WHEN i = 5000 THEN error('boom at 5000') ELSE i END FROM range(10000) t(i)", []string{"query: ", "boom at 5000"}},
		{"empty", "  ", []string{"query: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sourcetest.All(ctx, s, tt.sql)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMultipleStatements(t *testing.T) {
	s := openMemory(t)
	got, err := sourcetest.All(context.Background(), s,
		"CREATE TEMP TABLE x AS SELECT 41 AS a; SELECT a + 1 AS b FROM x;")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{int64(42)}}, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// A long query is interrupted when its context is canceled while DuckDB
// is still computing its first chunk.
func TestCancelInterruptsExecution(t *testing.T) {
	s := openMemory(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the query is running; the sleep only orders the events.
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err := sourcetest.All(ctx, s, "SELECT count(*) FROM range(100000000) a, range(100000000) b WHERE a.range + b.range = 7")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// Closing the source with a result open must neither crash nor stop the
// open result from being read and closed.
func TestCloseSourceWithOpenRows(t *testing.T) {
	src, err := New(context.Background(), connector.Settings{"path": ":memory:"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := src.Query(context.Background(), "SELECT * FROM range(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 5000 || rows.Err() != nil {
		t.Errorf("read %d rows, err %v", n, rows.Err())
	}
	if err := src.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := src.Query(context.Background(), "SELECT 1"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("query on a closed source: %v", err)
	}
}

// Another part of the process (a destination, a test) may hold the same
// file open through the database/sql driver: the source shares the
// database instead of failing on DuckDB's one-writer lock.
func TestSharesFileWithDatabaseSQL(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("duckdb", filepath.Join(dir, "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t AS SELECT 1 AS a"); err != nil {
		t.Fatal(err)
	}
	src, err := New(context.Background(), connector.Settings{"path": "w.duckdb", "memory_limit": "256MB"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	got, err := sourcetest.All(context.Background(), src, "SELECT a FROM t ORDER BY a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{int64(1)}, {int64(2)}}, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestMemoryLimitRaisedOnce: under the default memory limit a query that
// runs out of memory before its first row (read_csv's buffers) is retried
// under a larger limit; a limit the user chose is left alone.
func TestMemoryLimitRaisedOnce(t *testing.T) {
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "u.csv"), []byte("id\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT count(*) FROM read_csv('u.csv')"
	tests := []struct {
		name      string
		settings  connector.Settings
		wantErr   bool
		wantLimit string
	}{
		{"default limit is raised", connector.Settings{"path": ":memory:"}, false, "953.6 MiB"},
		{"a chosen limit stands", connector.Settings{"path": ":memory:", "memory_limit": "40MB"}, true, "38.1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(context.Background(), tt.settings, project)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := sourcetest.All(context.Background(), src, q)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "Out of Memory") {
					t.Fatalf("query under a small chosen limit: %v, want an out-of-memory error", err)
				}
			} else if err != nil || got[0][0] != int64(2) {
				t.Fatalf("query: %v %v", got, err)
			}
			limit, err := sourcetest.All(context.Background(), src, "SELECT current_setting('memory_limit')")
			if err != nil {
				t.Fatal(err)
			}
			if limit[0][0] != tt.wantLimit {
				t.Errorf("memory_limit %v, want %s", limit[0][0], tt.wantLimit)
			}
		})
	}
}
