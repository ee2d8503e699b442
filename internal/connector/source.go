package connector

import "context"

// Column describes one column of a query result.
type Column struct {
	Name string
	// DatabaseType is the warehouse's own type name, for messages and for
	// destinations that create tables.
	DatabaseType string
}

// Source is a connection to a warehouse.
//
// Lifecycle: a Source is built from its settings by its registered
// constructor, Query is called once per model extraction (possibly several
// times over the Source's life), and Close releases the connection.
type Source interface {
	// Query runs a model's SQL and streams its rows. Errors from the
	// warehouse are returned with the warehouse's own message.
	Query(ctx context.Context, sql string) (Rows, error)
	Close() error
}

// Rows streams a result. Rows are read with the server's or engine's own
// streaming, never materialised in full.
type Rows interface {
	Columns() []Column
	// Next advances to the next row; it returns false at the end or on
	// error (see Err).
	Next() bool
	// Values returns the current row as canonical values (see package
	// value). The slice is reused by the next call to Next; the values in
	// it are the caller's to keep (a source copies driver buffers such as
	// []byte before returning them), and nobody modifies them.
	Values() []any
	Err() error
	Close() error
}

// SourceFactory builds a source from validated settings. dir is the project
// directory, against which relative paths resolve.
type SourceFactory func(ctx context.Context, settings Settings, dir string) (Source, error)

// SourcePlugin is a source type: its spec and constructor.
type SourcePlugin struct {
	Spec Spec
	New  SourceFactory
}
