package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// rowsPerInsert keeps a multi-row INSERT under SQLite's limit on bound
// parameters (32766 since 3.32) with room to spare.
const rowsPerInsert = 500

// WriteOutcomes appends row outcomes to table with multi-row INSERTs in
// one transaction. SQLite has no schemas: the table is created in the
// database file itself and schema is not used.
//
// The source's own connection refuses writes, so outcomes go through a
// second, writable one, opened on the first call.
func (s *Source) WriteOutcomes(ctx context.Context, _, table string, outcomes []connector.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	db, err := s.writer(ctx)
	if err != nil {
		return fmt.Errorf("write outcomes to %s: %w", table, err)
	}
	name := identifier(table)
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+name+
		` ("run_id" TEXT NOT NULL, "sync" TEXT NOT NULL, "key" TEXT NOT NULL, "op" TEXT, "status" TEXT NOT NULL, "error" TEXT, "at" TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write outcomes to %s: %w", table, err)
	}
	defer tx.Rollback()
	for start := 0; start < len(outcomes); start += rowsPerInsert {
		batch := outcomes[start:min(start+rowsPerInsert, len(outcomes))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + name + ` ("run_id", "sync", "key", "op", "status", "error", "at") VALUES `)
		args := make([]any, 0, 7*len(batch))
		for i, o := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			// Timestamps as ISO 8601 text, the form SQLite's date
			// functions read.
			args = append(args, o.RunID, o.Sync, o.Key, nullable(o.Op), o.Status, nullable(o.Error),
				o.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("write outcomes to %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write outcomes to %s: %w", table, err)
	}
	return nil
}

// writer opens the writable connection once.
func (s *Source) writer(ctx context.Context) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rw != nil {
		return s.rw, nil
	}
	// busy_timeout waits for a reader or writer in another process
	// instead of failing at once.
	db, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.rw = db
	return db, nil
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
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
