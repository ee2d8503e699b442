package duckdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/riptide-data/riptide/internal/source/arena"
	"github.com/riptide-data/riptide/internal/value"
)

// A reader converts one column of a result, chunk by chunk. Readers are
// built once per query from the column's logical type, so that the per-row
// path is a validity check and a direct memory read, with no type switch on
// driver values and no reflection.
//
// The layouts read here are those of DuckDB's C API (duckdb.h): vectors of
// fetched chunks are flat, validity is a bitmask of uint64 words (absent when
// every row is valid), and fixed-width values sit at data + row*width.
type reader interface {
	// bind points the reader at the column's vector in a new chunk.
	bind(v bindings.Vector)
	null(row uint64) bool
	// value returns the canonical value of a non-NULL row.
	value(row uint64) (any, error)
}

type vec struct {
	data  unsafe.Pointer
	valid unsafe.Pointer
}

func (v *vec) bind(x bindings.Vector) {
	v.data = bindings.VectorGetData(x)
	v.valid = bindings.VectorGetValidity(x)
}

func (v *vec) null(row uint64) bool {
	if v.valid == nil {
		return false
	}
	word := *(*uint64)(unsafe.Add(v.valid, (row/64)*8))
	return word&(1<<(row%64)) == 0
}

func at[T any](data unsafe.Pointer, row uint64) T {
	var zero T
	return *(*T)(unsafe.Add(data, uintptr(row)*unsafe.Sizeof(zero)))
}

// stringAt returns a view of a duckdb_string_t's bytes: 16 bytes holding a
// uint32 length, then either up to 12 inlined bytes or, at offset 8, a
// pointer. The view is valid until the chunk is destroyed.
func stringAt(data unsafe.Pointer, row uint64) []byte {
	p := unsafe.Add(data, uintptr(row)*16)
	n := *(*uint32)(p)
	if n == 0 {
		return nil
	}
	if n <= 12 {
		return unsafe.Slice((*byte)(unsafe.Add(p, 4)), n)
	}
	return unsafe.Slice(*(**byte)(unsafe.Add(p, 8)), n)
}

type boolReader struct{ vec }

func (r *boolReader) value(row uint64) (any, error) { return at[byte](r.data, row) != 0, nil }

type intReader[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32] struct{ vec }

func (r *intReader[T]) value(row uint64) (any, error) { return int64(at[T](r.data, row)), nil }

type ubigintReader struct{ vec }

func (r *ubigintReader) value(row uint64) (any, error) {
	u := at[uint64](r.data, row)
	if u <= math.MaxInt64 {
		return int64(u), nil
	}
	return value.Decimal(strconv.FormatUint(u, 10)), nil
}

// hugeint is DuckDB's 128-bit integer: the low word unsigned, the high word
// signed (unsigned for UHUGEINT).
type hugeint struct {
	lo uint64
	hi uint64
}

type hugeintReader struct {
	vec
	unsigned bool
}

func (r *hugeintReader) value(row uint64) (any, error) {
	h := at[hugeint](r.data, row)
	return integer128(h, r.unsigned), nil
}

// integer128 is an int64 when the value fits and a Decimal beyond, the same
// rule as value.Normalize applies to big integers.
func integer128(h hugeint, unsigned bool) any {
	if !unsigned && (int64(h.hi) == 0 && h.lo <= math.MaxInt64 || int64(h.hi) == -1 && h.lo > math.MaxInt64) {
		return int64(h.lo)
	}
	if unsigned && h.hi == 0 && h.lo <= math.MaxInt64 {
		return int64(h.lo)
	}
	return value.Decimal(bigOf(h, unsigned).String())
}

func bigOf(h hugeint, unsigned bool) *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.hi)
	binary.BigEndian.PutUint64(b[8:], h.lo)
	n := new(big.Int).SetBytes(b[:])
	if !unsigned && int64(h.hi) < 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return n
}

type floatReader struct{ vec }

func (r *floatReader) value(row uint64) (any, error) {
	return value.Normalize(at[float32](r.data, row))
}

type doubleReader struct{ vec }

func (r *doubleReader) value(row uint64) (any, error) {
	f := at[float64](r.data, row)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value.Normalize(f)
	}
	return f, nil
}

type decimalReader struct {
	vec
	scale    int
	internal bindings.Type
	arena    arena.Arena
	buf      [48]byte
}

func (r *decimalReader) value(row uint64) (any, error) {
	var u int64
	switch r.internal {
	case bindings.TypeSmallInt:
		u = int64(at[int16](r.data, row))
	case bindings.TypeInteger:
		u = int64(at[int32](r.data, row))
	case bindings.TypeBigInt:
		u = at[int64](r.data, row)
	default:
		h := at[hugeint](r.data, row)
		return value.DecimalFromScaled(bigOf(h, false), r.scale), nil
	}
	return value.Decimal(r.arena.String(appendDecimal(r.buf[:0], u, r.scale))), nil
}

// appendDecimal appends the canonical text of unscaled·10^-scale: what
// value.DecimalFromScaled returns, without going through big.Int.
func appendDecimal(buf []byte, unscaled int64, scale int) []byte {
	if unscaled == 0 {
		return append(buf, '0')
	}
	mag := uint64(unscaled)
	if unscaled < 0 {
		buf = append(buf, '-')
		mag = uint64(-(unscaled + 1)) + 1 // also right for math.MinInt64
	}
	if scale <= 0 {
		buf = strconv.AppendUint(buf, mag, 10)
		for range -scale {
			buf = append(buf, '0')
		}
		return buf
	}
	// Left-pad the digits to more than scale, so that the integer part
	// has at least one digit.
	var digits [64]byte
	d := strconv.AppendUint(digits[:0], mag, 10)
	if len(d) <= scale {
		pad := scale - len(d) + 1
		copy(digits[pad:], d)
		for i := range pad {
			digits[i] = '0'
		}
		d = digits[:len(d)+pad]
	}
	whole, frac := d[:len(d)-scale], d[len(d)-scale:]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	buf = append(buf, whole...)
	if len(frac) > 0 {
		buf = append(append(buf, '.'), frac...)
	}
	return buf
}

// varcharReader keeps the values it has seen while a column has few
// distinct ones (a plan, a status, a country), so that repeated values
// cost neither a copy nor an allocation. A column that shows more than
// dictLimit distinct values stops being looked up.
type varcharReader struct {
	vec
	arena arena.Arena
	dict  map[string]any
	off   bool
}

const dictLimit = 256

func (r *varcharReader) value(row uint64) (any, error) {
	b := stringAt(r.data, row)
	if r.off {
		return r.arena.String(b), nil
	}
	if v, ok := r.dict[string(b)]; ok {
		return v, nil
	}
	if r.dict == nil {
		r.dict = make(map[string]any)
	}
	if len(r.dict) == dictLimit {
		r.dict, r.off = nil, true
	}
	s := r.arena.String(b)
	var v any = s
	if !r.off {
		r.dict[s] = v
	}
	return v, nil
}

type jsonReader struct{ vec }

func (r *jsonReader) value(row uint64) (any, error) { return value.ParseJSON(stringAt(r.data, row)) }

type blobReader struct{ vec }

func (r *blobReader) value(row uint64) (any, error) {
	b := stringAt(r.data, row)
	return append(make([]byte, 0, len(b)), b...), nil
}

// bitReader renders a BIT string as its digits ("0101"). DuckDB stores a
// padding count in the first byte, then the bits, most significant first,
// with the padding bits leading the first data byte.
type bitReader struct{ vec }

func (r *bitReader) value(row uint64) (any, error) {
	b := stringAt(r.data, row)
	if len(b) == 0 {
		return "", nil
	}
	pad := int(b[0])
	var sb strings.Builder
	sb.Grow((len(b)-1)*8 - pad)
	for i, c := range b[1:] {
		for bit := 7; bit >= 0; bit-- {
			if i == 0 && 7-bit < pad {
				continue
			}
			sb.WriteByte('0' + c>>bit&1)
		}
	}
	return sb.String(), nil
}

// bignumReader decodes DuckDB's arbitrary-precision integer: a 3-byte
// header whose top bit is set for positive numbers, then the big-endian
// magnitude, all bytes complemented for negative numbers.
type bignumReader struct{ vec }

func (r *bignumReader) value(row uint64) (any, error) {
	b := stringAt(r.data, row)
	if len(b) < 4 {
		return int64(0), nil
	}
	mag := append([]byte(nil), b[3:]...)
	neg := b[0]&0x80 == 0
	if neg {
		for i := range mag {
			mag[i] = ^mag[i]
		}
	}
	n := new(big.Int).SetBytes(mag)
	if neg {
		n.Neg(n)
	}
	return value.Normalize(n)
}

type enumReader struct {
	vec
	internal bindings.Type
	dict     []string
}

func (r *enumReader) value(row uint64) (any, error) {
	var i uint64
	switch r.internal {
	case bindings.TypeUTinyInt:
		i = uint64(at[uint8](r.data, row))
	case bindings.TypeUSmallInt:
		i = uint64(at[uint16](r.data, row))
	default:
		i = uint64(at[uint32](r.data, row))
	}
	if i >= uint64(len(r.dict)) {
		return nil, fmt.Errorf("enum index %d outside its dictionary of %d values", i, len(r.dict))
	}
	return r.dict[i], nil
}

type uuidReader struct {
	vec
	arena arena.Arena
}

func (r *uuidReader) value(row uint64) (any, error) {
	h := at[hugeint](r.data, row)
	var b [16]byte
	// DuckDB stores a UUID as a hugeint with the sign bit flipped, so that
	// UUIDs sort as their text does.
	binary.BigEndian.PutUint64(b[:8], h.hi^(1<<63))
	binary.BigEndian.PutUint64(b[8:], h.lo)
	var out [36]byte
	return r.arena.String(appendUUID(out[:0], b)), nil
}

func appendUUID(buf []byte, b [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hex[c>>4], hex[c&0xF])
	}
	return buf
}

// DuckDB's infinite dates and timestamps are the largest magnitudes of the
// storage type; they become the text "infinity" and "-infinity", as from
// PostgreSQL, because no time.Time can hold them.
type dateReader struct {
	vec
	arena arena.Arena
}

func (r *dateReader) value(row uint64) (any, error) {
	days := at[int32](r.data, row)
	switch days {
	case math.MaxInt32:
		return "infinity", nil
	case -math.MaxInt32:
		return "-infinity", nil
	}
	var buf [16]byte
	return value.Date(r.arena.String(appendDate(buf[:0], int64(days)))), nil
}

// appendDate formats a day count since 1970-01-01 as YYYY-MM-DD.
func appendDate(buf []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC).AppendFormat(buf, "2006-01-02")
	}
	buf = append(buf, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	buf = append(buf, byte('0'+m/10), byte('0'+m%10), '-')
	return append(buf, byte('0'+d/10), byte('0'+d%10))
}

// civil converts days since the Unix epoch to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (year, month, day int64) {
	z := days + 719468
	era := z
	if z < 0 {
		era = z - 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

type timestampUnit int

const (
	unitSecond timestampUnit = iota
	unitMilli
	unitMicro
	unitNano
)

type timestampReader struct {
	vec
	unit timestampUnit
}

func (r *timestampReader) value(row uint64) (any, error) {
	x := at[int64](r.data, row)
	switch x {
	case math.MaxInt64:
		return "infinity", nil
	case -math.MaxInt64:
		return "-infinity", nil
	}
	var t time.Time
	switch r.unit {
	case unitSecond:
		t = time.Unix(x, 0)
	case unitMilli:
		t = time.UnixMilli(x)
	case unitMicro:
		t = time.UnixMicro(x)
	default:
		t = time.Unix(0, x)
	}
	return value.Timestamp(t), nil
}

type timeReader struct {
	vec
	nanos bool
}

func (r *timeReader) value(row uint64) (any, error) {
	x := at[int64](r.data, row)
	if r.nanos {
		return formatClock(time.Duration(x), "15:04:05.999999999"), nil
	}
	return formatClock(time.Duration(x)*time.Microsecond, "15:04:05.999999"), nil
}

// formatClock renders a time of day; 24:00:00, which TIME allows, is
// written as such rather than wrapped to midnight.
func formatClock(d time.Duration, layout string) string {
	if d == 24*time.Hour {
		return "24:00:00"
	}
	return time.Unix(0, 0).UTC().Add(d).Format(layout)
}

type timeTZReader struct{ vec }

func (r *timeTZReader) value(row uint64) (any, error) {
	ts := bindings.FromTimeTZ(at[bindings.TimeTZ](r.data, row))
	clock, offset := bindings.TimeTZStructMembers(&ts)
	h, m, s, us := bindings.TimeStructMembers(&clock)
	t := time.Date(2000, 1, 1, int(h), int(m), int(s), int(us)*1000, time.FixedZone("", int(offset)))
	return t.Format("15:04:05.999999-07:00"), nil
}

type interval struct {
	months int32
	days   int32
	micros int64
}

type intervalReader struct{ vec }

func (r *intervalReader) value(row uint64) (any, error) {
	return formatInterval(at[interval](r.data, row)), nil
}

// formatInterval writes an interval the way DuckDB casts it to VARCHAR:
// "1 year 2 months 3 days 04:05:06.7".
func formatInterval(iv interval) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		s := strconv.FormatInt(n, 10) + " " + name
		if n != 1 && n != -1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	unit(int64(iv.months/12), "year")
	unit(int64(iv.months%12), "month")
	unit(int64(iv.days), "day")
	if iv.micros != 0 || len(parts) == 0 {
		var b []byte
		mag := uint64(iv.micros)
		if iv.micros < 0 {
			b = append(b, '-')
			mag = uint64(-(iv.micros + 1)) + 1
		}
		h, rest := mag/3_600_000_000, mag%3_600_000_000
		min, rest := rest/60_000_000, rest%60_000_000
		sec, frac := rest/1_000_000, rest%1_000_000
		b = appendTwo(b, h)
		b = append(b, ':')
		b = appendTwo(b, min)
		b = append(b, ':')
		b = appendTwo(b, sec)
		if frac != 0 {
			f := []byte(fmt.Sprintf("%06d", frac))
			for f[len(f)-1] == '0' {
				f = f[:len(f)-1]
			}
			b = append(append(b, '.'), f...)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, " ")
}

func appendTwo(b []byte, n uint64) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, n, 10)
}

type nullReader struct{}

func (nullReader) bind(bindings.Vector)      {}
func (nullReader) null(uint64) bool          { return true }
func (nullReader) value(uint64) (any, error) { return nil, nil }
func elementValue(r reader, i uint64) (any, error) {
	if r.null(i) {
		return nil, nil
	}
	return r.value(i)
}

type listEntry struct {
	offset uint64
	length uint64
}

type listReader struct {
	vec
	child reader
}

func (r *listReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.child.bind(bindings.ListVectorGetChild(x))
}

func (r *listReader) value(row uint64) (any, error) {
	e := at[listEntry](r.data, row)
	return elements(r.child, e.offset, e.length)
}

func elements(child reader, offset, n uint64) ([]any, error) {
	out := make([]any, n)
	for i := range n {
		v, err := elementValue(child, offset+i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

type arrayReader struct {
	vec
	child reader
	size  uint64
}

func (r *arrayReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.child.bind(bindings.ArrayVectorGetChild(x))
}

func (r *arrayReader) value(row uint64) (any, error) {
	return elements(r.child, row*r.size, r.size)
}

type structReader struct {
	vec
	names    []string
	children []reader
}

func (r *structReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	for i, c := range r.children {
		c.bind(bindings.StructVectorGetChild(x, bindings.IdxT(i)))
	}
}

func (r *structReader) value(row uint64) (any, error) {
	m := make(map[string]any, len(r.children))
	for i, c := range r.children {
		v, err := elementValue(c, row)
		if err != nil {
			return nil, err
		}
		m[r.names[i]] = v
	}
	return value.Normalize(m)
}

// mapReader reads a MAP, which the C API lays out as a LIST of
// STRUCT(key, value); it becomes a JSON object keyed by the keys' text.
type mapReader struct {
	vec
	key, val reader
}

func (r *mapReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	entries := bindings.ListVectorGetChild(x)
	r.key.bind(bindings.StructVectorGetChild(entries, 0))
	r.val.bind(bindings.StructVectorGetChild(entries, 1))
}

func (r *mapReader) value(row uint64) (any, error) {
	e := at[listEntry](r.data, row)
	m := make(map[string]any, e.length)
	for i := e.offset; i < e.offset+e.length; i++ {
		k, err := elementValue(r.key, i)
		if err != nil {
			return nil, err
		}
		v, err := elementValue(r.val, i)
		if err != nil {
			return nil, err
		}
		m[value.Text(k)] = v
	}
	return value.Normalize(m)
}

// unionReader yields the value of the member a row holds; the C API lays a
// UNION out as a STRUCT whose first child is the member tag.
type unionReader struct {
	vec
	tag     unsafe.Pointer
	members []reader
}

func (r *unionReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.tag = bindings.VectorGetData(bindings.StructVectorGetChild(x, 0))
	for i, m := range r.members {
		m.bind(bindings.StructVectorGetChild(x, bindings.IdxT(i+1)))
	}
}

func (r *unionReader) value(row uint64) (any, error) {
	tag := int(at[uint8](r.tag, row))
	if tag >= len(r.members) {
		return nil, fmt.Errorf("union tag %d outside its %d members", tag, len(r.members))
	}
	return elementValue(r.members[tag], row)
}
