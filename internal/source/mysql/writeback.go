package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// rowsPerInsert keeps a multi-row INSERT far below the server's limit of
// 65,535 placeholders and a default max_allowed_packet.
const rowsPerInsert = 500

// WriteOutcomes appends row outcomes to schema.table (a MySQL schema is a
// database) with multi-row INSERTs in one transaction, creating the
// database and the table when they are missing.
func (s *Source) WriteOutcomes(ctx context.Context, schema, table string, outcomes []connector.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	name := identifier(schema) + "." + identifier(table)
	for _, ddl := range []string{
		"CREATE DATABASE IF NOT EXISTS " + identifier(schema),
		"CREATE TABLE IF NOT EXISTS " + name + " (`run_id` VARCHAR(64) NOT NULL, `sync` VARCHAR(255) NOT NULL, `key` TEXT NOT NULL, " +
			"`op` VARCHAR(16), `status` VARCHAR(16) NOT NULL, `error` TEXT, `at` DATETIME(6) NOT NULL, " +
			"INDEX (`run_id`), INDEX (`sync`, `at`)) DEFAULT CHARSET = utf8mb4",
	} {
		if _, err := s.db.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create %s.%s: %w", schema, table, err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	defer tx.Rollback()
	for start := 0; start < len(outcomes); start += rowsPerInsert {
		batch := outcomes[start:min(start+rowsPerInsert, len(outcomes))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + name + " (`run_id`, `sync`, `key`, `op`, `status`, `error`, `at`) VALUES ")
		args := make([]any, 0, 7*len(batch))
		for i, o := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, o.RunID, o.Sync, o.Key, nullable(o.Op), o.Status, nullable(o.Error), o.At.UTC())
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	return nil
}

// nullable stores an empty op or error as NULL, so that "error IS NULL"
// reads as it should.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func identifier(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
