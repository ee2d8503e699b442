package state

import (
	"context"
	"fmt"
)

// RunFilter selects runs for FindRuns; empty fields match everything.
type RunFilter struct {
	Sync   string
	Status string
	Limit  int
	Offset int
}

// FindRuns returns runs matching f, newest first.
func (s *Store) FindRuns(ctx context.Context, f RunFilter) ([]*Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE (? = '' OR sync = ?) AND (? = '' OR status = ?)
		ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`
	rows, err := s.query(ctx, q, f.Sync, f.Sync, f.Status, f.Status, f.Limit, f.Offset)
	if err != nil {
		return nil, fmt.Errorf("find runs: %w", err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("find runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
