package sourcetest_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/duckdb"
	"github.com/riptide-data/riptide/internal/source/mysql"
	"github.com/riptide-data/riptide/internal/source/postgres"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/source/sqlite"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// The same logical table in each warehouse's own types. Timestamps carry a
// zone; MySQL has no zone in its literals, so its rows give the same
// instants in UTC (the source's sessions are in UTC).
var crossTable = map[string][]string{
	"duckdb": {
		"CREATE TABLE people (id BIGINT, name VARCHAR, amount DECIMAL(12,2), active BOOLEAN, day DATE, seen_at TIMESTAMPTZ, doc JSON, missing VARCHAR)",
		`INSERT INTO people VALUES
			(1, 'alice', 12.50, true, '2024-02-29', '2024-03-10 12:34:56.789+02', '{"b": 1, "a": {"y": [1, "s"], "x": null}}', NULL),
			(2, 'Zoë', 0.10, false, '1999-12-31', '2000-01-01 00:00:00+00', '{"z": true, "a": 2.50}', NULL)`,
	},
	"postgres": {
		"CREATE TABLE people (id bigint, name text, amount numeric(12,2), active boolean, day date, seen_at timestamptz, doc jsonb, missing text)",
		`INSERT INTO people VALUES
			(1, 'alice', 12.50, true, '2024-02-29', '2024-03-10 12:34:56.789+02', '{"a": {"x": null, "y": [1, "s"]}, "b": 1}', NULL),
			(2, 'Zoë', 0.10, false, '1999-12-31', '2000-01-01 00:00:00+00', '{"a": 2.50, "z": true}', NULL)`,
	},
	"mysql": {
		"CREATE TABLE people (id BIGINT, name TEXT, amount DECIMAL(12,2), active BOOLEAN, day DATE, seen_at TIMESTAMP(3) NULL, doc JSON, missing TEXT) DEFAULT CHARSET utf8mb4",
		`INSERT INTO people VALUES
			(1, 'alice', 12.50, true, '2024-02-29', '2024-03-10 10:34:56.789', '{"b": 1, "a": {"y": [1, "s"], "x": null}}', NULL),
			(2, 'Zoë', 0.10, false, '1999-12-31', '2000-01-01 00:00:00', '{"z": true, "a": 2.50}', NULL)`,
	},
	"sqlite": {
		"CREATE TABLE people (id INTEGER, name TEXT, amount DECIMAL(12,2), active BOOLEAN, day DATE, seen_at TIMESTAMP, doc JSON, missing TEXT)",
		`INSERT INTO people VALUES
			(1, 'alice', 12.50, 1, '2024-02-29', '2024-03-10 12:34:56.789+02:00', '{"b": 1, "a": {"y": [1, "s"], "x": null}}', NULL),
			(2, 'Zoë', 0.10, 0, '1999-12-31', '2000-01-01T00:00:00Z', '{"z": true, "a": 2.50}', NULL)`,
	},
}

var crossColumns = []string{"id", "name", "amount", "active", "day", "seen_at", "doc", "missing"}

// The same logical rows loaded into DuckDB, PostgreSQL, MariaDB and SQLite
// encode to the same bytes, column by column, so a model moved from one
// warehouse to another keeps its snapshot hashes. The exceptions are
// documented in the sources' READMEs: MySQL has no boolean (BOOLEAN is
// TINYINT(1), read as 0 and 1) and MariaDB reports JSON as text.
func TestSameRowsEncodeTheSameEverywhere(t *testing.T) {
	sources := map[string]connector.Source{
		"duckdb":   openDuckDB(t, crossTable["duckdb"]),
		"postgres": openPostgres(t, crossTable["postgres"]),
		"mysql":    openMySQL(t, crossTable["mysql"]),
		"sqlite":   openSQLite(t, crossTable["sqlite"]),
	}
	results := map[string][][]any{}
	for name, src := range sources {
		rows, err := sourcetest.All(context.Background(), src,
			"SELECT id, name, amount, active, day, seen_at, doc, missing FROM people ORDER BY id")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows", name, len(rows))
		}
		results[name] = rows
	}
	ref := results["duckdb"]
	for name, rows := range results {
		for r, row := range rows {
			for c, col := range crossColumns {
				got, want := row[c], ref[r][c]
				switch {
				case name == "mysql" && col == "active":
					want = map[bool]any{true: int64(1), false: int64(0)}[want.(bool)]
				case name == "mysql" && col == "doc":
					s, ok := got.(string)
					if !ok {
						t.Errorf("mysql row %d doc: %T, want the text of a JSON column", r, got)
						continue
					}
					j, err := value.ParseJSON([]byte(s))
					if err != nil {
						t.Errorf("mysql row %d doc: %v", r, err)
					}
					got = j
				}
				if g, w := value.Append(nil, got), value.Append(nil, want); !bytes.Equal(g, w) {
					t.Errorf("%s row %d column %s: %#v encodes as %x, DuckDB's %#v as %x", name, r, col, got, g, want, w)
				}
			}
		}
	}
}

func openDuckDB(t *testing.T, setup []string) connector.Source {
	dir := t.TempDir()
	db, err := sql.Open("duckdb", filepath.Join(dir, "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, setup)
	db.Close()
	return open(t, duckdb.Plugin(), connector.Settings{"path": "w.duckdb"}, dir)
}

func openSQLite(t *testing.T, setup []string) connector.Source {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, setup)
	db.Close()
	return open(t, sqlite.Plugin(), connector.Settings{"path": "w.db"}, dir)
}

func openMySQL(t *testing.T, setup []string) connector.Source {
	url := testsvc.MySQLURL(t)
	cfg, err := mysql.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, setup)
	db.Close()
	return open(t, mysql.Plugin(), connector.Settings{"url": url}, "")
}

func openPostgres(t *testing.T, setup []string) connector.Source {
	url := testsvc.PostgresURL(t)
	conn, err := pgconn.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range setup {
		if _, err := conn.Exec(context.Background(), stmt).ReadAll(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	conn.Close(context.Background())
	return open(t, postgres.Plugin(), connector.Settings{"url": url}, "")
}

func exec(t *testing.T, db *sql.DB, stmts []string) {
	t.Helper()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func open(t *testing.T, p connector.SourcePlugin, settings connector.Settings, dir string) connector.Source {
	t.Helper()
	src, err := p.New(context.Background(), p.Spec.WithDefaults(settings), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}
