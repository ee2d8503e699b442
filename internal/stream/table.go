package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Table is a followed table: its schema, name and primary key.
type Table struct {
	Schema, Name string
	// Key holds the primary key's column names, in key order.
	Key []string
}

// String is the table's qualified name, for messages.
func (t Table) String() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// sql is the table's qualified name for a statement.
func (t Table) sql() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// quoteIdent quotes a name unless it is a plain lower-case identifier.
func quoteIdent(s string) string {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			return pgx.Identifier{s}.Sanitize()
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// lookupTable resolves the configured name as the server would and checks
// that the table's changes identify their rows by its primary key. A
// watched table (whose changes are only noticed, not decoded) needs only
// a replica identity: a table in a publication without one refuses
// updates and deletes, which would break the application writing it.
func lookupTable(ctx context.Context, conn *pgx.Conn, name string, watched bool) (Table, error) {
	var (
		t       Table
		ident   string
		relkind string
	)
	// to_regclass resolves the name through the search path, with the
	// server's own rules for quoting and case.
	err := conn.QueryRow(ctx, `SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relreplident::text
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = pg_catalog.to_regclass($1)`, name).Scan(&t.Schema, &t.Name, &relkind, &ident)
	if errors.Is(err, pgx.ErrNoRows) {
		return Table{}, fmt.Errorf("stream: table %s does not exist", name)
	}
	if err != nil {
		return Table{}, fmt.Errorf("stream: look up table %s: %w", name, err)
	}
	if relkind != "r" && relkind != "p" {
		return Table{}, fmt.Errorf("stream: %s is not a table (relkind %s): only tables are replicated", t, relkind)
	}
	rows, err := conn.Query(ctx, `SELECT a.attname::text
		FROM pg_catalog.pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisprimary
		ORDER BY k.ord`, name)
	if err != nil {
		return Table{}, fmt.Errorf("stream: look up the primary key of %s: %w", t, err)
	}
	t.Key, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Table{}, fmt.Errorf("stream: look up the primary key of %s: %w", t, err)
	}
	switch {
	case watched && (ident == "f" || ident == "i" || ident == "d" && len(t.Key) > 0):
	case watched && ident == "d":
		return Table{}, fmt.Errorf("stream: table %s has no primary key: publishing it would make PostgreSQL refuse its updates and deletes; "+
			"add one (ALTER TABLE %s ADD PRIMARY KEY (…)) or set ALTER TABLE %s REPLICA IDENTITY FULL", t, t, t)
	case watched:
		return Table{}, fmt.Errorf("stream: table %s has REPLICA IDENTITY NOTHING: publishing it would make PostgreSQL refuse its updates and deletes; "+
			"ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", t, t)
	case len(t.Key) == 0:
		return Table{}, fmt.Errorf("stream: table %s has no primary key: a stream identifies the rows that updates "+
			"and deletes change by it (the default REPLICA IDENTITY); add one with ALTER TABLE %s ADD PRIMARY KEY (…)", t, t)
	case ident != "d":
		return Table{}, fmt.Errorf("stream: table %s has REPLICA IDENTITY %s; a stream needs the default, the primary key: "+
			"ALTER TABLE %s REPLICA IDENTITY DEFAULT", t, identityName(ident), t)
	}
	return t, nil
}

func identityName(c string) string {
	switch c {
	case "f":
		return "FULL"
	case "n":
		return "NOTHING"
	case "i":
		return "USING INDEX"
	}
	return c
}

// ensurePublication creates the publication for the table, or adds the
// table to the existing one.
func ensurePublication(ctx context.Context, conn *pgx.Conn, pub string, t Table) error {
	var exists, covers bool
	err := conn.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1),
		EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)`,
		pub, t.Schema, t.Name).Scan(&exists, &covers)
	if err != nil {
		return fmt.Errorf("stream: look up publication %s: %w", pub, err)
	}
	var sql string
	switch {
	case covers:
		return nil
	case exists:
		sql = "ALTER PUBLICATION " + pub + " ADD TABLE " + t.sql()
	default:
		sql = "CREATE PUBLICATION " + pub + " FOR TABLE " + t.sql()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("stream: publish table %s in %s: %s", t, pub, rootCause(err))
	}
	return nil
}
