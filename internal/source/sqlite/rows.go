package sqlite

import (
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// kind is what a column's declared type says its values mean.
type kind int

const (
	kindPlain kind = iota
	kindDate
	kindTimestamp
	kindBool
	kindDecimal
	kindJSON
)

// kindOf reads a declared type ("DECIMAL(12,2)", "TIMESTAMP WITH TIME
// ZONE", "datetime") by its name before any parenthesis, whole or by its
// first word.
func kindOf(declared string) kind {
	name, _, _ := strings.Cut(strings.ToUpper(declared), "(")
	name = strings.TrimSpace(name)
	first, _, _ := strings.Cut(name, " ")
	for _, n := range []string{name, first} {
		switch n {
		case "DATE":
			return kindDate
		case "DATETIME", "TIMESTAMP", "TIMESTAMPTZ":
			return kindTimestamp
		case "BOOLEAN", "BOOL":
			return kindBool
		case "DECIMAL", "NUMERIC":
			return kindDecimal
		case "JSON", "JSONB":
			return kindJSON
		}
	}
	return kindPlain
}

type rows struct {
	rows  *sql.Rows
	cols  []connector.Column
	kinds []kind
	raw   []any
	dests []any
	vals  []any
	err   error
}

func (r *rows) describe() error {
	types, err := r.rows.ColumnTypes()
	if err != nil {
		return err
	}
	n := len(types)
	r.cols = make([]connector.Column, n)
	r.kinds = make([]kind, n)
	r.raw = make([]any, n)
	r.dests = make([]any, n)
	r.vals = make([]any, n)
	for i, ct := range types {
		r.cols[i] = connector.Column{Name: ct.Name(), DatabaseType: ct.DatabaseTypeName()}
		r.kinds[i] = kindOf(ct.DatabaseTypeName())
		r.dests[i] = &r.raw[i]
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
	for i, v := range r.raw {
		c, err := convert(r.kinds[i], v)
		if err != nil {
			r.err = fmt.Errorf("read column %q: %w", r.cols[i].Name, err)
			return false
		}
		r.vals[i] = c
	}
	return true
}

// convert turns a value as SQLite stored it into its canonical form. The
// driver already turns TEXT in DATE, DATETIME and TIMESTAMP columns into
// time.Time when it parses; a value that does not parse as what its
// column declares is passed on as stored.
func convert(k kind, v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, string, []byte:
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return value.Normalize(x)
		}
	case time.Time:
		if k == kindDate {
			return value.DateOf(x), nil
		}
		return value.Timestamp(x), nil
	default:
		return value.Normalize(v)
	}
	switch k {
	case kindDate:
		if s, ok := v.(string); ok {
			if t, ok := parseTime(s); ok {
				return value.DateOf(t), nil
			}
		}
	case kindTimestamp:
		if s, ok := v.(string); ok {
			if t, ok := parseTime(s); ok {
				return value.Timestamp(t), nil
			}
		}
	case kindBool:
		switch x := v.(type) {
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b, nil
			}
		}
	case kindDecimal:
		switch x := v.(type) {
		case int64:
			return value.Decimal(strconv.FormatInt(x, 10)), nil
		case float64:
			// The shortest text that reads back as the same double: a
			// NUMERIC(12,2) 12.50 is stored as the REAL 12.5.
			return value.ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		case string:
			if d, err := value.ParseDecimal(x); err == nil {
				return d, nil
			}
		}
	case kindJSON:
		switch x := v.(type) {
		case string:
			if j, err := value.ParseJSON([]byte(x)); err == nil {
				return j, nil
			}
		case []byte:
			if j, err := value.ParseJSON(x); err == nil {
				return j, nil
			}
		}
	}
	if b, ok := v.([]byte); ok {
		// database/sql hands over its own copy; keep it.
		return b, nil
	}
	return v, nil
}

// parseTime reads the text forms of SQLite's date and time functions,
// with an optional zone; text without a zone is taken as UTC.
func parseTime(s string) (time.Time, bool) {
	layouts := [...]string{
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04Z07:00",
		"2006-01-02T15:04Z07:00",
		"2006-01-02 15:04",
		"2006-01-02T15:04",
		"2006-01-02",
	}
	s = strings.TrimSpace(s)
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Values returns the current row. The slice is the same one for every row,
// overwritten by Next; the values in it stay valid after Next.
func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

// Close closes the result. It may be called more than once.
func (r *rows) Close() error {
	if err := r.rows.Close(); err != nil {
		return fmt.Errorf("close sqlite result: %w", err)
	}
	return nil
}
