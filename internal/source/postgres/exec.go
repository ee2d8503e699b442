package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Dialect is the SQL PostgreSQL speaks, for the warehouse diff.
func (s *Source) Dialect() string { return "postgres" }

// Exec runs statements in one transaction on the source's write
// connection (the one write-back uses), rolled back whole when one fails.
func (s *Source) Exec(ctx context.Context, stmts ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.writer(ctx)
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.dropWriter(ctx, err)
		if ctx.Err() != nil {
			return fmt.Errorf("exec: %w", ctx.Err())
		}
		return fmt.Errorf("exec: %s", rootCause(err))
	}
	return nil
}
