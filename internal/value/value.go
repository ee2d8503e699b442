// Package value defines the canonical Go values that every source converts
// its rows into, so that the same data hashes the same whichever warehouse it
// came from, and the encodings built on them: the binary form that row hashes
// and spill files use, key text, and JSON.
//
// A canonical value is one of:
//
//	nil                 SQL NULL
//	bool
//	int64               every integer type that fits
//	float64             REAL/DOUBLE (float32 widened through its shortest text)
//	string              text, varchar, enums, UUIDs
//	Decimal             NUMERIC/DECIMAL, exact, normalised text
//	time.Time           timestamps, in UTC, microsecond precision
//	Date                calendar dates
//	[]byte              binary
//	JSON                JSON documents, compact with sorted keys
//	[]any               arrays of canonical values
package value

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Decimal is an exact decimal number in normalised text form: an optional
// minus sign, digits, and a fraction without trailing zeros ("12.5", "-3",
// "0.001"). NUMERIC(10,2) 12.50 from PostgreSQL and DECIMAL 12.5 from
// DuckDB are the same Decimal.
type Decimal string

// Date is a calendar date without a zone, as "YYYY-MM-DD".
type Date string

// JSON is a JSON document in canonical form: compact, object keys sorted,
// numbers as written in the source.
type JSON string

// ParseDecimal normalises decimal text ("+012.500", "1e3", "-0.0") into a
// Decimal. It rejects text that is not a finite decimal number.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "eE") {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return "", fmt.Errorf("invalid decimal %q", s)
		}
		return decimalFromRat(r), nil
	}
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", fmt.Errorf("invalid decimal %q", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return Decimal(out), nil
}

// DecimalFromScaled builds a Decimal from an unscaled integer and a scale,
// the form in which DuckDB and pgx hand decimals over.
func DecimalFromScaled(unscaled *big.Int, scale int) Decimal {
	s := new(big.Int).Abs(unscaled).String()
	neg := unscaled.Sign() < 0
	if scale < 0 {
		s += strings.Repeat("0", -scale)
		scale = 0
	}
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	intPart, frac := s[:len(s)-scale], s[len(s)-scale:]
	d, _ := ParseDecimal(map[bool]string{true: "-", false: ""}[neg] + intPart + "." + frac)
	return d
}

func decimalFromRat(r *big.Rat) Decimal {
	// A terminating decimal has a denominator of 2^a·5^b; FloatString with
	// enough digits is then exact.
	digits := 0
	for d := new(big.Int).Set(r.Denom()); d.Cmp(big.NewInt(1)) > 0; digits++ {
		switch {
		case new(big.Int).Mod(d, big.NewInt(10)).Sign() == 0:
			d.Div(d, big.NewInt(10))
		case new(big.Int).Mod(d, big.NewInt(2)).Sign() == 0:
			d.Div(d, big.NewInt(2))
		case new(big.Int).Mod(d, big.NewInt(5)).Sign() == 0:
			d.Div(d, big.NewInt(5))
		default:
			d.SetInt64(1) // not terminating: FloatString rounds at this point
			digits += 30
		}
	}
	d, _ := ParseDecimal(r.FloatString(digits))
	return d
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseJSON canonicalises a JSON document.
func ParseJSON(b []byte) (JSON, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	out, err := json.Marshal(v) // encoding/json sorts map keys
	if err != nil {
		return "", err
	}
	return JSON(out), nil
}

// Timestamp normalises a time to the canonical UTC, microsecond form.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// DateOf returns the calendar date of t as written in t's own location.
func DateOf(t time.Time) Date {
	return Date(t.Format("2006-01-02"))
}
