package value

import (
	"math/big"
	"testing"
	"time"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "12.50", want: "12.5"},
		{in: "+012.500", want: "12.5"},
		{in: "-0.0", want: "0"},
		{in: "0.10", want: "0.1"},
		{in: ".5", want: "0.5"},
		{in: "7.", want: "7"},
		{in: "-3", want: "-3"},
		{in: "1e3", want: "1000"},
		{in: "1.25E-2", want: "0.0125"},
		{in: "123456789012345678901234567890.123456789", want: "123456789012345678901234567890.123456789"},
		{in: "abc", err: "invalid decimal"},
		{in: "1.2.3", err: "invalid decimal"},
		{in: "", err: "invalid decimal"},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if tt.err != "" {
			if err == nil {
				t.Errorf("ParseDecimal(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("ParseDecimal(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecimalFromScaled(t *testing.T) {
	tests := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{1250, 2, "12.5"}, {-5, 3, "-0.005"}, {0, 2, "0"}, {7, 0, "7"}, {7, -2, "700"}, {10, 1, "1"},
	}
	for _, tt := range tests {
		if got := DecimalFromScaled(big.NewInt(tt.unscaled), tt.scale); string(got) != tt.want {
			t.Errorf("DecimalFromScaled(%d, %d) = %q, want %q", tt.unscaled, tt.scale, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 7200))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int32", int32(7), int64(7)},
		{"uint64 big", uint64(1 << 63), Decimal("9223372036854775808")},
		{"float32 keeps its shortest text", float32(0.1), 0.1},
		{"time to UTC µs", ts, time.Date(2024, 5, 6, 5, 8, 9, 123456000, time.UTC)},
		{"map to sorted JSON", map[string]any{"b": int32(1), "a": "x"}, JSON(`{"a":"x","b":1}`)},
		{"nil pointer", (*int)(nil), nil},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(Append(nil, got)) != string(Append(nil, tt.want)) {
			t.Errorf("%s: Normalize(%#v) = %#v, want %#v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestParseJSONCanonical(t *testing.T) {
	a, err := ParseJSON([]byte(`{"b": [1, 2.50], "a": {"y": null, "x": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseJSON([]byte(`{"a":{"x":true,"y":null},"b":[1,2.50]}`))
	if a != b || string(a) != `{"a":{"x":true,"y":null},"b":[1,2.50]}` {
		t.Errorf("canonical JSON: %s vs %s", a, b)
	}
}

func TestKeys(t *testing.T) {
	tests := [][]string{{"42"}, {"a", "b"}, {"a|b", `c\d`}, {"", ""}, {"|", `\`}}
	for _, parts := range tests {
		k := JoinKey(parts)
		back, err := SplitKey(k, len(parts))
		if err != nil {
			t.Errorf("SplitKey(%q): %v", k, err)
			continue
		}
		for i := range parts {
			if back[i] != parts[i] {
				t.Errorf("JoinKey(%q) = %q splits to %q", parts, k, back)
			}
		}
	}
	if JoinKey([]string{"a|b", "c"}) == JoinKey([]string{"a", "b|c"}) {
		t.Error("composite keys are ambiguous")
	}
}

func TestAppendJSON(t *testing.T) {
	got := string(AppendJSON(nil, []any{nil, true, int64(-3), 1.5, "q\"<", Decimal("12.50"), JSON(`{"a":1}`),
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Date("2024-01-02")}))
	want := `[null,true,-3,1.5,"q\"\u003c",12.50,{"a":1},"2024-01-02T03:04:05Z","2024-01-02"]`
	if got != want {
		t.Errorf("AppendJSON = %s\nwant %s", got, want)
	}
}
