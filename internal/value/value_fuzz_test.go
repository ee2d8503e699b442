package value

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode: decoding arbitrary bytes never panics, and whatever decodes
// re-encodes to a form that decodes to the same value (the input may use
// a longer varint than Append writes, never a different value).
func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, "hello"))
	f.Add(Append(nil, []any{int64(1), Decimal("2.5"), nil, true}))
	f.Add([]byte{tagArray, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Decode(b)
		if err != nil {
			return
		}
		again := Append(nil, v)
		v2, m, err := Decode(again)
		if err != nil || m != len(again) || !bytes.Equal(Append(nil, v2), again) {
			t.Fatalf("decode(%x) = %#v re-encodes to %x, which decodes to %#v (%v)", b[:n], v, again, v2, err)
		}
	})
}

// FuzzRowHash: the encoding that row hashes are computed over is a
// function of the canonical values: the same row encodes to the same
// bytes however it was built, and different rows to different bytes.
func FuzzRowHash(f *testing.F) {
	f.Add("a", int64(1), "12.50", 1.5, int64(1700000000123456), true)
	f.Add("", int64(-1), "-0.0", 0.0, int64(0), false)
	f.Fuzz(func(t *testing.T, s string, i int64, dec string, fl float64, micros int64, b bool) {
		d, err := ParseDecimal(dec)
		if err != nil {
			return
		}
		ts := time.UnixMicro(micros)
		row1 := []any{s, i, d, fl, Timestamp(ts), b, nil}
		row2 := []any{s, i, mustDecimal(t, string(d)), fl, Timestamp(ts.In(time.FixedZone("x", 3600))), b, nil}
		offs := make([]int, len(row1)+1)
		e1 := AppendRow(nil, row1, offs)
		e2 := AppendRow(nil, row2, make([]int, len(row2)+1))
		if !bytes.Equal(e1, e2) {
			t.Fatalf("same row, different encodings: %x vs %x", e1, e2)
		}
		// Column boundaries are unambiguous: moving a byte from one text
		// column to the next changes the encoding.
		if len(s) > 0 {
			shifted := AppendRow(nil, []any{s[:len(s)-1], s[len(s)-1:] + "x"}, make([]int, 3))
			orig := AppendRow(nil, []any{s, "x"}, make([]int, 3))
			if bytes.Equal(shifted, orig) {
				t.Fatalf("ambiguous encoding for %q", s)
			}
		}
		// Decoding gives the row back.
		for c := 0; c < len(row1); c++ {
			v, _, err := Decode(e1[offs[c]:offs[c+1]])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Append(nil, v), e1[offs[c]:offs[c+1]]) {
				t.Fatalf("column %d does not round-trip", c)
			}
		}
	})
}

func mustDecimal(t *testing.T, s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
