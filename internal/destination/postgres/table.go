package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
	"github.com/riptide-data/riptide/internal/value"
)

// tableName is a schema-qualified table.
type tableName struct {
	Schema, Name string
}

// String is the quoted, qualified name, ready for SQL.
func (t tableName) String() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// parseObject reads a sync's object: "table" (in defaultSchema) or
// "schema.table". A part in double quotes is taken literally, so a name
// with a dot is written `"my.table"` or `app."odd.name"`; "" inside
// quotes is a quote. Names are used exactly as written: they are always
// quoted in SQL, so Users and users are different tables.
func parseObject(obj, defaultSchema string) (tableName, error) {
	schema, name, err := sqltable.ParseObject(obj, '"', "schema")
	if err != nil {
		return tableName{}, err
	}
	if schema == "" {
		schema = defaultSchema
	}
	return tableName{Schema: schema, Name: name}, nil
}

// column is what the writer needs to know of a table column.
type column struct {
	Type  string // format_type: valid SQL for a cast, e.g. numeric(10,2)
	Array bool
	Bytea bool
}

// columns reads the table's columns; nil when the table does not exist.
func (d *destination) columns(ctx context.Context) (map[string]column, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory = 'A', a.atttypid = 'bytea'::regtype
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, d.table.String())
	if err != nil {
		return nil, err
	}
	cols := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.Type, &c.Array, &c.Bytea); err != nil {
			return nil, err
		}
		cols[name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, nil
	}
	return cols, nil
}

// inspect checks the table before anything is sent, so that a wrong
// object, a misspelt field or a missing unique index fails the run with a
// clear message instead of failing every row.
func (d *destination) inspect(ctx context.Context, mode string) error {
	cols, err := d.columns(ctx)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", d.table, err)
	}
	if cols == nil {
		if !d.createTable {
			return fmt.Errorf("table %s does not exist; create it or set create_table: true", d.table)
		}
		return nil // created on the first write
	}
	var missing []string
	for _, f := range d.fields {
		if _, ok := cols[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s has no column %s for the mapped field(s) of that name (names are case-sensitive)",
			d.table, quoteList(missing))
	}
	if mode == "upsert" || mode == "mirror" {
		ok, err := d.hasUniqueIndex(ctx)
		if err != nil {
			return fmt.Errorf("read indexes of %s: %w", d.table, err)
		}
		if !ok {
			return fmt.Errorf("upsert needs a primary key or unique index on exactly the identifier column(s) %s of %s (INSERT … ON CONFLICT)",
				quoteList(d.ident), d.table)
		}
	}
	d.cols = cols
	return nil
}

// hasUniqueIndex reports whether a non-partial, non-deferrable unique
// index covers exactly the identifier columns: what ON CONFLICT needs.
func (d *destination) hasUniqueIndex(ctx context.Context) (bool, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a
		             WHERE a.attrelid = i.indrelid AND a.attnum = ANY((i.indkey::int2[])[0:i.indnkeyatts-1]))
		FROM pg_index i
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate
		  AND i.indpred IS NULL AND i.indexprs IS NULL`, d.table.String())
	if err != nil {
		return false, err
	}
	indexes, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return false, err
	}
	return sqltable.HasKey(indexes, d.ident), nil
}

// create runs CREATE TABLE IF NOT EXISTS with a column per mapped field,
// typed after the first non-null value of that field in recs, and the
// identifier as primary key.
func (d *destination) create(ctx context.Context, recs []connector.Record) error {
	if !d.createTable {
		return fmt.Errorf("table %s does not exist; create it or set create_table: true", d.table)
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(d.table.String())
	b.WriteString(" (")
	for i, f := range d.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{f}.Sanitize())
		b.WriteByte(' ')
		b.WriteString(sqlType(sqltable.FirstNonNull(recs, i, f)))
	}
	b.WriteString(", PRIMARY KEY (")
	writeIdents(&b, d.ident)
	b.WriteString("))")
	if _, err := d.pool.Exec(ctx, b.String()); err != nil {
		return fmt.Errorf("create table %s: %w", d.table, err)
	}
	return nil
}

// sqlType is the column type create_table gives a canonical value.
func sqlType(v any) string {
	switch v.(type) {
	case int64:
		return "bigint"
	case float64:
		return "double precision"
	case value.Decimal:
		return "numeric"
	case bool:
		return "boolean"
	case time.Time:
		return "timestamptz"
	case value.Date:
		return "date"
	case value.JSON, []any:
		return "jsonb"
	case []byte:
		return "bytea"
	}
	return "text"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
