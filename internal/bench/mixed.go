package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zeebo/xxh3"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// MixedResult is a sync into a receiver that refuses some rows and fails
// some requests: where every row ended up, and what it cost in requests.
type MixedResult struct {
	Rows      int     `json:"rows"`
	BatchSize int     `json:"batch_size"`
	Seconds   float64 `json:"seconds"`
	// Refused are the rows the receiver refuses (by key), Injected the
	// requests it failed on purpose with 5xx or 429.
	Refused  int `json:"refused_rows"`
	Injected int `json:"injected_failures"`
	// Succeeded and Failed are the run's counts; Held is what the receiver
	// holds at the end.
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Held      int    `json:"held"`
	Lost      int    `json:"lost"` // rows neither delivered nor recorded as failed
	Requests  int    `json:"requests"`
	// MinRequests is what the batches need without faults; the bound is
	// 1.2 × MinRequests + Injected.
	MinRequests int     `json:"min_requests"`
	Overhead    float64 `json:"requests_over_bound"`
}

// Mixed syncs rows into the webhook emulator with refusedPct of the rows
// refused in its results (partial success, with a message) and faultPct
// of the requests answered 500 or 429.
func Mixed(ctx context.Context, rows, batchSize int, refusedPct, faultPct float64) (*MixedResult, error) {
	dir, err := os.MkdirTemp("", "riptide-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generate(ctx, filepath.Join(dir, "bench.duckdb"), rows); err != nil {
		return nil, fmt.Errorf("generate model: %w", err)
	}
	recv := webhooktest.New()
	defer recv.Close()
	refused := func(key string) bool { return float64(xxh3.HashString(key)%10000) < refusedPct*100 }
	recv.FailKeysWhere(func(key string) string {
		if refused(key) {
			return "INVALID_EMAIL: the address is not deliverable"
		}
		return ""
	})
	recv.FailRandomly(faultPct/100, 42,
		webhooktest.Failure{Status: 500}, webhooktest.Failure{Status: 429, RetryAfter: "1"})
	t := &target{settings: connector.Settings{"url": recv.URL(), "batch_size": batchSize, "concurrency": 4}, close: func() {}}
	res, err := syncInto(ctx, dir, "webhook", t)
	if err != nil {
		return nil, err
	}
	want := 0
	for i := 1; i <= rows; i++ {
		if refused(fmt.Sprint(i)) {
			want++
		}
	}
	held := len(recv.Latest())
	minReq := (rows + batchSize - 1) / batchSize
	out := &MixedResult{
		Rows: rows, BatchSize: batchSize, Seconds: res.Seconds, Refused: want, Injected: recv.Injected(),
		Succeeded: res.Succeeded, Failed: res.Failed, Held: held,
		Lost:     rows - int(res.Succeeded) - int(res.Failed),
		Requests: recv.RequestCount(), MinRequests: minReq,
	}
	out.Overhead = float64(out.Requests) / (1.2*float64(minReq) + float64(out.Injected))
	return out, nil
}
