// Package delivery carries out a destination's declared limits: it groups
// records into batches, sends them with bounded concurrency under a rate
// limiter, retries transient failures with backoff, splits batches the
// destination refuses to isolate the records at fault, and hands every
// batch's final per-record outcome back to the caller. Destinations stay
// thin adapters that never batch, throttle or retry on their own.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/riptide-data/riptide/internal/connector"
)

// Item is one record to deliver and the caller's reference to it, handed back with its outcome.
type Item struct {
	Record connector.Record
	Ref    int64 // opaque to delivery
}

// Policy is how to deliver to one destination: the destination spec's limits, possibly overridden by settings.
type Policy struct {
	BatchSize int // records per request (required, >0)
	// MaxBatchBytes bounds a batch by the sum of its records' EstimateSize;
	// 0 = no limit. A record larger than the bound on its own is sent alone.
	MaxBatchBytes  int
	Concurrency    int     // requests in flight (default 1)
	RequestsPerSec float64 // token bucket, golang.org/x/time/rate; 0 = unlimited
	// Windows are quotas over spans of time, each kept exactly (see
	// windowLimiter). A destination implementing connector.RateWindowed
	// replaces them with the windows its settings chose.
	Windows     []connector.RateWindow
	MaxAttempts int           // per request, including the first (default 5)
	MinBackoff  time.Duration // default 500ms
	MaxBackoff  time.Duration // default 30s
	// Sleep waits between attempts and for the rate limiter; tests replace
	// it to avoid real waiting. Default: a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnWait, when set, is told of each wait before it starts: WaitRetry
	// for a backoff before a batch is sent again, WaitRateLimit for the
	// destination's rate limit (metrics).
	OnWait func(kind string, d time.Duration)
	// Now is the clock the rate windows count by; tests advance it in
	// their Sleep. Default: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Kinds of waits OnWait is told of.
const (
	WaitRetry     = "retry"
	WaitRateLimit = "rate_limit"
)

// Defaults of the optional Policy fields.
const (
	DefaultConcurrency = 1
	DefaultMaxAttempts = 5
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	// MaxRetryAfter caps a server's Retry-After: a destination asking for
	// an hour's pause is better served by failing the batch (its records
	// are retried next run) than by holding the run open.
	MaxRetryAfter = 5 * time.Minute
)

// FromLimits returns the policy a destination's declared limits ask for,
// with every optional field at its default.
func FromLimits(l connector.Limits) Policy {
	return Policy{
		BatchSize:      l.BatchSize,
		MaxBatchBytes:  l.MaxBatchBytes,
		Concurrency:    l.Concurrency,
		RequestsPerSec: l.RequestsPerSec,
		Windows:        l.Windows,
	}
}

func (p Policy) withDefaults() (Policy, error) {
	if p.BatchSize <= 0 {
		return p, fmt.Errorf("delivery policy: batch size must be positive, got %d", p.BatchSize)
	}
	if p.MaxBatchBytes < 0 || p.RequestsPerSec < 0 {
		return p, errors.New("delivery policy: max batch bytes and requests per second must not be negative")
	}
	if err := checkWindows(p.Windows); err != nil {
		return p, err
	}
	if p.Concurrency <= 0 {
		p.Concurrency = DefaultConcurrency
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = DefaultMinBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = p.MinBackoff
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Result is the final outcome of one batch: every item either accepted or failed.
type Result struct {
	Seq    int
	Items  []Item
	Failed map[int]string // index in Items → the destination's message; nil/empty when all accepted
}

// Stats counts what a delivery took: requests sent (every attempt, halves
// included), retries scheduled, splits made, and the time spent waiting
// for the rate limiter.
type Stats struct {
	Requests, Retries, Splits int
	RateLimitWait             time.Duration
}

// counters are Stats shared by the workers.
type counters struct {
	requests, retries, splits, rateWait atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Requests:      int(c.requests.Load()),
		Retries:       int(c.retries.Load()),
		Splits:        int(c.splits.Load()),
		RateLimitWait: time.Duration(c.rateWait.Load()),
	}
}

// job is a formed batch on its way to a worker.
type job struct {
	seq   int
	items []Item
}

// Deliver reads items from in until it is closed, groups them into batches (by BatchSize and MaxBatchBytes) numbered from 1 in order of formation, writes each batch through dst with up to Concurrency in flight, and calls onResult once per batch when its outcome is final. onResult is called from one goroutine at a time (never concurrently) so callers can commit state without locking. Deliver returns when all batches are done, or early with an error when: ctx is cancelled, onResult returns an error, or the destination reports an auth failure (connector.RequestError.Auth) or a spent quota (RequestError.Quota) — then it stops at once, sends nothing more, and the error says so with the destination's message. Items of batches not finished when it stops early get no Result (the engine treats them as not delivered).
//
// Memory stays bounded by about (Concurrency+2) × BatchSize items: batches
// pass through unbuffered channels, so a slow onResult holds the workers,
// which hold the batcher, which stops reading in. After Deliver returns
// nothing reads in any more; a producer must select on a context that its
// caller cancels once Deliver has returned. Every goroutine Deliver starts
// has ended when it returns, provided dst.Write honours its context.
func Deliver(ctx context.Context, dst connector.Destination, p Policy, in <-chan Item, onResult func(Result) error) (Stats, error) {
	if rw, ok := dst.(connector.RateWindowed); ok {
		p.Windows = rw.RateWindows()
	}
	p, err := p.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	d := &deliverer{dst: dst, p: p}
	if p.RequestsPerSec > 0 {
		// A burst of one spaces requests evenly: vendors count their limits
		// over windows we cannot see, and an even pace never trips them.
		d.limiter = rate.NewLimiter(rate.Limit(p.RequestsPerSec), 1)
	}
	if len(p.Windows) > 0 {
		d.windows = newWindowLimiter(p.Windows, p.Now())
	}

	jobs := make(chan job)
	results := make(chan Result)
	var wg sync.WaitGroup
	wg.Go(func() { batch(ctx, p, in, jobs) })
	var workers sync.WaitGroup
	for range p.Concurrency {
		workers.Go(func() {
			for j := range jobs {
				res, err := d.deliver(ctx, j)
				if err != nil {
					cancel(err)
					return
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() {
		workers.Wait()
		close(results)
	})

	for res := range results {
		if ctx.Err() != nil {
			continue // stopped: drain so the workers can end, commit nothing
		}
		if err := onResult(res); err != nil {
			cancel(fmt.Errorf("batch %d: record result: %w", res.Seq, err))
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return d.stats.snapshot(), context.Cause(ctx)
	}
	return d.stats.snapshot(), nil
}

// batch forms batches from in and hands them to the workers. It closes
// jobs when in is exhausted or ctx is done, so the workers always end.
func batch(ctx context.Context, p Policy, in <-chan Item, jobs chan<- job) {
	defer close(jobs)
	seq, size := 0, 0
	var cur []Item
	emit := func() bool {
		seq++
		j := job{seq: seq, items: cur}
		cur, size = make([]Item, 0, p.BatchSize), 0
		select {
		case jobs <- j:
			return true
		case <-ctx.Done():
			return false
		}
	}
	cur = make([]Item, 0, p.BatchSize)
	for {
		select {
		case it, ok := <-in:
			if !ok {
				if len(cur) > 0 {
					emit()
				}
				return
			}
			n := 0
			if p.MaxBatchBytes > 0 {
				n = EstimateSize(&it.Record)
				if len(cur) > 0 && size+n > p.MaxBatchBytes && !emit() {
					return
				}
			}
			cur = append(cur, it)
			size += n
			// A full batch goes at once rather than waiting for the next
			// item, which may be long in coming.
			if len(cur) >= p.BatchSize && !emit() {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
