package transform

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/value"
)

// coerce converts a mapped value to the type a mapping asks for, so that
// the destination receives what its field holds (HubSpot wants a date
// property as a date, a CRM number field refuses "12 seats"). NULL stays
// NULL. A value that cannot be converted is the row's error, never a
// silent zero.
func coerce(v any, typ string) (any, error) {
	if v == nil || typ == "" {
		return v, nil
	}
	out, ok := convert(v, typ)
	if !ok {
		return nil, fmt.Errorf("cannot convert %s to %s", describeValue(v), typ)
	}
	return out, nil
}

func convert(v any, typ string) (any, bool) {
	switch typ {
	case "string":
		return value.Text(v), true
	case "integer":
		return toInteger(v)
	case "number":
		return toNumber(v)
	case "boolean":
		return toBool(v)
	case "date":
		t, ok := toTime(v)
		if !ok {
			return nil, false
		}
		return value.Date(t.Format(time.DateOnly)), true
	case "datetime":
		return toTime(v)
	case "epoch_ms":
		if n, ok := v.(int64); ok {
			return n, true
		}
		t, ok := toTime(v)
		if !ok {
			return nil, false
		}
		return t.UnixMilli(), true
	}
	return nil, false
}

func toInteger(v any) (any, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return int64(1), true
		}
		return int64(0), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), true
		}
	case value.Decimal:
		return toInteger(string(x))
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		// "12.0" is an integer written as a decimal; "12.5" is not.
		if d, err := value.ParseDecimal(s); err == nil && !strings.Contains(string(d), ".") {
			n, err := strconv.ParseInt(string(d), 10, 64)
			return n, err == nil
		}
	}
	return nil, false
}

func toNumber(v any) (any, bool) {
	switch x := v.(type) {
	case int64, float64, value.Decimal:
		return x, true
	case bool:
		return toInteger(x)
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		// Exact decimal text keeps every digit (no float rounding).
		if d, err := value.ParseDecimal(s); err == nil {
			return d, true
		}
	}
	return nil, false
}

func toBool(v any) (any, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case int64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case value.Decimal:
		return toBool(string(x))
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "t", "yes", "y", "1":
			return true, true
		case "false", "f", "no", "n", "0":
			return false, true
		}
	}
	return nil, false
}

// timeLayouts are the text forms of dates and times a warehouse or a
// template commonly produces.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.DateOnly}

func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case value.Date:
		return toTime(string(x))
	case string:
		s := strings.TrimSpace(x)
		for _, layout := range timeLayouts {
			// Text without a zone is read as UTC, as warehouses store it.
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

func describeValue(v any) string {
	s := value.Text(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	kind := "text"
	switch v.(type) {
	case bool:
		kind = "a boolean"
	case int64, float64, value.Decimal:
		kind = "a number"
	case time.Time:
		kind = "a timestamp"
	case value.Date:
		kind = "a date"
	case []any:
		kind = "a list"
	case value.JSON:
		kind = "JSON"
	case []byte:
		kind = "binary"
	}
	return fmt.Sprintf("%q (%s)", s, kind)
}
