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
