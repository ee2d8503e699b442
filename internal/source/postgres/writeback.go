package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/connector"
)

// WriteOutcomes appends row outcomes to schema.table with COPY FROM STDIN
// (pgx's CopyFrom, binary format), creating both when they are missing.
// COPY is atomic: a batch is written whole or not at all.
func (s *Source) WriteOutcomes(ctx context.Context, schema, table string, outcomes []connector.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.writer(ctx)
	if err != nil {
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	qualified := pgx.Identifier{schema, table}
	ddl := "CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{schema}.Sanitize() + ";\n" +
		"CREATE TABLE IF NOT EXISTS " + qualified.Sanitize() +
		` (run_id text NOT NULL, sync text NOT NULL, key text NOT NULL, op text, status text NOT NULL, error text, at timestamptz NOT NULL)`
	if _, err := conn.Exec(ctx, ddl); err != nil {
		s.dropWriter(ctx, err)
		return fmt.Errorf("create %s.%s: %s", schema, table, rootCause(err))
	}
	rows := make([][]any, len(outcomes))
	for i, o := range outcomes {
		rows[i] = []any{o.RunID, o.Sync, o.Key, nullable(o.Op), o.Status, nullable(o.Error), o.At.UTC()}
	}
	if _, err := conn.CopyFrom(ctx, qualified, connector.OutcomeColumns, pgx.CopyFromRows(rows)); err != nil {
		s.dropWriter(ctx, err)
		return fmt.Errorf("write outcomes to %s.%s: %s", schema, table, rootCause(err))
	}
	return nil
}

// writer opens the write-back connection once; s.mu is held.
func (s *Source) writer(ctx context.Context) (*pgx.Conn, error) {
	if s.rw != nil {
		return s.rw, nil
	}
	cfg, err := pgx.ParseConfig(s.url)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %s", parseReason(err))
	}
	// The same connection settings as the source's own connections.
	cfg.Config = *s.config.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres %s: %s", s.address(), rootCause(err))
	}
	s.rw = conn
	return conn, nil
}

// dropWriter closes the write-back connection after an error that may have
// broken it; the next batch opens a new one. s.mu is held.
func (s *Source) dropWriter(ctx context.Context, err error) {
	var pgErr *pgconn.PgError
	// A server's error leaves the connection usable; anything else (a
	// network error, a cancelled COPY) may not.
	if s.rw != nil && (s.rw.IsClosed() || ctx.Err() != nil || !errors.As(err, &pgErr)) {
		s.rw.Close(context.Background())
		s.rw = nil
	}
}

// nullable stores an empty op or error as NULL, so that "error IS NULL"
// reads as it should.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
