package mysql

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/arena"
	"github.com/riptide-data/riptide/internal/value"
)

// kind is how a column's values are converted, decided once per column
// from the type the server reports.
type kind int

const (
	kindText    kind = iota // []byte → string
	kindNumber              // int64, uint64, float32, float64 from the driver
	kindDecimal             // []byte text → Decimal
	kindDate                // time.Time → Date
	kindTime                // time.Time → UTC µs timestamp
	kindJSON                // []byte → JSON
	kindBinary              // []byte → []byte
	kindBit                 // []byte, big-endian → int64
)

// kindOf maps go-sql-driver's DatabaseTypeName to a conversion. Integer,
// float and date/time columns arrive already decoded by the driver (with
// parseTime); the others arrive as the server's bytes.
func kindOf(dbType string) kind {
	switch strings.TrimPrefix(dbType, "UNSIGNED ") {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR", "FLOAT", "DOUBLE", "NULL":
		return kindNumber
	case "DECIMAL":
		return kindDecimal
	case "DATE":
		return kindDate
	case "DATETIME", "TIMESTAMP":
		return kindTime
	case "JSON":
		return kindJSON
	case "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "GEOMETRY", "VECTOR":
		return kindBinary
	case "BIT":
		return kindBit
	}
	return kindText
}

type column struct {
	kind  kind
	raw   sql.RawBytes // scan target of byte-valued kinds: the driver's buffer, no copy
	val   any          // scan target of decoded kinds
	arena arena.Arena
}

type rows struct {
	tx    *sql.Tx
	rows  *sql.Rows
	cols  []connector.Column
	conv  []column
	dests []any
	vals  []any
	err   error
}

func (r *rows) describe() error {
	types, err := r.rows.ColumnTypes()
	if err != nil {
		return err
	}
	r.cols = make([]connector.Column, len(types))
	r.conv = make([]column, len(types))
	r.dests = make([]any, len(types))
	r.vals = make([]any, len(types))
	for i, ct := range types {
		name := ct.DatabaseTypeName()
		if p, s, ok := ct.DecimalSize(); ok && name == "DECIMAL" {
			name = fmt.Sprintf("DECIMAL(%d,%d)", p, s)
		}
		r.cols[i] = connector.Column{Name: ct.Name(), DatabaseType: name}
		c := &r.conv[i]
		c.kind = kindOf(ct.DatabaseTypeName())
		switch c.kind {
		case kindNumber, kindDate, kindTime:
			r.dests[i] = &c.val
		default:
			r.dests[i] = &c.raw
		}
	}
	return nil
}

func (r *rows) Columns() []connector.Column { return r.cols }

func (r *rows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		if r.err == nil {
			if err := r.rows.Err(); err != nil {
				r.err = fmt.Errorf("query: %w", err)
			}
		}
		return false
	}
	if err := r.rows.Scan(r.dests...); err != nil {
		r.err = fmt.Errorf("query: %w", err)
		return false
	}
	for i := range r.conv {
		v, err := r.conv[i].value()
		if err != nil {
			r.err = fmt.Errorf("read column %q: %w", r.cols[i].Name, err)
			return false
		}
		r.vals[i] = v
	}
	return true
}

func (c *column) value() (any, error) {
	switch c.kind {
	case kindNumber:
		if v, ok := c.val.(int64); ok {
			return v, nil
		}
		return value.Normalize(c.val)
	case kindDate, kindTime:
		t, ok := c.val.(time.Time)
		if !ok {
			return value.Normalize(c.val)
		}
		if t.IsZero() {
			// MySQL's zero date ("0000-00-00") means "no date".
			return nil, nil
		}
		if c.kind == kindDate {
			return value.DateOf(t), nil
		}
		return value.Timestamp(t), nil
	}
	if c.raw == nil {
		return nil, nil
	}
	switch c.kind {
	case kindDecimal:
		return value.ParseDecimal(string(c.raw))
	case kindJSON:
		return value.ParseJSON(c.raw)
	case kindBinary:
		return append(make([]byte, 0, len(c.raw)), c.raw...), nil
	case kindBit:
		if len(c.raw) > 8 {
			return nil, fmt.Errorf("BIT value of %d bytes", len(c.raw))
		}
		var b [8]byte
		copy(b[8-len(c.raw):], c.raw)
		u := binary.BigEndian.Uint64(b[:])
		return value.Normalize(u)
	}
	return c.arena.String(c.raw), nil
}

// Values returns the current row. The slice is the same one for every row,
// overwritten by Next; the values in it stay valid after Next.
func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

// Close closes the result and rolls the read-only transaction back. It may
// be called more than once.
func (r *rows) Close() error {
	if r.tx == nil {
		return nil
	}
	err := r.rows.Close()
	_ = r.tx.Rollback() // a read-only transaction has nothing to keep
	r.tx = nil
	if err != nil {
		return fmt.Errorf("close mysql result: %w", err)
	}
	return nil
}
