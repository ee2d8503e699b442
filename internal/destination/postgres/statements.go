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
	"github.com/riptide-data/riptide/internal/value"
)

// Values travel as text and PostgreSQL parses them as the column's type:
// exact for decimals, dates and JSON, and the database's own message when
// a value does not fit. Only bytea gets raw bytes.

// insert writes recs with multi-row INSERT statements; upsert adds ON
// CONFLICT on the identifier, updating every other mapped column.
func (d *destination) insert(ctx context.Context, tx pgx.Tx, cols map[string]column, recs []connector.Record, upsert bool) error {
	perStmt := d.maxParams / len(d.fields)
	for len(recs) > 0 {
		n := min(len(recs), perStmt)
		args := make([]any, 0, n*len(d.fields))
		for i := range recs[:n] {
			var err error
			if args, err = d.appendFieldArgs(args, &recs[i], cols); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, d.insertSQL(n, upsert), args...); err != nil {
			return err
		}
		recs = recs[n:]
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
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range d.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
		}
		b.WriteByte(')')
	}
	if !upsert {
		return b.String()
	}
	b.WriteString(" ON CONFLICT (")
	writeIdents(&b, d.ident)
	b.WriteString(") DO ")
	rest := d.nonIdent()
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
	perStmt := d.maxParams / len(d.fields)
	for base := 0; base < len(recs); base += perStmt {
		chunk := recs[base:min(len(recs), base+perStmt)]
		args := make([]any, 0, len(chunk)*len(d.fields))
		for i := range chunk {
			var err error
			if args, err = d.appendFieldArgs(args, &chunk[i], cols); err != nil {
				return nil, err
			}
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
	rest := d.nonIdent()
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
		b.WriteString(strconv.Itoa(d.fieldIndex(f)))
	}
	b.WriteString(" FROM (VALUES ")
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(strconv.Itoa(r))
		for _, f := range d.fields {
			p++
			b.WriteString(", ")
			writeCastParam(&b, p, cols[f])
		}
		b.WriteByte(')')
	}
	b.WriteString(") AS v(o")
	for i := range d.fields {
		b.WriteString(", c")
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString(") WHERE ")
	for i, c := range d.ident {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("t.")
		b.WriteString(pgx.Identifier{c}.Sanitize())
		b.WriteString(" = v.c")
		b.WriteString(strconv.Itoa(d.fieldIndex(c)))
	}
	b.WriteString(" RETURNING v.o")
	return b.String()
}

// delete removes the rows whose identifier columns hold each record's
// primary key parts, in order.
func (d *destination) delete(ctx context.Context, tx pgx.Tx, cols map[string]column, recs []connector.Record) error {
	perStmt := d.maxParams / len(d.ident)
	for len(recs) > 0 {
		n := min(len(recs), perStmt)
		args := make([]any, 0, n*len(d.ident))
		for _, r := range recs[:n] {
			if len(r.KeyParts) != len(d.ident) {
				return &connector.RequestError{Message: fmt.Sprintf(
					"delete of key %q: the key has %d part(s) but the identifier has %d column(s)", r.Key, len(r.KeyParts), len(d.ident))}
			}
			for i, part := range r.KeyParts {
				a, err := keyArg(part, cols[d.ident[i]])
				if err != nil {
					return &connector.RequestError{Message: fmt.Sprintf("delete of key %q: %v", r.Key, err)}
				}
				args = append(args, a)
			}
		}
		if _, err := tx.Exec(ctx, d.deleteSQL(n, cols), args...); err != nil {
			return err
		}
		recs = recs[n:]
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
	b.WriteString(" AS t USING (VALUES ")
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, c := range d.ident {
			p++
			if i > 0 {
				b.WriteString(", ")
			}
			writeCastParam(&b, p, cols[c])
		}
		b.WriteByte(')')
	}
	b.WriteString(") AS v(")
	for i := range d.ident {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("c")
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString(") WHERE ")
	for i, c := range d.ident {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("t.")
		b.WriteString(pgx.Identifier{c}.Sanitize())
		b.WriteString(" = v.c")
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
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

// appendFieldArgs appends a record's mapped field values, in mapping
// order, converted for their columns.
func (d *destination) appendFieldArgs(args []any, r *connector.Record, cols map[string]column) ([]any, error) {
	for i, f := range d.fields {
		v, err := fieldValue(r, i, f)
		if err != nil {
			return nil, &connector.RequestError{Message: err.Error()}
		}
		args = append(args, arg(v, cols[f]))
	}
	return args, nil
}

func (d *destination) nonIdent() []string {
	var rest []string
	for _, f := range d.fields {
		if !slices.Contains(d.ident, f) {
			rest = append(rest, f)
		}
	}
	return rest
}

func (d *destination) fieldIndex(name string) int {
	for i, f := range d.fields {
		if f == name {
			return i
		}
	}
	return -1
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
