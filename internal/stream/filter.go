package stream

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riptide-data/riptide/internal/value"
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
	Key    []bool
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
		return []Action{b.deletion(c.Key)}, nil
	}
	var out []Action
	if c.Op == Update && c.KeyChanged() {
		out = append(out, b.deletion(c.Key))
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
		out = append(out, b.deletion(c.Key))
	}
	return out, nil
}

func (b *Bound) deletion(key []any) Action {
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

func unchangedError(c Column) error {
	return fmt.Errorf("filter: column %s is stored out of line (TOAST) and the update did not send it; "+
		"ALTER TABLE … REPLICA IDENTITY FULL is not supported yet", c.Name)
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

var errType = errors.New("value of an unexpected type")

// comparer returns the function comparing a column's value with the
// literal: negative, zero or positive as the value is less, equal or
// greater.
func comparer(col Column, op string, lit Literal) (func(v any) (int, error), error) {
	ordered := op != "=" && op != "<>"
	mismatch := func() error {
		return notExact("filter compares column %s (%s) with %s", col.Name, typeLabel(col.Type), litLabel(lit))
	}
	switch col.Type {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID, pgtype.NumericOID:
		r := lit.Number
		if lit.Kind == StringLiteral {
			// '42' is read as a number of the column's type.
			var ok bool
			if r, ok = new(big.Rat).SetString(strings.TrimSpace(lit.Text)); !ok {
				return nil, fmt.Errorf("filter: %s is not a number for column %s", litLabel(lit), col.Name)
			}
		} else if lit.Kind != NumberLiteral {
			return nil, mismatch()
		}
		return func(v any) (int, error) {
			switch v := v.(type) {
			case int64:
				return new(big.Rat).SetInt64(v).Cmp(r), nil
			case value.Decimal:
				x, ok := new(big.Rat).SetString(string(v))
				if !ok {
					return 0, fmt.Errorf("decimal %q", v)
				}
				return x.Cmp(r), nil
			case string:
				// numeric NaN sorts above every number, and above
				// the infinities with it.
				switch v {
				case "NaN", "Infinity":
					return 1, nil
				case "-Infinity":
					return -1, nil
				}
			}
			return 0, fmt.Errorf("%w %T", errType, v)
		}, nil
	case pgtype.Float4OID, pgtype.Float8OID:
		// PostgreSQL reads the constant as the column's float type and
		// compares floats.
		text := lit.Text
		if lit.Kind != NumberLiteral && lit.Kind != StringLiteral {
			return nil, mismatch()
		}
		bits := 64
		if col.Type == pgtype.Float4OID {
			bits = 32
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(text), bits)
		if err != nil {
			return nil, fmt.Errorf("filter: %s is not a number for column %s", litLabel(lit), col.Name)
		}
		if bits == 32 {
			// A real value reaches us widened through its shortest text.
			f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		}
		return func(v any) (int, error) {
			x, ok := floatOf(v)
			if !ok {
				return 0, fmt.Errorf("%w %T", errType, v)
			}
			return floatCmp(x, f), nil
		}, nil
	case pgtype.BoolOID:
		var want bool
		switch {
		case lit.Kind == BoolLiteral:
			want = lit.Bool
		case lit.Kind == StringLiteral && !ordered:
			b, ok := parseBool(lit.Text)
			if !ok {
				return nil, fmt.Errorf("filter: %s is not a boolean for column %s", litLabel(lit), col.Name)
			}
			want = b
		default:
			return nil, mismatch()
		}
		if ordered {
			return nil, mismatch()
		}
		return func(v any) (int, error) {
			b, ok := v.(bool)
			if !ok {
				return 0, fmt.Errorf("%w %T", errType, v)
			}
			if b == want {
				return 0, nil
			}
			return 1, nil
		}, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID:
		if lit.Kind != StringLiteral {
			return nil, mismatch()
		}
		if ordered {
			return nil, notExact("filter orders column %s (%s) with %s: text order depends on the collation", col.Name, typeLabel(col.Type), op)
		}
		want := lit.Text
		norm := func(s string) string { return s }
		switch col.Type {
		case pgtype.BPCharOID:
			// character(n) compares without its trailing blanks.
			norm = func(s string) string { return strings.TrimRight(s, " ") }
		case pgtype.UUIDOID:
			u, err := uuidText(want)
			if err != nil {
				return nil, fmt.Errorf("filter: %s is not a uuid for column %s", litLabel(lit), col.Name)
			}
			want = u
		}
		want = norm(want)
		return func(v any) (int, error) {
			s, ok := v.(string)
			if !ok {
				return 0, fmt.Errorf("%w %T", errType, v)
			}
			return strings.Compare(norm(s), want), nil
		}, nil
	case pgtype.DateOID:
		if lit.Kind != StringLiteral {
			return nil, mismatch()
		}
		d, err := time.Parse("2006-01-02", strings.TrimSpace(lit.Text))
		if err != nil {
			return nil, notExact("filter compares date column %s with %s, not a YYYY-MM-DD date", col.Name, litLabel(lit))
		}
		want := string(value.DateOf(d))
		return func(v any) (int, error) {
			switch v := v.(type) {
			case value.Date:
				return strings.Compare(string(v), want), nil
			case string:
				return specialTime(v)
			}
			return 0, fmt.Errorf("%w %T", errType, v)
		}, nil
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		if lit.Kind != StringLiteral {
			return nil, mismatch()
		}
		want, err := parseTimestamp(lit.Text, col.Type == pgtype.TimestamptzOID)
		if err != nil {
			return nil, notExact("filter compares column %s (%s) with %s: %v", col.Name, typeLabel(col.Type), litLabel(lit), err)
		}
		return func(v any) (int, error) {
			switch v := v.(type) {
			case time.Time:
				return v.Compare(want), nil
			case string:
				return specialTime(v)
			}
			return 0, fmt.Errorf("%w %T", errType, v)
		}, nil
	}
	if lit.Kind == StringLiteral && !ordered && col.Type >= 16384 {
		// A user-defined type, an enum most often: equality of its text.
		want := lit.Text
		return func(v any) (int, error) {
			s, ok := v.(string)
			if !ok {
				return 0, fmt.Errorf("%w %T", errType, v)
			}
			return strings.Compare(s, want), nil
		}, nil
	}
	return nil, mismatch()
}

func floatOf(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case string:
		switch v {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// floatCmp orders floats as PostgreSQL does: NaN equals NaN and sorts
// above everything.
func floatCmp(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// specialTime orders the infinities a date or timestamp may hold against
// any finite constant.
func specialTime(s string) (int, error) {
	switch s {
	case "infinity":
		return 1, nil
	case "-infinity":
		return -1, nil
	}
	return 0, fmt.Errorf("date or time %q outside the range compared", s)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "t", "true", "y", "yes", "on", "1":
		return true, true
	case "f", "false", "n", "no", "off", "0":
		return false, true
	}
	return false, false
}

func uuidText(s string) (string, error) {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return "", err
	}
	b := u.Bytes
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// parseTimestamp reads a timestamp constant. A timestamptz constant must
// carry its zone: without one the server's TimeZone would decide it. A
// timestamp constant must not: the server would drop the zone silently.
func parseTimestamp(s string, zoned bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	withZone := []string{"2006-01-02 15:04:05.999999Z07:00", "2006-01-02T15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999Z07", "2006-01-02T15:04:05.999999Z07"}
	without := []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", "2006-01-02 15:04", "2006-01-02"}
	if zoned {
		for _, l := range withZone {
			if t, err := time.Parse(l, s); err == nil {
				return value.Timestamp(t), nil
			}
		}
		return time.Time{}, errors.New("a timestamptz constant needs its zone (…Z or …+02:00)")
	}
	for _, l := range without {
		if t, err := time.Parse(l, s); err == nil {
			return value.Timestamp(t), nil
		}
	}
	return time.Time{}, errors.New("not a timestamp written YYYY-MM-DD[ hh:mm[:ss[.ffffff]]] without a zone")
}

func typeLabel(oid uint32) string {
	m := pgtype.NewMap()
	if t, ok := m.TypeForOID(oid); ok {
		return t.Name
	}
	return "type " + strconv.FormatUint(uint64(oid), 10)
}

func litLabel(l Literal) string {
	switch l.Kind {
	case StringLiteral:
		return "'" + l.Text + "'"
	case NullLiteral:
		return "NULL"
	}
	return l.Text
}
