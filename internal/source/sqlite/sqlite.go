// Package sqlite is the SQLite source, through the pure-Go driver
// modernc.org/sqlite.
//
// SQLite stores values by storage class (INTEGER, REAL, TEXT, BLOB, NULL)
// whatever a column declares, so the source converts a value further only
// where the column's declared type says what it means (DATE, TIMESTAMP,
// BOOLEAN, DECIMAL, JSON) and the stored value parses as that.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/riptide-data/riptide/internal/connector"
)

// Plugin returns the SQLite source type.
func Plugin() connector.SourcePlugin {
	return connector.SourcePlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "sqlite",
		Summary: "SQLite database file",
		Fields: []connector.Field{
			{Name: "path", Kind: connector.KindString, Required: true,
				Doc: "Database file, relative to the project directory. It must exist."},
		},
		WriteBack: true,
	}
}

// Source is an open SQLite database.
type Source struct {
	db   *sql.DB
	path string

	mu sync.Mutex
	rw *sql.DB // for write-back, opened when first needed
}

// New opens the database file. A missing file is an error rather than a
// new empty database, and the connection refuses writes: models only
// read (write-back writes through a connection of its own).
func New(ctx context.Context, settings connector.Settings, dir string) (connector.Source, error) {
	sp := spec()
	if err := sp.Check(settings); err != nil {
		return nil, err
	}
	path := settings.String("path")
	full := path
	if !filepath.IsAbs(path) {
		full = filepath.Join(dir, path)
	}
	if _, err := os.Stat(full); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open sqlite %s: no such file", path)
		}
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// query_only refuses writes on the connection; busy_timeout waits
	// for a writer in another process instead of failing at once.
	db, err := sql.Open("sqlite", full+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Source{db: db, path: full}, nil
}

// Query runs sql and streams its rows.
func (s *Source) Query(ctx context.Context, query string) (connector.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	r := &rows{rows: rs}
	if err := r.describe(); err != nil {
		rs.Close()
		return nil, fmt.Errorf("query: %w", err)
	}
	return r, nil
}

// Close closes the database.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rw != nil {
		s.rw.Close()
		s.rw = nil
	}
	return s.db.Close()
}
