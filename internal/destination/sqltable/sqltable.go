// Package sqltable holds what the SQL table destinations (postgres, mysql)
// share and what does not depend on the dialect: resolving a sync's
// identifier columns, parsing its object into a qualified table name,
// splitting a batch into runs of one op, reading a record's mapped fields
// and key parts into bind arguments, and the per-record failure message of
// an update that matched no row.
//
// SQL text, quoting, type mapping, value binding and error classification
// stay in each destination: they are where the dialects differ.
package sqltable

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// ResolveIdentifier returns the sync's identifier columns: the declared
// ones, or else the mapped fields named like the model's primary key.
func ResolveIdentifier(t connector.Target) ([]string, error) {
	ident := t.Identifier
	if len(ident) == 0 {
		for _, pk := range t.PrimaryKey {
			if slices.Contains(t.Fields, pk) {
				ident = append(ident, pk)
			}
		}
		if len(ident) == 0 {
			return nil, fmt.Errorf("no mapped field is named like the model's primary key (%s), so the identifier cannot be defaulted: set identifier to the column(s) that identify a row of %s",
				strings.Join(t.PrimaryKey, ", "), t.Object)
		}
	}
	for _, c := range ident {
		if !slices.Contains(t.Fields, c) {
			return nil, fmt.Errorf("identifier column %q is not a mapped field; map it so inserted rows carry it", c)
		}
	}
	if t.Mode == "mirror" && len(ident) != len(t.PrimaryKey) {
		return nil, fmt.Errorf("mirror deletes rows by primary key, so the identifier (%s) must be one column per primary key column (%s), in the same order",
			strings.Join(ident, ", "), strings.Join(t.PrimaryKey, ", "))
	}
	return ident, nil
}

// ParseObject reads a sync's object, "table" or "qualifier.table", where
// qualifier is what the dialect puts before a table ("schema",
// "database": the word its messages use). A part between quote characters
// is taken literally, so a name with a dot can be written; a doubled
// quote character inside is one quote character. It returns the parts as
// written, unquoted; qual is "" when the object names only the table
// (no part may be empty).
func ParseObject(obj string, quote byte, qualifier string) (qual, table string, err error) {
	var parts []string
	for s := obj; ; {
		var part string
		if s != "" && s[0] == quote {
			var b strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] != quote {
					b.WriteByte(s[i])
					continue
				}
				if i+1 < len(s) && s[i+1] == quote {
					b.WriteByte(quote)
					i++
					continue
				}
				break
			}
			if i >= len(s) {
				return "", "", fmt.Errorf("object %q: unterminated quoted name", obj)
			}
			part, s = b.String(), s[i+1:]
			if s != "" && s[0] != '.' {
				return "", "", fmt.Errorf("object %q: unexpected text after a quoted name", obj)
			}
		} else {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				i = len(s)
			}
			part, s = s[:i], s[i:]
		}
		if part == "" {
			return "", "", fmt.Errorf("object %q: empty table or %s name; set object to \"table\" or \"%s.table\"", obj, qualifier, qualifier)
		}
		parts = append(parts, part)
		if s == "" {
			break
		}
		s = s[1:] // the dot
	}
	switch len(parts) {
	case 1:
		return "", parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("object %q: want \"table\" or \"%s.table\"", obj, qualifier)
}

// Runs yields the runs of consecutive records with the same op, in batch
// order, each with the position in recs of its first record. Records of a
// run share statements; applying runs in order keeps what the batch's
// order means.
func Runs(recs []connector.Record) iter.Seq2[int, []connector.Record] {
	return func(yield func(int, []connector.Record) bool) {
		for start := 0; start < len(recs); {
			end := start + 1
			for end < len(recs) && recs[end].Op == recs[start].Op {
				end++
			}
			if !yield(start, recs[start:end]) {
				return
			}
			start = end
		}
	}
}

// NoMatch is the failure of an update record that matched no row of
// table: the record's identifier values are named.
func NoMatch(table string, ident []string, r connector.Record) string {
	parts := make([]string, len(ident))
	for i, c := range ident {
		v, _ := r.Field(c)
		parts[i] = fmt.Sprintf("%s=%v", c, v)
	}
	return fmt.Sprintf("no row of %s matches identifier (%s)", table, strings.Join(parts, ", "))
}

// NonIdent returns the mapped fields that are not identifier columns, in
// mapping order: the columns an upsert or update sets.
func NonIdent(fields, ident []string) []string {
	var rest []string
	for _, f := range fields {
		if !slices.Contains(ident, f) {
			rest = append(rest, f)
		}
	}
	return rest
}

var errNoField = errors.New("record lacks a mapped field")

// fieldValue returns the value of the mapped field at position i of the
// mapping; records carry their fields in mapping order, and a lookup by
// name covers one that does not.
func fieldValue(r *connector.Record, i int, name string) (any, error) {
	if i < len(r.Fields) && r.Fields[i].Name == name {
		return r.Fields[i].Value, nil
	}
	if v, ok := r.Field(name); ok {
		return v, nil
	}
	return nil, fmt.Errorf("%w %q (key %s)", errNoField, name, r.Key)
}

// FirstNonNull returns the first non-null value of field (at position i
// in the mapping) among recs, or nil: what create_table types a column
// after.
func FirstNonNull(recs []connector.Record, i int, field string) any {
	for _, r := range recs {
		if v, err := fieldValue(&r, i, field); err == nil && v != nil {
			return v
		}
	}
	return nil
}

// FieldArgs returns the bind arguments of recs' mapped fields, record by
// record in mapping order, each value converted by conv, which is given
// the field's position in fields. A record without a mapped field is a
// RequestError.
func FieldArgs(recs []connector.Record, fields []string, conv func(i int, v any) any) ([]any, error) {
	args := make([]any, 0, len(recs)*len(fields))
	for r := range recs {
		for i, f := range fields {
			v, err := fieldValue(&recs[r], i, f)
			if err != nil {
				return nil, &connector.RequestError{Message: err.Error()}
			}
			args = append(args, conv(i, v))
		}
	}
	return args, nil
}

// KeyArgs returns the bind arguments of deletes: each record's primary key
// parts, one per identifier column in order, each part converted by conv,
// which is given the identifier column's position in ident. A key with
// the wrong number of parts, or a part conv refuses, is a RequestError.
func KeyArgs(recs []connector.Record, ident []string, conv func(i int, part string) (any, error)) ([]any, error) {
	args := make([]any, 0, len(recs)*len(ident))
	for _, r := range recs {
		if len(r.KeyParts) != len(ident) {
			return nil, &connector.RequestError{Message: fmt.Sprintf(
				"delete of key %q: the key has %d part(s) but the identifier has %d column(s)", r.Key, len(r.KeyParts), len(ident))}
		}
		for i, part := range r.KeyParts {
			a, err := conv(i, part)
			if err != nil {
				return nil, &connector.RequestError{Message: fmt.Sprintf("delete of key %q: %v", r.Key, err)}
			}
			args = append(args, a)
		}
	}
	return args, nil
}

// HasKey reports whether one of keys (each a unique key's columns) holds
// exactly cols, in any order: the key an upsert finds its row by.
func HasKey(keys [][]string, cols []string) bool {
	want := slices.Sorted(slices.Values(cols))
	for _, k := range keys {
		if slices.Equal(slices.Sorted(slices.Values(k)), want) {
			return true
		}
	}
	return false
}
