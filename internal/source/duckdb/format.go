package duckdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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

// formatClock renders a time of day; 24:00:00, which TIME allows, is
// written as such rather than wrapped to midnight.
func formatClock(d time.Duration, layout string) string {
	if d == 24*time.Hour {
		return "24:00:00"
	}
	return time.Unix(0, 0).UTC().Add(d).Format(layout)
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
