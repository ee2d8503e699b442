package value

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"time"
)

// Normalize converts a value as a database driver returns it into its
// canonical form. Sources call it for the types they do not convert
// themselves; it knows the common driver types (sized integers, float32,
// big numbers, maps and slices from nested types).
func Normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, string, Decimal, Date, JSON:
		return v, nil
	case float64:
		return normFloat(x)
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return normUint(uint64(x)), nil
	case uint64:
		return normUint(x), nil
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return normFloat(f)
	case *big.Int:
		if x == nil {
			return nil, nil
		}
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return Decimal(x.String()), nil
	case time.Time:
		return Timestamp(x), nil
	case []byte:
		return append([]byte(nil), x...), nil
	case json.RawMessage:
		return ParseJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		return jsonOf(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := Normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			m[fmt.Sprint(k.Interface())] = rv.MapIndex(k).Interface()
		}
		return jsonOf(m)
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return Normalize(rv.Elem().Interface())
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String(), nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func normUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return Decimal(strconv.FormatUint(u, 10))
}

func normFloat(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no NaN or infinity; keep them as text rather than fail
		// the row.
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	return f, nil
}

// jsonOf turns a decoded nested structure (a STRUCT or MAP column) into a
// canonical JSON document.
func jsonOf(m map[string]any) (JSON, error) {
	norm := make(map[string]any, len(m))
	keys := make([]string, 0, len(m))
	for k, e := range m {
		n, err := Normalize(e)
		if err != nil {
			return "", err
		}
		norm[k] = n
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = AppendJSON(buf, norm[k])
	}
	return JSON(append(buf, '}')), nil
}
