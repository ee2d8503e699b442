package postgres

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
	"github.com/riptide-data/riptide/internal/value"
)

// Values travel as text and PostgreSQL parses them as the column's type:
// exact for decimals, dates and JSON, and the database's own message when
// a value does not fit. Only bytea gets raw bytes.

// insert writes recs with multi-row INSERT statements; upsert adds ON
// CONFLICT on the identifier, updating every other mapped column.
func (d *destination) insert(ctx context.Context, tx pgx.Tx, cols map[string]column, recs []connector.Record, upsert bool) error {
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.fields)) {
		args, err := d.fieldArgs(chunk, cols)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, d.insertSQL(len(chunk), upsert), args...); err != nil {
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
	writeIdents(&b, d.fields)
	b.WriteString(") VALUES ")
	// No casts: the target columns type the parameters.
	writeRows(&b, rows, d.fields, nil, false)
	if !upsert {
		return b.String()
	}
	b.WriteString(" ON CONFLICT (")
	writeIdents(&b, d.ident)
	b.WriteString(") DO ")
	rest := sqltable.NonIdent(d.fields, d.ident)
	if len(rest) == 0 {
		b.WriteString("NOTHING")
		return b.String()
	}
	b.WriteString("UPDATE SET ")
	for i, f := range rest {
		if i > 0 {
			b.WriteString(", ")
		}
		q := pgx.Identifier{f}.Sanitize()
		b.WriteString(q)
		b.WriteString(" = EXCLUDED.")
		b.WriteString(q)
	}
	return b.String()
}

// update sets the non-identifier columns of the rows that match each
// record's identifier, and returns the positions in recs of the records
// that matched no row.
func (d *destination) update(ctx context.Context, tx pgx.Tx, cols map[string]column, recs []connector.Record) ([]int, error) {
	var missing []int
	base := 0
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.fields)) {
		args, err := d.fieldArgs(chunk, cols)
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, d.updateSQL(len(chunk), cols), args...)
		if err != nil {
			return nil, err
		}
		matched, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return nil, err
		}
		hit := make([]bool, len(chunk))
		for _, o := range matched {
			hit[o] = true
		}
		for i, ok := range hit {
			if !ok {
				missing = append(missing, base+i)
			}
		}
		base += len(chunk)
	}
	return missing, nil
}

// updateSQL joins the table to a VALUES list holding each record's
// position and fields, typed by casts to the columns' types:
//
//	UPDATE t AS t SET "b" = v.c1 FROM (VALUES (0, $1::int, $2::text)) AS v(o, c0, c1)
//	WHERE t."a" = v.c0 RETURNING v.o
func (d *destination) updateSQL(rows int, cols map[string]column) string {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(d.table.String())
	b.WriteString(" AS t SET ")
	rest := sqltable.NonIdent(d.fields, d.ident)
	if len(rest) == 0 {
		// Nothing but the identifier is mapped: a no-op assignment keeps
		// the statement valid and still reports which rows matched.
		rest = d.ident[:1]
	}
	for i, f := range rest {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{f}.Sanitize())
		b.WriteString(" = v.c")
		b.WriteString(strconv.Itoa(slices.Index(d.fields, f)))
	}
	b.WriteString(" FROM ")
	writeValuesTable(&b, rows, d.fields, cols, true)
	b.WriteString(" WHERE ")
	d.writeIdentMatch(&b, func(i int) int { return slices.Index(d.fields, d.ident[i]) })
	b.WriteString(" RETURNING v.o")
	return b.String()
}

// delete removes the rows whose identifier columns hold each record's
// primary key parts, in order.
func (d *destination) delete(ctx context.Context, tx pgx.Tx, cols map[string]column, recs []connector.Record) error {
	for chunk := range slices.Chunk(recs, d.maxParams/len(d.ident)) {
		args, err := sqltable.KeyArgs(chunk, d.ident, func(i int, part string) (any, error) {
			return keyArg(part, cols[d.ident[i]])
		})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, d.deleteSQL(len(chunk), cols), args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteSQL:
//
//	DELETE FROM t AS t USING (VALUES ($1::int, $2::text)) AS v(c0, c1)
//	WHERE t."a" = v.c0 AND t."b" = v.c1
func (d *destination) deleteSQL(rows int, cols map[string]column) string {
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(d.table.String())
	b.WriteString(" AS t USING ")
	writeValuesTable(&b, rows, d.ident, cols, false)
	b.WriteString(" WHERE ")
	d.writeIdentMatch(&b, func(i int) int { return i })
	return b.String()
}

// writeValuesTable writes a VALUES list and its alias:
//
//	(VALUES (0, $1::int, $2::text), (1, $3::int, $4::text)) AS v(o, c0, c1)
//
// with the rows of writeRows.
func writeValuesTable(b *strings.Builder, rows int, names []string, cols map[string]column, pos bool) {
	b.WriteString("(VALUES ")
	writeRows(b, rows, names, cols, pos)
	b.WriteString(") AS v(")
	if pos {
		b.WriteString("o")
	}
	for i := range names {
		if pos || i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("c")
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteByte(')')
}

// writeRows writes rows tuples of parameters numbered from $1, one per
// named column, cast to the type cols gives that column (none when cols
// has no type for it), each led by the row's position when pos is set.
func writeRows(b *strings.Builder, rows int, names []string, cols map[string]column, pos bool) {
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		if pos {
			b.WriteString(strconv.Itoa(r))
		}
		for i, n := range names {
			if pos || i > 0 {
				b.WriteString(", ")
			}
			p++
			writeCastParam(b, p, cols[n])
		}
		b.WriteByte(')')
	}
}

// writeIdentMatch writes t."a" = v.c0 AND …, each identifier column
// against the column of v that at gives for its position in the
// identifier.
func (d *destination) writeIdentMatch(b *strings.Builder, at func(i int) int) {
	for i, c := range d.ident {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("t.")
		b.WriteString(pgx.Identifier{c}.Sanitize())
		b.WriteString(" = v.c")
		b.WriteString(strconv.Itoa(at(i)))
	}
}

// writeCastParam writes "$p::type": parameters in a VALUES list get no
// type from a target column, so the cast gives them the column's.
func writeCastParam(b *strings.Builder, p int, c column) {
	b.WriteByte('$')
	b.WriteString(strconv.Itoa(p))
	if c.Type != "" {
		b.WriteString("::")
		b.WriteString(c.Type)
	}
}

func writeIdents(b *strings.Builder, names []string) {
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{n}.Sanitize())
	}
}

// fieldArgs returns recs' mapped field values, in mapping order,
// converted for their columns.
func (d *destination) fieldArgs(recs []connector.Record, cols map[string]column) ([]any, error) {
	return sqltable.FieldArgs(recs, d.fields, func(i int, v any) any { return arg(v, cols[d.fields[i]]) })
}

// arg converts a canonical value into a bind argument for a column.
// Arrays go to array columns as array literals and elsewhere as JSON.
func arg(v any, c column) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		if c.Bytea {
			return x
		}
	case []any:
		if c.Array {
			return string(appendArrayLiteral(nil, x))
		}
	}
	return value.Text(v)
}

// keyArg converts a primary key part, which is text, for an identifier
// column: binary keys are written as base64 in key text.
func keyArg(part string, c column) (any, error) {
	if c.Bytea {
		b, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("binary key part is not base64: %w", err)
		}
		return b, nil
	}
	return part, nil
}

// appendArrayLiteral renders an array in PostgreSQL's array input syntax,
// every element quoted so that no text can break out of it.
func appendArrayLiteral(buf []byte, xs []any) []byte {
	buf = append(buf, '{')
	for i, e := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		switch x := e.(type) {
		case nil:
			buf = append(buf, "NULL"...)
		case []any:
			buf = appendArrayLiteral(buf, x)
		case []byte:
			buf = appendArrayElem(buf, `\x`+hex.EncodeToString(x))
		default:
			buf = appendArrayElem(buf, value.Text(x))
		}
	}
	return append(buf, '}')
}

func appendArrayElem(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}
