package stream

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Check reports, without creating anything, what would stop a stream of
// the given tables on the database at url: the server's wal_level, the
// user's REPLICATION attribute, and each table (followed: decoded change by
// change; watched: only noticed). It returns the tables as the catalog
// names them.
func Check(ctx context.Context, url string, followed string, watched []string) (tables []Table, problems []string, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("stream: connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var level string
	var replication bool
	err = conn.QueryRow(ctx, `SELECT current_setting('wal_level'), rolreplication OR rolsuper
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&level, &replication)
	if err != nil {
		return nil, nil, fmt.Errorf("stream: read the server's settings: %s", rootCause(err))
	}
	if level != "logical" {
		problems = append(problems, fmt.Sprintf("the server runs with wal_level=%s; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)", level))
	}
	if !replication {
		problems = append(problems, "the user has no REPLICATION attribute: ALTER ROLE … REPLICATION")
	}
	check := func(name string, watch bool) {
		t, err := lookupTable(ctx, conn, name, watch)
		if err != nil {
			problems = append(problems, err.Error())
			return
		}
		tables = append(tables, t)
	}
	if followed != "" {
		check(followed, false)
	}
	for _, name := range watched {
		check(name, true)
	}
	return tables, problems, nil
}
