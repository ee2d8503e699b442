package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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
