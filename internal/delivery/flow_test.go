package delivery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

func TestDeliverStopsEarly(t *testing.T) {
	authAt := func(seq int) func(context.Context, int, *connector.Batch) error {
		return func(_ context.Context, _ int, b *connector.Batch) error {
			if b.Seq == seq {
				return connector.ClassifyHTTP(401, []byte(`{"message":"invalid token"}`), 0)
			}
			return nil
		}
	}
	commitErr := errors.New("state store down")
	tests := []struct {
		name     string
		policy   Policy
		script   func(context.Context, int, *connector.Batch) error
		onResult func(Result) error
		wantErr  string
		wantIs   error
		wantAuth bool
		// wantSeqs are the results onResult may see, in order; a batch
		// finished just before the stop may or may not get its result
		// unless exact.
		wantSeqs     []int
		exact        bool
		wantRequests int
	}{
		{
			name:         "auth failure",
			policy:       Policy{BatchSize: 2},
			script:       authAt(2),
			wantErr:      `batch 2: authentication failed: status 401: {"message":"invalid token"}`,
			wantAuth:     true,
			wantSeqs:     []int{1},
			wantRequests: 2,
		},
		{
			name:   "auth failure while retrying",
			policy: Policy{BatchSize: 20},
			script: func(_ context.Context, n int, _ *connector.Batch) error {
				if n == 1 {
					return connector.ClassifyHTTP(503, nil, 0)
				}
				return connector.ClassifyHTTP(403, []byte("forbidden"), 0)
			},
			wantErr:      "authentication failed: status 403: forbidden",
			wantAuth:     true,
			wantRequests: 2,
		},
		{
			name:   "quota used up",
			policy: Policy{BatchSize: 2},
			script: func(_ context.Context, n int, _ *connector.Batch) error {
				if n == 3 {
					return &connector.RequestError{Status: 403, Quota: true, Message: "daily API request limit reached (15000/15000)"}
				}
				return nil
			},
			wantErr:      "batch 3: the destination's quota is used up: status 403: daily API request limit reached (15000/15000)",
			wantSeqs:     []int{1, 2},
			wantRequests: 3, // neither retried nor split
		},
		{
			name:         "onResult error",
			policy:       Policy{BatchSize: 3},
			onResult:     func(r Result) error { return commitErr },
			wantErr:      "batch 1: record result: state store down",
			wantIs:       commitErr,
			wantSeqs:     []int{1},
			exact:        true,
			wantRequests: 2, // the next batch may already be out; nothing after it
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := &fakeDest{script: tt.script}
			var sl sleeps
			tt.policy.Sleep = sl.Sleep
			var seqs []int
			stats, err := Deliver(t.Context(), dst, tt.policy, feed(items(20)), func(r Result) error {
				seqs = append(seqs, r.Seq)
				if tt.onResult != nil {
					return tt.onResult(r)
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
			if got := connector.IsAuth(err); got != tt.wantAuth {
				t.Errorf("IsAuth = %v, want %v", got, tt.wantAuth)
			}
			if len(seqs) > len(tt.wantSeqs) || !slices.Equal(seqs, tt.wantSeqs[:len(seqs)]) || tt.exact && len(seqs) != len(tt.wantSeqs) {
				t.Errorf("results for batches %v, want %v", seqs, tt.wantSeqs)
			}
			if stats.Requests > tt.wantRequests || len(dst.Calls()) > tt.wantRequests {
				t.Errorf("%d requests (stats %d), want at most %d", len(dst.Calls()), stats.Requests, tt.wantRequests)
			}
		})
	}
}

// settledGoroutines waits for goroutines that have finished their work to
// exit, and returns how many remain.
func settledGoroutines(limit int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > limit; i++ {
		time.Sleep(5 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestDeliverCancel(t *testing.T) {
	tests := []struct {
		name string
		// blockWrite makes Write wait for cancellation; otherwise the
		// input stays open and Deliver waits for more items.
		blockWrite bool
	}{
		{"while a request is out", true},
		{"while waiting for input", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(t.Context())
			started := make(chan struct{}, 16)
			dst := &fakeDest{script: func(ctx context.Context, _ int, b *connector.Batch) error {
				started <- struct{}{}
				if tt.blockWrite {
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}}
			in := make(chan Item) // never closed: the producer is still going
			var got atomic.Int32
			done := make(chan error, 1)
			go func() {
				_, err := Deliver(ctx, dst, Policy{BatchSize: 2, Concurrency: 3}, in, func(Result) error {
					got.Add(1)
					return nil
				})
				done <- err
			}()
			for _, it := range items(2) {
				in <- it
			}
			<-started
			cancel()
			err := <-done
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if tt.blockWrite && got.Load() != 0 {
				t.Errorf("%d results for a batch cut short, want none", got.Load())
			}
			if n := settledGoroutines(before); n > before {
				t.Errorf("%d goroutines after Deliver returned, %d before", n, before)
			}
		})
	}
}

func TestDeliverConcurrency(t *testing.T) {
	for _, conc := range []int{1, 3, 8} {
		t.Run(strconv.Itoa(conc), func(t *testing.T) {
			// The first conc writes wait for each other, so Deliver has to
			// reach its full concurrency to finish at all; later writes
			// yield to let any excess overlap show.
			var arrived atomic.Int32
			gate := make(chan struct{})
			dst := &fakeDest{}
			dst.script = func(ctx context.Context, n int, _ *connector.Batch) error {
				if n <= conc {
					if arrived.Add(1) == int32(conc) {
						close(gate)
					}
					select {
					case <-gate:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				runtime.Gosched()
				return nil
			}
			var inResult, overlaps atomic.Int32
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			n := 0
			_, err := Deliver(ctx, dst, Policy{BatchSize: 3, Concurrency: conc}, feed(items(200)), func(r Result) error {
				if inResult.Add(1) != 1 {
					overlaps.Add(1)
				}
				runtime.Gosched()
				n += len(r.Items)
				inResult.Add(-1)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 200 {
				t.Errorf("%d items delivered, want 200", n)
			}
			if dst.maxInFlight != conc {
				t.Errorf("max in flight = %d, want %d", dst.maxInFlight, conc)
			}
			if overlaps.Load() != 0 {
				t.Errorf("onResult called concurrently %d times", overlaps.Load())
			}
		})
	}
}

func TestDeliverBackpressure(t *testing.T) {
	const batchSize, conc = 5, 2
	var consumed, writes atomic.Int32
	dst := &fakeDest{script: func(context.Context, int, *connector.Batch) error {
		writes.Add(1)
		return nil
	}}
	in := make(chan Item)
	go func() {
		defer close(in)
		for _, it := range items(500) {
			in <- it
			consumed.Add(1)
		}
	}()
	first := true
	var peak int32
	_, err := Deliver(t.Context(), dst, Policy{BatchSize: batchSize, Concurrency: conc}, in, func(Result) error {
		if first {
			first = false
			// Hold the first result until every worker has finished a
			// batch and is stuck handing it over, then give any unbounded
			// buffering time to show.
			for writes.Load() < conc+1 {
				runtime.Gosched()
			}
			time.Sleep(50 * time.Millisecond)
			peak = consumed.Load()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One batch in onResult, one held by each worker, one waiting in the
	// batcher; the producer's next send is not yet counted.
	if limit := int32((conc + 2) * batchSize); peak > limit {
		t.Errorf("%d items read while onResult was blocked, want at most %d", peak, limit)
	}
}

func TestDeliverRateLimit(t *testing.T) {
	tests := []struct {
		name     string
		rps      float64
		wantWait bool
	}{
		{"limited", 1, true},
		{"unlimited", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sl sleeps
			_, stats, err := deliverAll(t, &fakeDest{}, Policy{BatchSize: 1, RequestsPerSec: tt.rps, Sleep: sl.Sleep}, items(4))
			if err != nil {
				t.Fatal(err)
			}
			if got := stats.RateLimitWait > 0; got != tt.wantWait {
				t.Errorf("RateLimitWait = %v, want waiting %v", stats.RateLimitWait, tt.wantWait)
			}
			var total time.Duration
			for _, w := range sl.Waits() {
				total += w
			}
			if total != stats.RateLimitWait {
				t.Errorf("slept %v, RateLimitWait %v", total, stats.RateLimitWait)
			}
			if tt.wantWait && len(sl.Waits()) < 3 {
				t.Errorf("waits = %v, want one before each of the last 3 requests", sl.Waits())
			}
		})
	}
}

func TestDeliverLogsRetries(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	var sl sleeps
	dst := &fakeDest{script: func(_ context.Context, n int, _ *connector.Batch) error {
		if n == 1 {
			return connector.ClassifyHTTP(429, []byte("slow down"), 3*time.Second)
		}
		return nil
	}}
	if _, _, err := deliverAll(t, dst, Policy{BatchSize: 2, Sleep: sl.Sleep, Logger: logger}, items(1)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=INFO", `msg="retrying batch"`, "seq=1", "attempt=1", "wait=3s", `error="status 429: slow down"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in      Policy
		want    Policy
		wantErr bool
	}{
		{"zero batch size", Policy{}, Policy{}, true},
		{"negative bytes", Policy{BatchSize: 1, MaxBatchBytes: -1}, Policy{}, true},
		{"defaults", Policy{BatchSize: 10}, Policy{BatchSize: 10, Concurrency: 1, MaxAttempts: 5, MinBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second}, false},
		{"max below min", Policy{BatchSize: 1, MinBackoff: time.Minute, MaxBackoff: time.Second}, Policy{BatchSize: 1, Concurrency: 1, MaxAttempts: 5, MinBackoff: time.Minute, MaxBackoff: time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Sleep == nil || got.Logger == nil || got.Now == nil {
				t.Error("Sleep, Now and Logger must default")
			}
			got.Sleep, got.Logger, got.Now = nil, nil, nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Deliver(t.Context(), &fakeDest{}, Policy{}, feed(nil), func(Result) error { return nil }); err == nil {
		t.Error("Deliver accepted a zero batch size")
	}
}

func TestFromLimits(t *testing.T) {
	windows := []connector.RateWindow{{Requests: 190, Per: 10 * time.Second}}
	got := FromLimits(connector.Limits{BatchSize: 100, MaxBatchBytes: 1 << 20, Concurrency: 4, RequestsPerSec: 10, Windows: windows})
	want := Policy{BatchSize: 100, MaxBatchBytes: 1 << 20, Concurrency: 4, RequestsPerSec: 10, Windows: windows}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *slog.Logger) bool { return a == b })); diff != "" {
		t.Errorf("policy (-want +got):\n%s", diff)
	}
}

// TestDeliverTellsWaits: OnWait hears of every wait before it, by kind —
// a backoff before a retry, a wait for the rate limit — and the waits it
// hears of are the ones slept.
func TestDeliverTellsWaits(t *testing.T) {
	var sl sleeps
	var mu sync.Mutex
	told := map[string]time.Duration{}
	count := map[string]int{}
	dst := &fakeDest{script: func(_ context.Context, n int, _ *connector.Batch) error {
		if n == 2 {
			return connector.ClassifyHTTP(503, nil, 0)
		}
		return nil
	}}
	p := Policy{BatchSize: 1, RequestsPerSec: 1, Sleep: sl.Sleep, OnWait: func(kind string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		told[kind] += d
		count[kind]++
	}}
	_, stats, err := deliverAll(t, dst, p, items(3))
	if err != nil {
		t.Fatal(err)
	}
	if count[WaitRetry] != 1 || stats.Retries != 1 {
		t.Errorf("told of %d retry waits, %d retries", count[WaitRetry], stats.Retries)
	}
	if told[WaitRateLimit] != stats.RateLimitWait || count[WaitRateLimit] == 0 {
		t.Errorf("told of %v rate-limit waits (%d), stats say %v", told[WaitRateLimit], count[WaitRateLimit], stats.RateLimitWait)
	}
	var slept time.Duration
	for _, w := range sl.Waits() {
		slept += w
	}
	if slept != told[WaitRetry]+told[WaitRateLimit] {
		t.Errorf("slept %v, told of %v", slept, told[WaitRetry]+told[WaitRateLimit])
	}
}
