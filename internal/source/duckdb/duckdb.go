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
	"fmt"
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
			{Name: "memory_limit", Kind: connector.KindString, Default: "1GB",
				Doc: `DuckDB's memory limit ("1GB", "512MB"); beyond it DuckDB spills to disk or fails the query, so a model scan stays bounded.`},
			{Name: "threads", Kind: connector.KindInt, Default: 0,
				Doc: "Worker threads DuckDB may use; 0 keeps DuckDB's default (one per core)."},
			{Name: "read_only", Kind: connector.KindBool, Default: false,
				Doc: "Open the file read-only, so that other processes may read it at the same time."},
		},
	}
}

// Source is an open DuckDB database.
type Source struct {
	db        bindings.Database
	closeOnce sync.Once
}

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
	options := map[string]string{}
	if v := settings.String("memory_limit"); v != "" {
		options["memory_limit"] = v
	}
	if n := settings.Int("threads"); n > 0 {
		options["threads"] = strconv.Itoa(n)
	}
	if settings.Bool("read_only") {
		options["access_mode"] = "READ_ONLY"
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("open duckdb %s: project directory: %w", path, err)
		}
		options["file_search_path"] = abs
	}
	full := path
	if path != memoryPath && dir != "" && !filepath.IsAbs(path) {
		full = filepath.Join(dir, path)
	}
	db, err := open(full, options)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	return &Source{db: db}, nil
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
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	r := &rows{ctx: ctx}
	if bindings.Connect(s.db, &r.conn) == bindings.StateError {
		return nil, fmt.Errorf("query: connect to the database: it is closed")
	}
	r.stopInterrupt = context.AfterFunc(ctx, r.interrupt)
	if err := r.start(sql); err != nil {
		r.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query: %w", ctx.Err())
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	return r, nil
}

// exec runs statements without a result, for tests that load data into an
// in-memory database.
func (s *Source) exec(ctx context.Context, sql string) error {
	r, err := s.Query(ctx, sql)
	if err != nil {
		return err
	}
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		return err
	}
	return r.Close()
}

// Close closes the database. Rows still open keep it alive until they are
// closed.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { bindings.Close(&s.db) })
	return nil
}
