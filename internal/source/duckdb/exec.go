package duckdb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// Dialect is the SQL DuckDB speaks, for the warehouse diff.
func (s *Source) Dialect() string { return "duckdb" }

// Exec runs statements in one transaction on a connection of its own,
// rolled back whole when one fails or ctx ends.
func (s *Source) Exec(ctx context.Context, stmts ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.readOnly {
		return errors.New("exec: the source is opened read_only, and the warehouse diff writes its snapshot into the database")
	}
	var conn bindings.Connection
	if bindings.Connect(s.db, &conn) == bindings.StateError {
		return errors.New("exec: connect to the database: it is closed")
	}
	var mu sync.Mutex
	closed := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			bindings.Interrupt(conn)
		}
	})
	defer func() {
		stop()
		mu.Lock()
		closed = true
		bindings.Disconnect(&conn)
		mu.Unlock()
	}()
	if err := query(conn, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("exec: begin: %w", err)
	}
	for _, st := range stmts {
		if err := query(conn, st); err != nil {
			_ = query(conn, "ROLLBACK")
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("exec: %w", err)
		}
	}
	if err := query(conn, "COMMIT"); err != nil {
		_ = query(conn, "ROLLBACK")
		return fmt.Errorf("exec: commit: %w", err)
	}
	return nil
}
