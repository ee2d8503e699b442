package state

import (
	"context"
	"fmt"
)

// StartRun records that a run queued earlier (saved with StatusQueued)
// has started: unlike SaveRun, which keeps a run's first start time, it
// replaces the time the run was queued with r.StartedAt. A run that is not
// in the store is inserted, as by SaveRun.
func (s *Store) StartRun(ctx context.Context, r *Run) error {
	if err := s.SaveRun(ctx, r); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `UPDATE runs SET started_at = ? WHERE id = ?`,
		r.StartedAt.UTC().Format(timeFormat), r.ID); err != nil {
		return fmt.Errorf("start run %s: %w", r.ID, err)
	}
	return nil
}
