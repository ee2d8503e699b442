package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

// call is one Write the fake destination received.
type call struct {
	Seq  int
	Part string
	Keys []string
}

// fakeDest answers each Write with its script, recording the calls and the
// number of writes in flight.
type fakeDest struct {
	// script answers call n (from 1); nil accepts everything.
	script func(ctx context.Context, n int, b *connector.Batch) error

	mu          sync.Mutex
	calls       []call
	inFlight    int
	maxInFlight int
}

func (f *fakeDest) Write(ctx context.Context, b *connector.Batch) error {
	keys := make([]string, len(b.Records))
	for i, r := range b.Records {
		keys[i] = r.Key
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{Seq: b.Seq, Part: b.Part, Keys: keys})
	n := len(f.calls)
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.script == nil {
		return nil
	}
	return f.script(ctx, n, b)
}

func (f *fakeDest) Close(context.Context) error { return nil }

func (f *fakeDest) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// sleeps records the waits Deliver asks for without spending them.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

func items(n int) []Item {
	out := make([]Item, n)
	for i := range out {
		k := strconv.Itoa(i + 1)
		out[i] = Item{
			Record: connector.Record{Op: connector.OpUpsert, Key: k, KeyParts: []string{k}, Fields: []connector.FieldValue{{Name: "n", Value: int64(i + 1)}}},
			Ref:    int64(i + 1),
		}
	}
	return out
}

func feed(its []Item) <-chan Item {
	ch := make(chan Item, len(its))
	for _, it := range its {
		ch <- it
	}
	close(ch)
	return ch
}

// outcome is a Result in comparable form: the refs of its items and the
// refs of the failed ones with their messages.
type outcomeOf struct {
	Seq    int
	Refs   []int64
	Failed map[int64]string
}

func summarize(results []Result) []outcomeOf {
	out := make([]outcomeOf, 0, len(results))
	for _, r := range results {
		o := outcomeOf{Seq: r.Seq}
		for i, it := range r.Items {
			o.Refs = append(o.Refs, it.Ref)
			if msg, ok := r.Failed[i]; ok {
				if o.Failed == nil {
					o.Failed = map[int64]string{}
				}
				o.Failed[it.Ref] = msg
			}
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func deliverAll(t *testing.T, dst connector.Destination, p Policy, its []Item) ([]Result, Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a guard against hangs, not a measurement
	defer cancel()
	var results []Result
	stats, err := Deliver(ctx, dst, p, feed(its), func(r Result) error {
		results = append(results, r)
		return nil
	})
	return results, stats, err
}

func TestDeliverOutcomes(t *testing.T) {
	bad := func(keys ...string) func(context.Context, int, *connector.Batch) error {
		return func(_ context.Context, _ int, b *connector.Batch) error {
			for _, r := range b.Records {
				if slices.Contains(keys, r.Key) {
					return &connector.RequestError{Status: 400, Message: "invalid record " + r.Key}
				}
			}
			return nil
		}
	}
	byCall := func(answers ...error) func(context.Context, int, *connector.Batch) error {
		return func(_ context.Context, n int, _ *connector.Batch) error {
			if n <= len(answers) {
				return answers[n-1]
			}
			return nil
		}
	}
	status := func(code int, retryAfter time.Duration) error {
		return connector.ClassifyHTTP(code, []byte("boom"), retryAfter)
	}

	tests := []struct {
		name      string
		policy    Policy
		n         int
		script    func(context.Context, int, *connector.Batch) error
		want      []outcomeOf
		wantCalls []call // compared when set
		wantStats Stats
		wantWaits []time.Duration // compared when set
		waitRange [][2]time.Duration
	}{
		{
			name:   "all accepted",
			policy: Policy{BatchSize: 4},
			n:      10,
			want: []outcomeOf{
				{Seq: 1, Refs: []int64{1, 2, 3, 4}},
				{Seq: 2, Refs: []int64{5, 6, 7, 8}},
				{Seq: 3, Refs: []int64{9, 10}},
			},
			wantStats: Stats{Requests: 3},
		},
		{
			name:   "partial row errors",
			policy: Policy{BatchSize: 3},
			n:      6,
			script: func(_ context.Context, _ int, b *connector.Batch) error {
				if b.Seq == 2 {
					return &connector.RowErrors{Failed: map[int]string{0: "bad email", 2: "unknown plan", 7: "out of range"}}
				}
				return nil
			},
			want: []outcomeOf{
				{Seq: 1, Refs: []int64{1, 2, 3}},
				{Seq: 2, Refs: []int64{4, 5, 6}, Failed: map[int64]string{4: "bad email", 6: "unknown plan"}},
			},
			wantStats: Stats{Requests: 2},
		},
		{
			name:      "429 waits exactly Retry-After",
			policy:    Policy{BatchSize: 5},
			n:         5,
			script:    byCall(status(429, 7*time.Second), status(429, 2*time.Second)),
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1, 2, 3, 4, 5}}},
			wantStats: Stats{Requests: 3, Retries: 2},
			wantWaits: []time.Duration{7 * time.Second, 2 * time.Second},
		},
		{
			name:      "Retry-After capped",
			policy:    Policy{BatchSize: 5},
			n:         1,
			script:    byCall(status(429, time.Hour)),
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1}}},
			wantStats: Stats{Requests: 2, Retries: 1},
			wantWaits: []time.Duration{MaxRetryAfter},
		},
		{
			name:      "5xx retried with backoff then accepted",
			policy:    Policy{BatchSize: 5, MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond},
			n:         2,
			script:    byCall(status(503, 0), status(500, 0), status(502, 0), status(504, 0)),
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1, 2}}},
			wantStats: Stats{Requests: 5, Retries: 4},
			waitRange: [][2]time.Duration{
				{100 * time.Millisecond, 100 * time.Millisecond},
				{100 * time.Millisecond, 200 * time.Millisecond},
				{100 * time.Millisecond, 300 * time.Millisecond},
				{100 * time.Millisecond, 300 * time.Millisecond},
			},
		},
		{
			name:      "transport error and timeout retried",
			policy:    Policy{BatchSize: 5},
			n:         1,
			script:    byCall(errors.New("connection refused"), fmt.Errorf("post: %w", context.DeadlineExceeded)),
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1}}},
			wantStats: Stats{Requests: 3, Retries: 2},
		},
		{
			name:   "attempts exhausted",
			policy: Policy{BatchSize: 2, MaxAttempts: 3},
			n:      2,
			script: func(context.Context, int, *connector.Batch) error { return status(500, 0) },
			want: []outcomeOf{{Seq: 1, Refs: []int64{1, 2}, Failed: map[int64]string{
				1: "gave up after 3 attempts: status 500: boom",
				2: "gave up after 3 attempts: status 500: boom",
			}}},
			wantStats: Stats{Requests: 3, Retries: 2},
		},
		{
			name:   "one bad record among 8 isolated by splitting",
			policy: Policy{BatchSize: 8},
			n:      8,
			script: bad("6"),
			want:   []outcomeOf{{Seq: 1, Refs: []int64{1, 2, 3, 4, 5, 6, 7, 8}, Failed: map[int64]string{6: "status 400: invalid record 6"}}},
			wantCalls: []call{
				{Seq: 1, Part: "", Keys: []string{"1", "2", "3", "4", "5", "6", "7", "8"}},
				{Seq: 1, Part: "a", Keys: []string{"1", "2", "3", "4"}},
				{Seq: 1, Part: "b", Keys: []string{"5", "6", "7", "8"}},
				{Seq: 1, Part: "ba", Keys: []string{"5", "6"}},
				{Seq: 1, Part: "baa", Keys: []string{"5"}},
				{Seq: 1, Part: "bab", Keys: []string{"6"}},
				{Seq: 1, Part: "bb", Keys: []string{"7", "8"}},
			},
			wantStats: Stats{Requests: 7, Splits: 3},
		},
		{
			name:   "halves retry and report row errors",
			policy: Policy{BatchSize: 4},
			n:      4,
			script: func(_ context.Context, n int, b *connector.Batch) error {
				switch b.Part {
				case "":
					return status(422, 0)
				case "a":
					if n == 2 {
						return status(503, 0)
					}
				case "b":
					return &connector.RowErrors{Failed: map[int]string{1: "duplicate"}}
				}
				return nil
			},
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1, 2, 3, 4}, Failed: map[int64]string{4: "duplicate"}}},
			wantStats: Stats{Requests: 4, Retries: 1, Splits: 1},
		},
		{
			name:      "single record refused",
			policy:    Policy{BatchSize: 1},
			n:         2,
			script:    bad("2"),
			want:      []outcomeOf{{Seq: 1, Refs: []int64{1}}, {Seq: 2, Refs: []int64{2}, Failed: map[int64]string{2: "status 400: invalid record 2"}}},
			wantStats: Stats{Requests: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := &fakeDest{script: tt.script}
			var sl sleeps
			tt.policy.Sleep = sl.Sleep
			results, stats, err := deliverAll(t, dst, tt.policy, items(tt.n))
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(results)); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStats, stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if tt.wantCalls != nil {
				if diff := cmp.Diff(tt.wantCalls, dst.Calls()); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
			}
			waits := sl.Waits()
			if tt.wantWaits != nil {
				if diff := cmp.Diff(tt.wantWaits, waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			}
			if tt.waitRange != nil {
				if len(waits) != len(tt.waitRange) {
					t.Fatalf("waits = %v, want %d", waits, len(tt.waitRange))
				}
				for i, w := range waits {
					if w < tt.waitRange[i][0] || w > tt.waitRange[i][1] {
						t.Errorf("wait %d = %v, want within %v", i+1, w, tt.waitRange[i])
					}
				}
			}
		})
	}
}

func TestDeliverMaxBatchBytes(t *testing.T) {
	rec := func(key string, textLen int) Item {
		return Item{Record: connector.Record{Op: connector.OpUpsert, Key: key, Fields: []connector.FieldValue{{Name: "f", Value: strings.Repeat("x", textLen)}}}}
	}
	// Each 10-character record estimates at 32+1 + 1+4+12 = 50 bytes.
	its := []Item{rec("a", 10), rec("b", 10), rec("c", 10), rec("d", 10), rec("e", 500), rec("f", 10)}
	tests := []struct {
		name   string
		policy Policy
		want   [][]string
	}{
		{"bytes bound first", Policy{BatchSize: 10, MaxBatchBytes: 120}, [][]string{{"a", "b"}, {"c", "d"}, {"e"}, {"f"}}},
		{"count bound first", Policy{BatchSize: 1, MaxBatchBytes: 1000}, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}}},
		{"no bytes bound", Policy{BatchSize: 4}, [][]string{{"a", "b", "c", "d"}, {"e", "f"}}},
		{"exact fit", Policy{BatchSize: 10, MaxBatchBytes: 150}, [][]string{{"a", "b", "c"}, {"d"}, {"e"}, {"f"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := &fakeDest{}
			if _, _, err := deliverAll(t, dst, tt.policy, its); err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for i, c := range dst.Calls() {
				if c.Seq != i+1 {
					t.Errorf("call %d has seq %d", i+1, c.Seq)
				}
				got = append(got, c.Keys)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEstimateSize(t *testing.T) {
	tests := []struct {
		name   string
		fields []connector.FieldValue
		want   int
	}{
		{"delete", nil, 32 + 2},
		{"int", []connector.FieldValue{{Name: "id", Value: int64(-12345)}}, 34 + 2 + 4 + 6},
		{"string and null", []connector.FieldValue{{Name: "a", Value: "héllo"}, {Name: "b", Value: nil}}, 34 + (1 + 4 + 8) + (1 + 4 + 4)},
		{"array", []connector.FieldValue{{Name: "xs", Value: []any{int64(1), true}}}, 34 + 2 + 4 + (2 + 2 + 6)},
		{"bytes", []connector.FieldValue{{Name: "b", Value: []byte("abcd")}}, 34 + 1 + 4 + 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := connector.Record{Key: "42", Fields: tt.fields}
			if got := EstimateSize(&r); got != tt.want {
				t.Errorf("EstimateSize = %d, want %d", got, tt.want)
			}
		})
	}
}

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
			if got.Sleep == nil || got.Logger == nil {
				t.Error("Sleep and Logger must default")
			}
			got.Sleep, got.Logger = nil, nil
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
	got := FromLimits(connector.Limits{BatchSize: 100, MaxBatchBytes: 1 << 20, Concurrency: 4, RequestsPerSec: 10})
	want := Policy{BatchSize: 100, MaxBatchBytes: 1 << 20, Concurrency: 4, RequestsPerSec: 10}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *slog.Logger) bool { return a == b })); diff != "" {
		t.Errorf("policy (-want +got):\n%s", diff)
	}
}
