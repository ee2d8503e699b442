package value

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Tags of the binary encoding. The encoding is the input of row hashes and
// the format of spill files, so changing a tag changes every snapshot hash:
// append new tags, never renumber.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagDecimal
	tagTime
	tagDate
	tagBytes
	tagJSON
	tagArray
)

// Append appends the canonical binary encoding of v to buf. v must be a
// canonical value (see the package comment); anything else is encoded as
// its fmt text.
func Append(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNull)
	case bool:
		if x {
			return append(buf, tagTrue)
		}
		return append(buf, tagFalse)
	case int64:
		return binary.AppendVarint(append(buf, tagInt), x)
	case float64:
		return binary.LittleEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(x))
	case string:
		return appendBytes(buf, tagString, x)
	case Decimal:
		return appendBytes(buf, tagDecimal, string(x))
	case time.Time:
		return binary.AppendVarint(append(buf, tagTime), x.UnixMicro())
	case Date:
		return appendBytes(buf, tagDate, string(x))
	case []byte:
		return appendBytes(buf, tagBytes, string(x))
	case JSON:
		return appendBytes(buf, tagJSON, string(x))
	case []any:
		buf = binary.AppendUvarint(append(buf, tagArray), uint64(len(x)))
		for _, e := range x {
			buf = Append(buf, e)
		}
		return buf
	}
	return appendBytes(buf, tagString, fmt.Sprint(v))
}

func appendBytes(buf []byte, tag byte, s string) []byte {
	buf = binary.AppendUvarint(append(buf, tag), uint64(len(s)))
	return append(buf, s...)
}

var errShort = errors.New("truncated value encoding")

// Decode decodes one value from the start of b and returns it with the
// number of bytes it used.
func Decode(b []byte) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, errShort
	}
	tag, rest := b[0], b[1:]
	switch tag {
	case tagNull:
		return nil, 1, nil
	case tagFalse:
		return false, 1, nil
	case tagTrue:
		return true, 1, nil
	case tagInt:
		v, n := binary.Varint(rest)
		if n <= 0 {
			return nil, 0, errShort
		}
		return v, 1 + n, nil
	case tagFloat:
		if len(rest) < 8 {
			return nil, 0, errShort
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(rest)), 9, nil
	case tagTime:
		v, n := binary.Varint(rest)
		if n <= 0 {
			return nil, 0, errShort
		}
		return time.UnixMicro(v).UTC(), 1 + n, nil
	case tagString, tagDecimal, tagDate, tagBytes, tagJSON:
		l, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < l {
			return nil, 0, errShort
		}
		s := rest[n : n+int(l)]
		used := 1 + n + int(l)
		switch tag {
		case tagString:
			return string(s), used, nil
		case tagDecimal:
			return Decimal(s), used, nil
		case tagDate:
			return Date(s), used, nil
		case tagJSON:
			return JSON(s), used, nil
		}
		return append([]byte(nil), s...), used, nil
	case tagArray:
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)) {
			return nil, 0, errShort
		}
		used := 1 + n
		out := make([]any, l)
		for i := range out {
			v, m, err := Decode(b[used:])
			if err != nil {
				return nil, 0, err
			}
			out[i], used = v, used+m
		}
		return out, used, nil
	}
	return nil, 0, fmt.Errorf("unknown value tag %d", tag)
}

// Text renders a canonical value as plain text: the form of keys, CSV cells
// and templates. NULL is the empty string.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case Decimal:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case Date:
		return string(x)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case JSON:
		return string(x)
	case []any:
		return string(AppendJSON(nil, x))
	}
	return fmt.Sprint(v)
}

// AppendJSON appends v as JSON: decimals as numbers, exactly as written;
// timestamps as RFC 3339 strings; JSON documents embedded as they are.
func AppendJSON(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case float64:
		return strconv.AppendFloat(buf, x, 'g', -1, 64)
	case Decimal:
		return append(buf, x...)
	case JSON:
		return append(buf, x...)
	case time.Time:
		buf = append(buf, '"')
		buf = x.AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"')
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSON(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		j, err := jsonOf(x)
		if err != nil {
			return appendJSONString(buf, fmt.Sprint(x))
		}
		return append(buf, j...)
	}
	return appendJSONString(buf, Text(v))
}

const hexDigits = "0123456789abcdef"

func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			if r == utf8.RuneError {
				buf = append(buf, `\ufffd`...)
			} else {
				buf = append(buf, `\u202`...)
				buf = append(buf, hexDigits[r&0xF])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// AppendJSONString appends s as a JSON string.
func AppendJSONString(buf []byte, s string) []byte { return appendJSONString(buf, s) }

// JoinKey joins the text of a composite primary key's parts into one key:
// parts are separated by "|", and a "|" or "\" inside a part is escaped
// with "\". A single-part key is its text unchanged.
func JoinKey(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(p); j++ {
			if p[j] == '|' || p[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p[j])
		}
	}
	return b.String()
}

// SplitKey is the inverse of JoinKey for a key of n parts.
func SplitKey(key string, n int) ([]string, error) {
	if n == 1 {
		return []string{key}, nil
	}
	parts := make([]string, 0, n)
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '\\':
			if i+1 == len(key) {
				return nil, fmt.Errorf("key %q ends in an escape", key)
			}
			i++
			cur.WriteByte(key[i])
		case '|':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(key[i])
		}
	}
	parts = append(parts, cur.String())
	if len(parts) != n {
		return nil, fmt.Errorf("key %q has %d parts, want %d", key, len(parts), n)
	}
	return parts, nil
}

// AppendRow appends the encodings of a row's values to buf, recording in
// offs[i+1] where value i ends (offs must have len(vals)+1 elements;
// offs[0] is set to len(buf) on entry). Column i is buf[offs[i]:offs[i+1]].
func AppendRow(buf []byte, vals []any, offs []int) []byte {
	offs[0] = len(buf)
	for i, v := range vals {
		buf = Append(buf, v)
		offs[i+1] = len(buf)
	}
	return buf
}
