package postgres

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riptide-data/riptide/internal/source/arena"
	"github.com/riptide-data/riptide/internal/value"
)

// A decoder converts one column's raw wire value (never NULL) into its
// canonical value. Decoders are chosen once per column from the type OID;
// the types listed in binaryDecoders are requested in PostgreSQL's binary
// format, everything else in text format, which becomes a string.
type decoder func(raw []byte) (any, error)

// decoderFor returns the binary decoder of a type, or nil when the type is
// read as text. Each text-like column gets its own arena.
func decoderFor(oid uint32) decoder {
	switch oid {
	case pgtype.BoolOID:
		return decodeBool
	case pgtype.Int2OID:
		return decodeInt2
	case pgtype.Int4OID:
		return decodeInt4
	case pgtype.Int8OID:
		return decodeInt8
	case pgtype.OIDOID, pgtype.XIDOID, pgtype.CIDOID:
		return decodeUint4
	case pgtype.Float4OID:
		return decodeFloat4
	case pgtype.Float8OID:
		return decodeFloat8
	case pgtype.NumericOID:
		return decodeNumeric
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.XMLOID:
		a := new(arena.Arena)
		return func(raw []byte) (any, error) { return a.String(raw), nil }
	case pgtype.ByteaOID:
		return decodeBytea
	case pgtype.DateOID:
		return decodeDate
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		return decodeTimestamp
	case pgtype.TimeOID:
		return decodeTime
	case pgtype.TimetzOID:
		return decodeTimetz
	case pgtype.IntervalOID:
		return decodeInterval
	case pgtype.UUIDOID:
		return decodeUUID
	case pgtype.JSONOID:
		return decodeJSON
	case pgtype.JSONBOID:
		return decodeJSONB
	}
	if elem, ok := arrayElement(oid); ok {
		return arrayDecoder(elem, decoderFor(elem))
	}
	return nil
}

// arrayElement returns the element type of the array types whose
// elements are binary-decoded.
func arrayElement(oid uint32) (uint32, bool) {
	switch oid {
	case pgtype.BoolArrayOID:
		return pgtype.BoolOID, true
	case pgtype.Int2ArrayOID:
		return pgtype.Int2OID, true
	case pgtype.Int4ArrayOID:
		return pgtype.Int4OID, true
	case pgtype.Int8ArrayOID:
		return pgtype.Int8OID, true
	case pgtype.OIDArrayOID:
		return pgtype.OIDOID, true
	case pgtype.Float4ArrayOID:
		return pgtype.Float4OID, true
	case pgtype.Float8ArrayOID:
		return pgtype.Float8OID, true
	case pgtype.NumericArrayOID:
		return pgtype.NumericOID, true
	case pgtype.TextArrayOID:
		return pgtype.TextOID, true
	case pgtype.VarcharArrayOID:
		return pgtype.VarcharOID, true
	case pgtype.BPCharArrayOID:
		return pgtype.BPCharOID, true
	case pgtype.NameArrayOID:
		return pgtype.NameOID, true
	case pgtype.ByteaArrayOID:
		return pgtype.ByteaOID, true
	case pgtype.DateArrayOID:
		return pgtype.DateOID, true
	case pgtype.TimestampArrayOID:
		return pgtype.TimestampOID, true
	case pgtype.TimestamptzArrayOID:
		return pgtype.TimestamptzOID, true
	case pgtype.TimeArrayOID:
		return pgtype.TimeOID, true
	case pgtype.TimetzArrayOID:
		return pgtype.TimetzOID, true
	case pgtype.IntervalArrayOID:
		return pgtype.IntervalOID, true
	case pgtype.UUIDArrayOID:
		return pgtype.UUIDOID, true
	case pgtype.JSONArrayOID:
		return pgtype.JSONOID, true
	case pgtype.JSONBArrayOID:
		return pgtype.JSONBOID, true
	}
	return 0, false
}

func short(raw []byte, n int, what string) error {
	if len(raw) != n {
		return fmt.Errorf("%s of %d bytes, want %d", what, len(raw), n)
	}
	return nil
}

func decodeBool(raw []byte) (any, error) {
	if err := short(raw, 1, "bool"); err != nil {
		return nil, err
	}
	return raw[0] != 0, nil
}

func decodeInt2(raw []byte) (any, error) {
	if err := short(raw, 2, "int2"); err != nil {
		return nil, err
	}
	return int64(int16(binary.BigEndian.Uint16(raw))), nil
}

func decodeInt4(raw []byte) (any, error) {
	if err := short(raw, 4, "int4"); err != nil {
		return nil, err
	}
	return int64(int32(binary.BigEndian.Uint32(raw))), nil
}

func decodeUint4(raw []byte) (any, error) {
	if err := short(raw, 4, "oid"); err != nil {
		return nil, err
	}
	return int64(binary.BigEndian.Uint32(raw)), nil
}

func decodeInt8(raw []byte) (any, error) {
	if err := short(raw, 8, "int8"); err != nil {
		return nil, err
	}
	return int64(binary.BigEndian.Uint64(raw)), nil
}

func decodeFloat4(raw []byte) (any, error) {
	if err := short(raw, 4, "float4"); err != nil {
		return nil, err
	}
	return value.Normalize(math.Float32frombits(binary.BigEndian.Uint32(raw)))
}

func decodeFloat8(raw []byte) (any, error) {
	if err := short(raw, 8, "float8"); err != nil {
		return nil, err
	}
	f := math.Float64frombits(binary.BigEndian.Uint64(raw))
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value.Normalize(f)
	}
	return f, nil
}

// decodeNumeric reads the binary numeric format: digit count, weight (the
// power of 10000 of the first digit), sign and display scale, then base
// 10000 digits. The result is exact; NaN and infinities keep PostgreSQL's
// text.
func decodeNumeric(raw []byte) (any, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("numeric of %d bytes", len(raw))
	}
	ndigits := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	if len(raw) != 8+2*ndigits {
		return nil, fmt.Errorf("numeric of %d bytes for %d digits", len(raw), ndigits)
	}
	switch sign {
	case 0xC000:
		return "NaN", nil
	case 0xD000:
		return "Infinity", nil
	case 0xF000:
		return "-Infinity", nil
	}
	if ndigits == 0 {
		return value.Decimal("0"), nil
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(raw[8+2*i:]))
	}
	buf := make([]byte, 0, 4*(ndigits+max(weight+1, 0)+max(-weight-1, 0))+2)
	if sign == 0x4000 {
		buf = append(buf, '-')
	}
	if weight < 0 {
		buf = append(buf, '0')
	} else {
		buf = strconv.AppendInt(buf, int64(digit(0)), 10)
		for i := 1; i <= weight; i++ {
			buf = appendGroup(buf, digit(i))
		}
	}
	if last := ndigits - 1; last > weight {
		buf = append(buf, '.')
		for i := weight + 1; i <= last; i++ {
			buf = appendGroup(buf, digit(i))
		}
		for buf[len(buf)-1] == '0' {
			buf = buf[:len(buf)-1]
		}
	}
	return value.Decimal(buf), nil
}

func appendGroup(buf []byte, d int) []byte {
	return append(buf, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}

func decodeBytea(raw []byte) (any, error) {
	return append(make([]byte, 0, len(raw)), raw...), nil
}

// PostgreSQL counts dates and timestamps from 2000-01-01.
const (
	epochDays   = 10957 // days from 1970-01-01 to 2000-01-01
	epochMicros = epochDays * 86400 * 1_000_000
)

func decodeDate(raw []byte) (any, error) {
	if err := short(raw, 4, "date"); err != nil {
		return nil, err
	}
	days := int32(binary.BigEndian.Uint32(raw))
	switch days {
	case math.MaxInt32:
		return "infinity", nil
	case math.MinInt32:
		return "-infinity", nil
	}
	t := time.Unix((int64(days)+epochDays)*86400, 0).UTC()
	if y := t.Year(); y < 1 {
		// PostgreSQL writes years before 1 as "YYYY-MM-DD BC"; keep its form.
		return fmt.Sprintf("%04d-%02d-%02d BC", 1-y, t.Month(), t.Day()), nil
	}
	return value.DateOf(t), nil
}

// decodeTimestamp reads timestamp and timestamptz alike: both are
// microseconds since 2000-01-01 UTC on the wire, and a timestamp without a
// zone is taken as UTC.
func decodeTimestamp(raw []byte) (any, error) {
	if err := short(raw, 8, "timestamp"); err != nil {
		return nil, err
	}
	us := int64(binary.BigEndian.Uint64(raw))
	switch us {
	case math.MaxInt64:
		return "infinity", nil
	case math.MinInt64:
		return "-infinity", nil
	}
	return time.UnixMicro(us + epochMicros).UTC(), nil
}

func decodeTime(raw []byte) (any, error) {
	if err := short(raw, 8, "time"); err != nil {
		return nil, err
	}
	return string(appendClock(nil, int64(binary.BigEndian.Uint64(raw)))), nil
}

// appendClock writes microseconds since midnight as PostgreSQL does:
// "hh:mm:ss" and a fraction without trailing zeros.
func appendClock(buf []byte, us int64) []byte {
	h, rest := us/3_600_000_000, us%3_600_000_000
	m, rest := rest/60_000_000, rest%60_000_000
	s, frac := rest/1_000_000, rest%1_000_000
	buf = appendTwo(buf, h)
	buf = append(buf, ':')
	buf = appendTwo(buf, m)
	buf = append(buf, ':')
	buf = appendTwo(buf, s)
	return appendFraction(buf, frac)
}

func appendTwo(buf []byte, n int64) []byte {
	if n < 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendInt(buf, n, 10)
}

func appendFraction(buf []byte, us int64) []byte {
	if us == 0 {
		return buf
	}
	digits := []byte{'.', byte('0' + us/100000), byte('0' + us/10000%10), byte('0' + us/1000%10),
		byte('0' + us/100%10), byte('0' + us/10%10), byte('0' + us%10)}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return append(buf, digits...)
}

// decodeTimetz reads a time and its zone (seconds west of UTC) and writes
// them as PostgreSQL does: "12:34:56+02", "12:34:56-03:30".
func decodeTimetz(raw []byte) (any, error) {
	if err := short(raw, 12, "timetz"); err != nil {
		return nil, err
	}
	buf := appendClock(nil, int64(binary.BigEndian.Uint64(raw)))
	east := -int64(int32(binary.BigEndian.Uint32(raw[8:])))
	if east < 0 {
		buf = append(buf, '-')
		east = -east
	} else {
		buf = append(buf, '+')
	}
	buf = appendTwo(buf, east/3600)
	if east%3600 != 0 {
		buf = append(buf, ':')
		buf = appendTwo(buf, east%3600/60)
		if east%60 != 0 {
			buf = append(buf, ':')
			buf = appendTwo(buf, east%60)
		}
	}
	return string(buf), nil
}

func decodeInterval(raw []byte) (any, error) {
	if err := short(raw, 16, "interval"); err != nil {
		return nil, err
	}
	us := int64(binary.BigEndian.Uint64(raw))
	days := int32(binary.BigEndian.Uint32(raw[8:]))
	months := int32(binary.BigEndian.Uint32(raw[12:]))
	return formatInterval(months, days, us), nil
}

// formatInterval writes an interval in PostgreSQL's default output style
// ("postgres"): "1 year 2 mons 3 days 04:05:06.789", "-1 days +02:00:00".
func formatInterval(months, days int32, us int64) string {
	var buf []byte
	zero, before := true, false
	part := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if !zero {
			buf = append(buf, ' ')
		}
		if before && n > 0 {
			buf = append(buf, '+')
		}
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, ' ')
		buf = append(buf, unit...)
		if n != 1 {
			buf = append(buf, 's')
		}
		before, zero = n < 0, false
	}
	part(int64(months/12), "year")
	part(int64(months%12), "mon")
	part(int64(days), "day")
	if zero || us != 0 {
		if !zero {
			buf = append(buf, ' ')
		}
		mag := us
		switch {
		case us < 0:
			buf = append(buf, '-')
			mag = -us
		case before:
			buf = append(buf, '+')
		}
		h := mag / 3_600_000_000
		buf = appendTwo(buf, h)
		buf = append(buf, ':')
		buf = appendClockRest(buf, mag%3_600_000_000)
	}
	return string(buf)
}

func appendClockRest(buf []byte, us int64) []byte {
	buf = appendTwo(buf, us/60_000_000)
	buf = append(buf, ':')
	buf = appendTwo(buf, us%60_000_000/1_000_000)
	return appendFraction(buf, us%1_000_000)
}

func decodeUUID(raw []byte) (any, error) {
	if err := short(raw, 16, "uuid"); err != nil {
		return nil, err
	}
	const hex = "0123456789abcdef"
	buf := make([]byte, 0, 36)
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hex[c>>4], hex[c&0xF])
	}
	return string(buf), nil
}

func decodeJSON(raw []byte) (any, error) { return value.ParseJSON(raw) }

// decodeJSONB strips the format version byte that precedes jsonb's text.
func decodeJSONB(raw []byte) (any, error) {
	if len(raw) == 0 || raw[0] != 1 {
		return nil, fmt.Errorf("unknown jsonb format version")
	}
	return value.ParseJSON(raw[1:])
}

// decodeArray reads the binary array format: dimension count, a NULL
// flag, the element type, each dimension's length and lower bound, then
// the elements, each with its length (-1 for NULL). Several dimensions
// become nested slices.
func arrayDecoder(elem uint32, dec decoder) decoder {
	return func(raw []byte) (any, error) { return decodeArray(raw, elem, dec) }
}

func decodeArray(raw []byte, elem uint32, dec decoder) (any, error) {
	if len(raw) < 12 {
		return nil, fmt.Errorf("array of %d bytes", len(raw))
	}
	ndim := int(int32(binary.BigEndian.Uint32(raw)))
	elemOID := binary.BigEndian.Uint32(raw[8:])
	if ndim == 0 {
		return []any{}, nil
	}
	if ndim < 0 || len(raw) < 12+8*ndim {
		return nil, fmt.Errorf("array with %d dimensions in %d bytes", ndim, len(raw))
	}
	dims := make([]int, ndim)
	for i := range dims {
		dims[i] = int(int32(binary.BigEndian.Uint32(raw[12+8*i:])))
	}
	if elemOID != elem {
		return nil, fmt.Errorf("array of element type %d, want %d", elemOID, elem)
	}
	rest := raw[12+8*ndim:]
	var build func(d int) ([]any, error)
	build = func(d int) ([]any, error) {
		out := make([]any, dims[d])
		for i := range out {
			if d < ndim-1 {
				sub, err := build(d + 1)
				if err != nil {
					return nil, err
				}
				out[i] = sub
				continue
			}
			if len(rest) < 4 {
				return nil, fmt.Errorf("array element truncated")
			}
			n := int(int32(binary.BigEndian.Uint32(rest)))
			rest = rest[4:]
			if n < 0 {
				continue // NULL
			}
			if len(rest) < n {
				return nil, fmt.Errorf("array element truncated")
			}
			v, err := dec(rest[:n])
			if err != nil {
				return nil, err
			}
			out[i], rest = v, rest[n:]
		}
		return out, nil
	}
	return build(0)
}
