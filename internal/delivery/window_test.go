package delivery

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

// fakeClock is a clock that only moves when a test's Sleep moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// clockDest records, for each Write, how long after start the clock says it began.
type clockDest struct {
	clock  *fakeClock
	start  time.Time
	mu     sync.Mutex
	starts []time.Duration
	// windows, when set, are what RateWindows returns.
	windows []connector.RateWindow
}

func (d *clockDest) Write(context.Context, *connector.Batch) error {
	d.mu.Lock()
	d.starts = append(d.starts, d.clock.Now().Sub(d.start))
	d.mu.Unlock()
	return nil
}

func (d *clockDest) Close(context.Context) error { return nil }

// windowedDest is a clockDest whose settings choose its windows.
type windowedDest struct{ *clockDest }

func (d windowedDest) RateWindows() []connector.RateWindow { return d.windows }

func TestDeliverRateWindows(t *testing.T) {
	s := time.Second
	// A window's span plus its guard against arrival jitter.
	g10, g1 := 10*s+guard(10*s), s+guard(s)
	tests := []struct {
		name       string
		windows    []connector.RateWindow
		override   []connector.RateWindow // returned by the destination
		requests   int
		wantStarts []time.Duration
	}{
		{
			name:       "one window",
			windows:    []connector.RateWindow{{Requests: 3, Per: 10 * s}},
			requests:   7,
			wantStarts: []time.Duration{0, 0, 0, g10, g10, g10, 2 * g10},
		},
		{
			name:       "burst and long window",
			windows:    []connector.RateWindow{{Requests: 2, Per: s}, {Requests: 3, Per: 10 * s}},
			requests:   5,
			wantStarts: []time.Duration{0, 0, g1, g10, g10},
		},
		{
			name:       "no window",
			requests:   3,
			wantStarts: []time.Duration{0, 0, 0},
		},
		{
			name:       "destination's windows replace the spec's",
			windows:    []connector.RateWindow{{Requests: 1, Per: time.Hour}},
			override:   []connector.RateWindow{{Requests: 2, Per: 10 * s}},
			requests:   4,
			wantStarts: []time.Duration{0, 0, g10, g10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cd := &clockDest{clock: clock, start: clock.Now(), windows: tt.override}
			var dst connector.Destination = cd
			if tt.override != nil {
				dst = windowedDest{cd}
			}
			p := Policy{BatchSize: 1, Windows: tt.windows, Sleep: clock.Sleep, Now: clock.Now}
			_, stats, err := deliverAll(t, dst, p, items(tt.requests))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantStarts, cd.starts); diff != "" {
				t.Errorf("request starts (-want +got):\n%s", diff)
			}
			// With one worker every wait is spent before the next request,
			// so the clock moved by exactly the waits counted.
			if got := clock.Now().Sub(cd.start); got != stats.RateLimitWait {
				t.Errorf("RateLimitWait = %v, clock moved %v", stats.RateLimitWait, got)
			}
		})
	}
}

func TestDeliverRateWindowsInvalid(t *testing.T) {
	tests := []struct {
		name string
		w    connector.RateWindow
	}{
		{"zero requests", connector.RateWindow{Requests: 0, Per: time.Second}},
		{"zero span", connector.RateWindow{Requests: 10, Per: 0}},
		{"negative span", connector.RateWindow{Requests: 10, Per: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{BatchSize: 1, Windows: []connector.RateWindow{tt.w}}
			if _, err := Deliver(t.Context(), &fakeDest{}, p, feed(items(1)), func(Result) error { return nil }); err == nil {
				t.Errorf("Deliver accepted window %v", tt.w)
			}
		})
	}
}

// TestWindowLimiterNeverExceeds books requests arriving at irregular times
// and checks that no span of any window holds more starts than its quota.
func TestWindowLimiterNeverExceeds(t *testing.T) {
	tests := []struct {
		name    string
		windows []connector.RateWindow
		maxGap  time.Duration
	}{
		{"hubspot pro", []connector.RateWindow{{Requests: 190, Per: 10 * time.Second}, {Requests: 1000, Per: time.Minute}}, 20 * time.Millisecond},
		{"tight", []connector.RateWindow{{Requests: 3, Per: time.Second}}, 300 * time.Millisecond},
		{"bursty arrivals", []connector.RateWindow{{Requests: 5, Per: time.Second}, {Requests: 12, Per: 5 * time.Second}}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			l := newWindowLimiter(tt.windows, base)
			now := base
			var starts []time.Time
			for range 3000 {
				now = now.Add(time.Duration(rng.Int64N(int64(tt.maxGap))))
				starts = append(starts, now.Add(l.reserve(now)))
			}
			for _, w := range tt.windows {
				lo := 0
				for hi, s := range starts {
					if hi > 0 && s.Before(starts[hi-1]) {
						t.Fatalf("start %d (%v) before start %d (%v)", hi, s, hi-1, starts[hi-1])
					}
					for !starts[lo].Add(w.Per).After(s) {
						lo++
					}
					if n := hi - lo + 1; n > w.Requests {
						t.Fatalf("%d requests within %v ending at request %d, quota %s", n, w.Per, hi, w)
					}
				}
			}
			// The quota is used, not only respected: the busiest span of the
			// first window is full.
			w, busiest := tt.windows[0], 0
			lo := 0
			for hi, s := range starts {
				for !starts[lo].Add(w.Per).After(s) {
					lo++
				}
				busiest = max(busiest, hi-lo+1)
			}
			if busiest != w.Requests {
				t.Errorf("busiest span of %v held %d requests, want the quota %d", w.Per, busiest, w.Requests)
			}
		})
	}
}
