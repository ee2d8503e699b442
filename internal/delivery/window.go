package delivery

import (
	"fmt"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// windowLimiter keeps quotas stated over spans of time ("190 requests per
// 10 seconds") exactly: a request may start only when fewer than Requests
// requests started within the Per before it, in every window.
//
// A token bucket with burst N and rate N/Per would let 2N requests through
// in the first span (a full bucket plus its refill), which a vendor's
// rolling window answers with 429s; keeping the start times of the last N
// requests costs 8 bytes per request of the quota, grown only as requests
// are made, and never trips the window.
type windowLimiter struct {
	mu   sync.Mutex
	base time.Time // start times are kept as offsets from base
	wins []slidingWindow
}

// slidingWindow holds the start times of the last Requests reservations of
// one window, oldest at next once the ring is full.
type slidingWindow struct {
	limit int
	per   time.Duration
	sent  []time.Duration
	next  int
}

func checkWindows(ws []connector.RateWindow) error {
	for _, w := range ws {
		if w.Requests <= 0 || w.Per <= 0 {
			return fmt.Errorf("delivery policy: rate window %s: requests and span must be positive", w)
		}
	}
	return nil
}

func newWindowLimiter(ws []connector.RateWindow, now time.Time) *windowLimiter {
	l := &windowLimiter{base: now, wins: make([]slidingWindow, len(ws))}
	for i, w := range ws {
		l.wins[i] = slidingWindow{limit: w.Requests, per: w.Per}
	}
	return l
}

// guard is the slack added to a window's span. Requests are timed where
// they start, the vendor counts them where they arrive: two requests
// started a span apart can arrive less than a span apart when the first
// was slower on the wire, and a rolling window then answers 429. 2% of
// the span (at least 20ms) absorbs that jitter for a 2% lower rate.
func guard(per time.Duration) time.Duration {
	return max(per/50, 20*time.Millisecond)
}

// reserve books the earliest start at or after now that every window
// allows and returns how long to wait for it. The booking stands even if
// the caller never sends: counting a request that did not happen only
// errs on the safe side.
func (l *windowLimiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := now.Sub(l.base)
	at := t
	for i := range l.wins {
		w := &l.wins[i]
		if len(w.sent) == w.limit {
			// Bookings are made in nondecreasing order, so the slot at
			// next is the oldest of the last limit starts.
			at = max(at, w.sent[w.next]+w.per+guard(w.per))
		}
	}
	for i := range l.wins {
		w := &l.wins[i]
		if len(w.sent) < w.limit {
			w.sent = append(w.sent, at)
			continue
		}
		w.sent[w.next] = at
		w.next = (w.next + 1) % w.limit
	}
	return at - t
}
