package bench

import (
	"math"
	"sort"
	"time"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/connector"
)

// LimitEstimate is how long a sync of a number of rows takes at a
// destination's declared limits, when the limits are what bounds it.
type LimitEstimate struct {
	Destination string `json:"destination"`
	BatchSize   int    `json:"batch_size"`
	Requests    int    `json:"requests"`
	// RequestsPerSecond is the sustained rate the declared limits allow.
	RequestsPerSecond float64 `json:"requests_per_second"`
	Seconds           float64 `json:"seconds"`
}

// Estimates works out, from each rate-limited destination's spec, the time
// a sync of rows takes at its limits: the requests its batch size needs,
// paced by the tightest of its declared limits.
func Estimates(rows int) []LimitEstimate {
	var out []LimitEstimate
	for name, p := range builtin.Destinations() {
		l := p.Spec.Limits
		if (l.RequestsPerSec == 0 && len(l.Windows) == 0) || l.BatchSize <= 0 {
			continue // not rate-limited: bounded by throughput instead
		}
		requests := (rows + l.BatchSize - 1) / l.BatchSize
		secs := paced(l, requests)
		e := LimitEstimate{Destination: name, BatchSize: l.BatchSize, Requests: requests, Seconds: secs}
		if secs > 0 {
			e.RequestsPerSecond = float64(requests) / secs
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// paced is how long n requests take under a destination's limits: a rolling
// window of N per span lets the first N through at once and each later N a
// span (plus the delivery layer's slack) after; a plain rate spaces them.
func paced(l connector.Limits, n int) float64 {
	var secs float64
	if l.RequestsPerSec > 0 {
		secs = float64(n-1) / l.RequestsPerSec
	}
	for _, w := range l.Windows {
		span := w.Per + max(w.Per/50, 20*time.Millisecond)
		secs = math.Max(secs, float64((n-1)/w.Requests)*span.Seconds())
	}
	return secs
}
