package mysql

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
	"github.com/riptide-data/riptide/internal/value"
)

// tableName is a database-qualified table.
type tableName struct {
	DB, Name string
}

// String is the quoted, qualified name, ready for SQL.
func (t tableName) String() string { return quote(t.DB) + "." + quote(t.Name) }

// quote quotes an identifier with backticks.
func quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// parseObject reads a sync's object: "table" (in the URL's database) or
// "database.table". A part in backticks is taken literally, so a name with
// a dot is written "`my.table`"; a doubled backtick inside backticks is a
// backtick.
func parseObject(obj, defaultDB string) (tableName, error) {
	db, name, err := sqltable.ParseObject(obj, '`', "database")
	if err != nil {
		return tableName{}, err
	}
	if db == "" {
		db = defaultDB
	}
	return tableName{DB: db, Name: name}, nil
}

// column is what the writer needs to know of a table column.
type column struct {
	DataType  string // information_schema DATA_TYPE, lower case: int, varchar, datetime …
	Charset   string // for text columns
	Collation string
}

// columns reads the table's columns by lower-cased name; nil when the
// table does not exist.
func (d *destination) columns(ctx context.Context) (map[string]column, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT COLUMN_NAME, LOWER(DATA_TYPE), COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, d.table.DB, d.table.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.DataType, &c.Charset, &c.Collation); err != nil {
			return nil, err
		}
		cols[strings.ToLower(name)] = c
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
// object, a misspelt field or a missing unique key fails the run with a
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
		if _, ok := cols[strings.ToLower(f)]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s has no column %s for the mapped field(s) of that name", d.table, quoteList(missing))
	}
	if mode == "upsert" || mode == "mirror" {
		ok, err := d.hasUniqueKey(ctx)
		if err != nil {
			return fmt.Errorf("read keys of %s: %w", d.table, err)
		}
		if !ok {
			return fmt.Errorf("upsert needs a primary key or unique key on exactly the identifier column(s) %s of %s (INSERT … ON DUPLICATE KEY UPDATE)",
				quoteList(d.ident), d.table)
		}
	}
	d.cols = cols
	return nil
}

// hasUniqueKey reports whether a unique key covers exactly the identifier
// columns, which ON DUPLICATE KEY UPDATE needs to find the row to update.
func (d *destination) hasUniqueKey(ctx context.Context) (bool, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT INDEX_NAME, LOWER(COLUMN_NAME) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME, SEQ_IN_INDEX`, d.table.DB, d.table.Name)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	keys := map[string][]string{}
	for rows.Next() {
		var index, col string
		if err := rows.Scan(&index, &col); err != nil {
			return false, err
		}
		keys[index] = append(keys[index], col)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	want := make([]string, len(d.ident))
	for i, c := range d.ident {
		want[i] = strings.ToLower(c)
	}
	return sqltable.HasKey(slices.Collect(maps.Values(keys)), want), nil
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
		b.WriteString(quote(f))
		b.WriteByte(' ')
		b.WriteString(sqlType(sqltable.FirstNonNull(recs, i, f), slices.Contains(d.ident, f)))
	}
	b.WriteString(", PRIMARY KEY (")
	b.WriteString(quoteList(d.ident))
	b.WriteString(")) DEFAULT CHARSET=utf8mb4")
	if _, err := d.db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("create table %s: %w", d.table, err)
	}
	return nil
}

// sqlType is the column type create_table gives a canonical value. Key
// columns need a bounded length, so identifier text and bytes get
// VARCHAR(255) / VARBINARY(255).
func sqlType(v any, ident bool) string {
	switch v.(type) {
	case int64:
		return "BIGINT"
	case float64:
		return "DOUBLE"
	case value.Decimal:
		return "DECIMAL(38,9)"
	case bool:
		return "BOOLEAN"
	case time.Time:
		return "DATETIME(6)"
	case value.Date:
		return "DATE"
	case value.JSON, []any:
		return "JSON"
	case []byte:
		if ident {
			return "VARBINARY(255)"
		}
		return "BLOB"
	}
	if ident {
		return "VARCHAR(255)"
	}
	return "TEXT"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
