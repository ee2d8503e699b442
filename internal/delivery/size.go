package delivery

import (
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// EstimateSize is the size, in bytes, that MaxBatchBytes counts a record
// as: an estimate of its JSON encoding, which is what most destination
// APIs measure their payload limits in. It adds a fixed 32 bytes per
// record for the envelope (op, key and punctuation), the key, and for each
// field its name plus 4 bytes of punctuation plus its value's size:
// strings, decimals, dates and JSON documents by their text length plus
// quotes, integers by their digits, floats as 24, timestamps as 32, binary
// as its base64 length, arrays as the sum of their elements. Escapes are
// not counted, so text full of quotes or control characters is
// underestimated; destinations with hard limits should declare a bound
// with some headroom.
func EstimateSize(r *connector.Record) int {
	n := 32 + len(r.Key)
	for i := range r.Fields {
		n += len(r.Fields[i].Name) + 4 + valueSize(r.Fields[i].Value)
	}
	return n
}

func valueSize(v any) int {
	switch x := v.(type) {
	case nil:
		return 4
	case bool:
		return 5
	case int64:
		return intDigits(x)
	case float64:
		return 24
	case string:
		return len(x) + 2
	case value.Decimal:
		return len(x)
	case value.Date:
		return len(x) + 2
	case value.JSON:
		return len(x)
	case time.Time:
		return 32
	case []byte:
		return (len(x)+2)/3*4 + 2
	case []any:
		n := 2
		for _, e := range x {
			n += valueSize(e) + 1
		}
		return n
	}
	return len(value.Text(v)) + 2
}

func intDigits(x int64) int {
	n := 1
	if x < 0 {
		n++
		if x == -x { // math.MinInt64 has no positive counterpart
			return 20
		}
		x = -x
	}
	for x >= 10 {
		x /= 10
		n++
	}
	return n
}
