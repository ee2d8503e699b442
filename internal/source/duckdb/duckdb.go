// Package duckdb is the DuckDB source: Riptide's embedded default
// warehouse. It reads query results through DuckDB's streaming result
// interface, chunk by chunk, so that a model larger than memory is
// extracted within DuckDB's memory limit.
//
// It talks to DuckDB through the C API bindings rather than database/sql:
// the database/sql driver materialises a query's whole result inside
// DuckDB before returning the first row.
package duckdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/riptide-data/riptide/internal/connector"
)

const memoryPath = ":memory:"

// Plugin returns the DuckDB source type.
func Plugin() connector.SourcePlugin {
	return connector.SourcePlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "duckdb",
		Summary: "DuckDB database file (embedded, the default warehouse)",
		Fields: []connector.Field{
			{Name: "path", Kind: connector.KindString, Required: true,
				Doc: `Database file, relative to the project directory, or ":memory:".`},
			{Name: "memory_limit", Kind: connector.KindString,
				Doc: `DuckDB's memory limit ("1GB", "512MB"). Unset, Riptide starts at ` + defaultMemoryLimit + ` and raises it to ` + raisedMemoryLimit + ` for a query that runs out of memory before its first row (read_csv buffers 32 MB per file, joins and sorts need more): DuckDB keeps scanned blocks cached up to the limit, so a small limit keeps a large model's scan small.`},
			{Name: "threads", Kind: connector.KindInt, Default: 0,
				Doc: "Worker threads DuckDB may use; 0 keeps DuckDB's default (one per core)."},
			{Name: "read_only", Kind: connector.KindBool, Default: false,
				Doc: "Open the file read-only, so that other processes may read it at the same time."},
		},
		WriteBack:         true,
		WarehouseDiff:     true,
		WarehouseDiffAuto: true,
	}
}

// Source is an open DuckDB database.
type Source struct {
	db        bindings.Database
	closeOnce sync.Once
	// adaptive is set when the memory limit is Riptide's default, which a
	// query that runs out of memory raises once.
	adaptive bool
	raised   sync.Once
	readOnly bool
}

// The default memory limit and the one a query that needs more gets.
const (
	defaultMemoryLimit = "48MB"
	raisedMemoryLimit  = "1GB"
)

// New opens the DuckDB database that settings name. Relative paths, both
// the database's and those inside models (read_csv('data/users.csv')),
// resolve against dir, the project directory.
func New(ctx context.Context, settings connector.Settings, dir string) (connector.Source, error) {
	sp := spec()
	settings = sp.WithDefaults(settings)
	if err := sp.Check(settings); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := settings.String("path")
	// Only what DuckDB needs at open time goes into the open
	// configuration: another part of this process that opens the same
	// file with a default configuration then shares the database instead
	// of being refused for a configuration mismatch.
	// duckdb_api is what the database/sql driver sets, for the same reason.
	options := map[string]string{"duckdb_api": "go"}
	if settings.Bool("read_only") {
		options["access_mode"] = "READ_ONLY"
	}
	full := path
	if path != memoryPath && dir != "" && !filepath.IsAbs(path) {
		full = filepath.Join(dir, path)
	}
	db, err := open(full, options)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	s := &Source{db: db, readOnly: settings.Bool("read_only")}
	type setting struct{ name, stmt string }
	var set []setting
	limit := settings.String("memory_limit")
	if limit == "" {
		limit, s.adaptive = defaultMemoryLimit, true
	}
	set = append(set, setting{"memory_limit", "SET GLOBAL memory_limit = " + quote(limit)})
	if n := settings.Int("threads"); n > 0 {
		set = append(set, setting{"threads", "SET GLOBAL threads = " + strconv.Itoa(n)})
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open duckdb %s: project directory: %w", path, err)
		}
		set = append(set, setting{"project directory", "SET GLOBAL file_search_path = " + quote(abs)})
	}
	for _, st := range set {
		if err := s.exec(ctx, st.stmt); err != nil {
			s.Close()
			return nil, fmt.Errorf("open duckdb %s: %s: %w", path, st.name, err)
		}
	}
	return s, nil
}

// quote writes s as an SQL string literal.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func open(path string, options map[string]string) (bindings.Database, error) {
	var config bindings.Config
	if bindings.CreateConfig(&config) == bindings.StateError {
		return bindings.Database{}, fmt.Errorf("create config")
	}
	defer bindings.DestroyConfig(&config)
	for name, v := range options {
		if bindings.SetConfig(config, name, v) == bindings.StateError {
			return bindings.Database{}, fmt.Errorf("invalid setting %s=%q", name, v)
		}
	}
	var db bindings.Database
	var msg string
	var state bindings.State
	if path == memoryPath {
		state = bindings.OpenExt("", &db, config, &msg)
	} else {
		// The instance cache is the one the database/sql driver uses, so
		// that this process can open the same file through both (a
		// DuckDB file allows one read-write process).
		state = bindings.GetOrCreateFromCache(duckdbdriver.GetInstanceCache(), path, &db, config, &msg)
	}
	if state == bindings.StateError {
		bindings.Close(&db)
		return bindings.Database{}, fmt.Errorf("%s", strings.TrimSpace(msg))
	}
	return db, nil
}

// Query runs sql and streams its result. When sql holds several
// statements, the ones before the last run first and the last one's result
// is streamed.
func (s *Source) Query(ctx context.Context, sql string) (connector.Rows, error) {
	r, err := s.run(ctx, sql)
	if err != nil && s.adaptive && strings.Contains(err.Error(), "Out of Memory Error") {
		raised := false
		s.raised.Do(func() {
			if s.exec(ctx, "SET GLOBAL memory_limit = "+quote(raisedMemoryLimit)) == nil {
				raised = true
				slog.Warn("duckdb: the model ran out of memory under the default memory_limit; retrying with a larger one (set memory_limit on the source to choose)",
					"from", defaultMemoryLimit, "to", raisedMemoryLimit)
			}
		})
		if raised {
			r, err = s.run(ctx, sql)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return r, nil
}

func (s *Source) run(ctx context.Context, sql string) (*rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &rows{ctx: ctx}
	if bindings.Connect(s.db, &r.conn) == bindings.StateError {
		return nil, errors.New("connect to the database: it is closed")
	}
	r.stopInterrupt = context.AfterFunc(ctx, r.interrupt)
	if err := r.start(sql); err != nil {
		r.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return r, nil
}

// exec runs statements and discards their result.
func (s *Source) exec(ctx context.Context, sql string) error {
	r, err := s.run(ctx, sql)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
	}
	return r.Err()
}

// Close closes the database. Rows still open keep it alive until they are
// closed.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { bindings.Close(&s.db) })
	return nil
}
