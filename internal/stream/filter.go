package stream

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// Action is what a change means for the model's rows.
type Action struct {
	// Delete is true when the row leaves the model (deleted, or no longer
	// kept by the filter); Row then holds only the key's values.
	Delete bool
	// Row is the model's row, one value per column of Bound.Columns.
	Row []any
}

// Bound is a model bound to the table's columns as the stream describes
// them: it turns changes into the model's rows.
type Bound struct {
	// Columns are the model's column names.
	Columns []string
	// Key marks the model columns that are the table's primary key.
	Key []bool
	// Types are the model columns' type OIDs.
	Types  []uint32
	source []int // table column of each model column
	where  func(row []any) (tri, error)
}

// Bind resolves the model's columns and filter against the table's
// columns. A filter it cannot evaluate exactly as PostgreSQL would (an
// ordering of text, which depends on the collation; a type it does not
// compare) is ErrNotExact.
func (m *Model) Bind(cols []Column) (*Bound, error) {
	index := map[string]int{}
	for i, c := range cols {
		index[c.Name] = i
	}
	b := &Bound{}
	if m.Columns == nil {
		for i, c := range cols {
			b.Columns = append(b.Columns, c.Name)
			b.Key = append(b.Key, c.Key)
			b.Types = append(b.Types, c.Type)
			b.source = append(b.source, i)
		}
	}
	for _, p := range m.Columns {
		i, ok := index[p.Column]
		if !ok {
			return nil, fmt.Errorf("model column %s: table %s has no column %s", p.Name, m.Table, p.Column)
		}
		b.Columns = append(b.Columns, p.Name)
		b.Key = append(b.Key, cols[i].Key)
		b.Types = append(b.Types, cols[i].Type)
		b.source = append(b.source, i)
	}
	for i, c := range cols {
		if c.Key && !containsInt(b.source, i) {
			return nil, notExact("the model leaves out the primary key column %s, so a change cannot name its row", c.Name)
		}
	}
	b.where = func([]any) (tri, error) { return yes, nil }
	if m.Where != nil {
		w, err := compile(m.Where, cols, index)
		if err != nil {
			return nil, err
		}
		b.where = w
	}
	return b, nil
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// Apply turns a change into the model's actions: a row that is or stays
// in the filter is upserted, one that leaves it or is deleted is deleted,
// and an update that moved the row to another key deletes the old key
// first. A row outside the filter before and after is deleted too: the
// stream does not see the row's old values, and deleting a key the
// destination never had is the engine's to skip.
func (b *Bound) Apply(c Change) ([]Action, error) {
	if c.Op == Delete {
		return []Action{b.Deletion(c.Key)}, nil
	}
	var out []Action
	if c.Op == Update && c.KeyChanged() {
		out = append(out, b.Deletion(c.Key))
	}
	in, err := b.where(c.Row)
	if err != nil {
		return nil, err
	}
	switch {
	case in == yes:
		row := make([]any, len(b.source))
		for i, s := range b.source {
			row[i] = c.Row[s]
		}
		out = append(out, Action{Row: row})
	case c.Op == Update && !c.KeyChanged():
		out = append(out, b.Deletion(c.Key))
	}
	return out, nil
}

// Deletion is the action deleting the model's row whose key a table row
// (or a change's Key) holds.
func (b *Bound) Deletion(key []any) Action {
	row := make([]any, len(b.source))
	for i, s := range b.source {
		if b.Key[i] {
			row[i] = key[s]
		}
	}
	return Action{Delete: true, Row: row}
}

// tri is SQL's three-valued logic.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func compile(e Expr, cols []Column, index map[string]int) (func([]any) (tri, error), error) {
	column := func(name string) (int, error) {
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("filter: the table has no column %s", name)
		}
		return i, nil
	}
	switch e := e.(type) {
	case And:
		l, r, err := compile2(e.Left, e.Right, cols, index)
		if err != nil {
			return nil, err
		}
		return func(row []any) (tri, error) {
			a, err := l(row)
			if err != nil || a == no {
				return no, err
			}
			b, err := r(row)
			if err != nil || b == no {
				return no, err
			}
			if a == yes && b == yes {
				return yes, nil
			}
			return unknown, nil
		}, nil
	case Or:
		l, r, err := compile2(e.Left, e.Right, cols, index)
		if err != nil {
			return nil, err
		}
		return func(row []any) (tri, error) {
			a, err := l(row)
			if err != nil || a == yes {
				return yes, err
			}
			b, err := r(row)
			if err != nil || b == yes {
				return yes, err
			}
			if a == no && b == no {
				return no, nil
			}
			return unknown, nil
		}, nil
	case Not:
		f, err := compile(e.Expr, cols, index)
		if err != nil {
			return nil, err
		}
		return func(row []any) (tri, error) {
			v, err := f(row)
			switch v {
			case yes:
				return no, err
			case no:
				return yes, err
			}
			return unknown, err
		}, nil
	case IsNull:
		i, err := column(e.Column)
		if err != nil {
			return nil, err
		}
		return func(row []any) (tri, error) {
			if row[i] == Unchanged {
				return unknown, unchangedError(cols[i])
			}
			return triOf((row[i] == nil) != e.Not), nil
		}, nil
	case Bool:
		i, err := column(e.Column)
		if err != nil {
			return nil, err
		}
		if cols[i].Type != pgtype.BoolOID {
			return nil, fmt.Errorf("filter: column %s is not boolean", e.Column)
		}
		return compareFunc(cols[i], i, "=", Literal{Kind: BoolLiteral, Bool: true})
	case Compare:
		i, err := column(e.Column)
		if err != nil {
			return nil, err
		}
		return compareFunc(cols[i], i, e.Op, e.Value)
	case In:
		i, err := column(e.Column)
		if err != nil {
			return nil, err
		}
		var fs []func([]any) (tri, error)
		for _, v := range e.Values {
			f, err := compareFunc(cols[i], i, "=", v)
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		// x IN (a, b) is x = a OR x = b; NOT IN its negation.
		return func(row []any) (tri, error) {
			res := no
			for _, f := range fs {
				v, err := f(row)
				if err != nil {
					return unknown, err
				}
				if v == yes {
					res = yes
					break
				}
				if v == unknown {
					res = unknown
				}
			}
			if e.Not && res != unknown {
				res = triOf(res == no)
			}
			return res, nil
		}, nil
	}
	return nil, fmt.Errorf("filter: unknown expression %T", e)
}

func compile2(l, r Expr, cols []Column, index map[string]int) (func([]any) (tri, error), func([]any) (tri, error), error) {
	lf, err := compile(l, cols, index)
	if err != nil {
		return nil, nil, err
	}
	rf, err := compile(r, cols, index)
	return lf, rf, err
}

// ErrUnchanged marks a change whose filter needs a value the server did
// not send (stored out of line, TOAST, and left as it was by an update):
// only the table can tell the row now (Lookup).
var ErrUnchanged = errors.New("a value the update did not send")

func unchangedError(c Column) error {
	return fmt.Errorf("filter: column %s is stored out of line (TOAST) and the update did not send it: %w", c.Name, ErrUnchanged)
}

// compareFunc compiles "column op literal" for the column's type: the
// literal is read as PostgreSQL would read it for that type, once, and
// compared with each row's canonical value.
func compareFunc(col Column, i int, op string, lit Literal) (func([]any) (tri, error), error) {
	if lit.Kind == NullLiteral {
		// Any comparison with NULL is unknown.
		return func([]any) (tri, error) { return unknown, nil }, nil
	}
	cmp, err := comparer(col, op, lit)
	if err != nil {
		return nil, err
	}
	return func(row []any) (tri, error) {
		v := row[i]
		switch v {
		case nil:
			return unknown, nil
		case Unchanged:
			return unknown, unchangedError(col)
		}
		c, err := cmp(v)
		if err != nil {
			return unknown, fmt.Errorf("filter: column %s: %w", col.Name, err)
		}
		switch op {
		case "=":
			return triOf(c == 0), nil
		case "<>":
			return triOf(c != 0), nil
		case "<":
			return triOf(c < 0), nil
		case "<=":
			return triOf(c <= 0), nil
		case ">":
			return triOf(c > 0), nil
		}
		return triOf(c >= 0), nil
	}, nil
}
