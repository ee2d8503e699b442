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

type nullReader struct{}

func (nullReader) bind(bindings.Vector)      {}
func (nullReader) null(uint64) bool          { return true }
func (nullReader) value(uint64) (any, error) { return nil, nil }
