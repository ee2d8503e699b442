package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DB returns the shared store's database, for a job queue that keeps its
// tables beside the store's and inserts jobs in the store's transactions;
// nil for the embedded store, which no other process shares.
func (s *Store) DB() *sql.DB {
	if !s.Shared() {
		return nil
	}
	return s.db
}

// InTx runs fn in a transaction of the shared store and commits it when fn
// returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if !s.Shared() {
		return errors.New("transaction: the embedded state store takes no outside work")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}
