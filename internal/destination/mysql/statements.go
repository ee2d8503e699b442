package mysql

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
	"github.com/riptide-data/riptide/internal/value"
)

// insert writes recs with multi-row INSERT statements; upsert adds ON
// DUPLICATE KEY UPDATE of every other mapped column.
func (d *destination) insert(ctx context.Context, tx *sql.Tx, recs []connector.Record, upsert bool) error {
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.fields)) {
		args, err := d.fieldArgs(chunk)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.insertSQL(len(chunk), upsert), args...); err != nil {
			return err
		}
	}
	return nil
}

func (d *destination) insertSQL(rows int, upsert bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.table.String())
	b.WriteString(" (")
	b.WriteString(quoteList(d.fields))
	b.WriteString(") VALUES ")
	row := "(" + strings.Repeat("?, ", len(d.fields)-1) + "?)"
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if !upsert {
		return b.String()
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	rest := sqltable.NonIdent(d.fields, d.ident)
	if len(rest) == 0 {
		// Only the identifier is mapped: a no-op assignment makes a
		// duplicate a success rather than an error.
		q := quote(d.ident[0])
		b.WriteString(q + " = " + q)
		return b.String()
	}
	for i, f := range rest {
		if i > 0 {
			b.WriteString(", ")
		}
		q := quote(f)
		// VALUES() rather than the newer row alias: MariaDB has only this.
		b.WriteString(q + " = VALUES(" + q + ")")
	}
	return b.String()
}

// update finds which records match a row, then sets the non-identifier
// columns of the matching rows; it returns the positions in recs of the
// records that matched no row.
func (d *destination) update(ctx context.Context, tx *sql.Tx, cols map[string]column, recs []connector.Record) ([]int, error) {
	var missing []int
	base := 0
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.fields)) {
		args, err := d.fieldArgs(chunk)
		if err != nil {
			return nil, err
		}
		matched, err := d.matched(ctx, tx, cols, len(chunk), args)
		if err != nil {
			return nil, err
		}
		for i, ok := range matched {
			if !ok {
				missing = append(missing, base+i)
			}
		}
		base += len(chunk)
		if len(sqltable.NonIdent(d.fields, d.ident)) == 0 {
			continue // nothing to set
		}
		if _, err := tx.ExecContext(ctx, d.updateSQL(len(chunk), cols), args...); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// matched reports, for each of rows records (whose fields are args),
// whether a row has its identifier. Rows matched are locked until the
// transaction ends, so the update that follows sees the same rows.
func (d *destination) matched(ctx context.Context, tx *sql.Tx, cols map[string]column, rows int, args []any) ([]bool, error) {
	q := "SELECT DISTINCT v.o FROM " + d.derived(rows) + " JOIN " + d.table.String() + " AS t ON " + d.joinOn(cols) + " FOR UPDATE"
	res, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	hit := make([]bool, rows)
	for res.Next() {
		var o int
		if err := res.Scan(&o); err != nil {
			return nil, err
		}
		hit[o] = true
	}
	return hit, res.Err()
}

// updateSQL joins the table to a derived table holding each record's
// position and fields:
//
//	UPDATE t AS t JOIN (SELECT 0 AS o, ? AS c0, ? AS c1 UNION ALL SELECT 1, ?, ?) AS v
//	ON t.`a` = v.c0 SET t.`b` = v.c1
func (d *destination) updateSQL(rows int, cols map[string]column) string {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(d.table.String())
	b.WriteString(" AS t JOIN ")
	b.WriteString(d.derived(rows))
	b.WriteString(" ON ")
	b.WriteString(d.joinOn(cols))
	b.WriteString(" SET ")
	for i, f := range sqltable.NonIdent(d.fields, d.ident) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("t.")
		b.WriteString(quote(f))
		b.WriteString(" = v.c")
		b.WriteString(strconv.Itoa(slices.Index(d.fields, f)))
	}
	return b.String()
}

// derived is a derived table v(o, c0, c1, …) of rows records' positions
// and mapped fields, one placeholder per field.
func (d *destination) derived(rows int) string {
	var b strings.Builder
	b.WriteByte('(')
	for r := range rows {
		if r > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ")
		b.WriteString(strconv.Itoa(r))
		if r == 0 {
			b.WriteString(" AS o")
		}
		for i := range d.fields {
			b.WriteString(", ?")
			if r == 0 {
				b.WriteString(" AS c")
				b.WriteString(strconv.Itoa(i))
			}
		}
	}
	b.WriteString(") AS v")
	return b.String()
}

// joinOn matches table rows to the derived table on the identifier. Text
// is compared in the column's own character set and collation, the rules
// its unique key follows, whatever the connection's are.
func (d *destination) joinOn(cols map[string]column) string {
	var b strings.Builder
	for i, c := range d.ident {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("t.")
		b.WriteString(quote(c))
		b.WriteString(" = ")
		v := "v.c" + strconv.Itoa(slices.Index(d.fields, c))
		col := cols[strings.ToLower(c)]
		if col.Charset != "" && col.Collation != "" && plainName(col.Charset) && plainName(col.Collation) {
			v = "CONVERT(" + v + " USING " + col.Charset + ") COLLATE " + col.Collation
		}
		b.WriteString(v)
	}
	return b.String()
}

// plainName reports whether a character set or collation name from the
// server is safe to write into SQL unquoted.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// delete removes the rows whose identifier columns hold each record's
// primary key parts, in order.
func (d *destination) delete(ctx context.Context, tx *sql.Tx, cols map[string]column, recs []connector.Record) error {
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.ident)) {
		args, err := sqltable.KeyArgs(chunk, d.ident, func(i int, part string) (any, error) {
			return keyArg(part, cols[strings.ToLower(d.ident[i])])
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.deleteSQL(len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteSQL: DELETE FROM t WHERE (`a`, `b`) IN ((?, ?), (?, ?)), or
// `a` IN (?, ?) for a single column.
func (d *destination) deleteSQL(rows int) string {
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(d.table.String())
	b.WriteString(" WHERE ")
	tuple := "?"
	if len(d.ident) > 1 {
		b.WriteByte('(')
		tuple = "(" + strings.Repeat("?, ", len(d.ident)-1) + "?)"
	}
	b.WriteString(quoteList(d.ident))
	if len(d.ident) > 1 {
		b.WriteByte(')')
	}
	b.WriteString(" IN (")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	b.WriteByte(')')
	return b.String()
}

// fieldArgs returns recs' mapped field values in mapping order.
func (d *destination) fieldArgs(recs []connector.Record) ([]any, error) {
	return sqltable.FieldArgs(recs, d.fields, func(_ int, v any) any { return arg(v) })
}

// arg converts a canonical value into a bind argument. The driver binds
// integers, floats, booleans (as 1/0), text, bytes and times (in UTC)
// natively; decimals, dates and JSON travel as their exact text, and
// arrays as JSON.
func arg(v any) any {
	switch v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time:
		return v
	}
	return value.Text(v)
}

// keyArg converts a primary key part, which is text, for an identifier
// column: key text writes times as RFC 3339, bytes as base64 and booleans
// as true/false, none of which MySQL reads back by itself.
func keyArg(part string, c column) (any, error) {
	switch c.DataType {
	case "datetime", "timestamp":
		t, err := time.Parse(time.RFC3339Nano, part)
		if err != nil {
			return nil, fmt.Errorf("timestamp key part: %w", err)
		}
		return t, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		b, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("binary key part is not base64: %w", err)
		}
		return b, nil
	case "tinyint", "bit", "boolean":
		switch part {
		case "true":
			return int64(1), nil
		case "false":
			return int64(0), nil
		}
	}
	return part, nil
}
