package state

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one thing done through the API: who (the token's name and
// role), what (an action such as runs.trigger), to what, when and how it
// ended.
type AuditEntry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Token   string    `json:"token"`
	Role    string    `json:"role"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Outcome string    `json:"outcome"` // ok, denied or error
	Status  int       `json:"status"`  // the HTTP status answered
}

// AddAudit appends an entry to the audit log.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.exec(ctx, `INSERT INTO audit (at, token, role, action, target, outcome, status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC().Format(timeFormat), e.Token, e.Role, e.Action, e.Target, e.Outcome, e.Status)
	if err != nil {
		return fmt.Errorf("write audit entry %s: %w", e.Action, err)
	}
	return nil
}

// Audit returns audit entries newest first.
func (s *Store) Audit(ctx context.Context, limit, offset int) ([]AuditEntry, error) {
	rows, err := s.query(ctx, `SELECT seq, at, token, role, action, target, outcome, status FROM audit ORDER BY seq DESC LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Token, &e.Role, &e.Action, &e.Target, &e.Outcome, &e.Status); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, e)
	}
	return out, rows.Err()
}
