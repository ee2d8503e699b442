package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"

	"github.com/riptide-data/riptide/internal/connector"
)

// deliverer sends batches for one Deliver call; its methods run on every
// worker at once.
type deliverer struct {
	dst     connector.Destination
	p       Policy
	limiter *rate.Limiter
	windows *windowLimiter
	stats   counters
}

// outcome gathers one batch's failures across its halves.
type outcome struct {
	failed map[int]string
}

func (o *outcome) fail(i int, msg string) {
	if o.failed == nil {
		o.failed = make(map[int]string)
	}
	o.failed[i] = msg
}

// deliver takes one batch to its final outcome. An error means delivery
// must stop: the destination refused our credentials or ctx ended.
func (d *deliverer) deliver(ctx context.Context, j job) (Result, error) {
	records := make([]connector.Record, len(j.items))
	for i := range j.items {
		records[i] = j.items[i].Record
	}
	var o outcome
	if err := d.send(ctx, j.seq, "", records, 0, &o); err != nil {
		return Result{}, err
	}
	return Result{Seq: j.seq, Items: j.items, Failed: o.failed}, nil
}

// send delivers records, which start at offset in their batch, retrying
// transient failures and splitting the records when the destination
// refuses the request as a whole.
func (d *deliverer) send(ctx context.Context, seq int, part string, records []connector.Record, offset int, o *outcome) error {
	b := &connector.Batch{Seq: seq, Part: part, Records: records}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := d.waitRate(ctx); err != nil {
			return err
		}
		d.stats.requests.Add(1)
		err := d.dst.Write(ctx, b)
		if ctx.Err() != nil {
			// Stopped while the request was out: whatever it answered, the
			// batch has no final outcome.
			return context.Cause(ctx)
		}
		var rowErrs *connector.RowErrors
		var reqErr *connector.RequestError
		isReq := errors.As(err, &reqErr)
		switch {
		case err == nil:
			return nil
		case errors.As(err, &rowErrs):
			for i, msg := range rowErrs.Failed {
				if i < 0 || i >= len(records) {
					d.p.Logger.WarnContext(ctx, "destination reported a row error outside its batch", "seq", seq, "part", part, "index", i, "records", len(records))
					continue
				}
				o.fail(offset+i, msg)
			}
			return nil
		case isReq && reqErr.Auth:
			return fmt.Errorf("batch %d: authentication failed: %w", seq, reqErr)
		case isReq && reqErr.Quota:
			return fmt.Errorf("batch %d: the destination's quota is used up: %w", seq, reqErr)
		case isReq && !reqErr.Retryable:
			if len(records) == 1 {
				o.fail(offset, reqErr.Error())
				return nil
			}
			// The destination refused the request for its data: halve the
			// batch until the records at fault stand alone.
			d.stats.splits.Add(1)
			mid := len(records) / 2
			if err := d.send(ctx, seq, part+"a", records[:mid], offset, o); err != nil {
				return err
			}
			return d.send(ctx, seq, part+"b", records[mid:], offset+mid, o)
		}

		if attempt >= d.p.MaxAttempts {
			msg := fmt.Sprintf("gave up after %d attempts: %v", attempt, err)
			for i := range records {
				o.fail(offset+i, msg)
			}
			return nil
		}
		var retryAfter time.Duration
		if isReq {
			retryAfter = reqErr.RetryAfter
		}
		wait := d.backoff(attempt, retryAfter)
		d.stats.retries.Add(1)
		d.told(WaitRetry, wait)
		d.p.Logger.InfoContext(ctx, "retrying batch", "seq", seq, "part", part, "attempt", attempt, "wait", wait, "error", err)
		if err := d.p.Sleep(ctx, wait); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("batch %d: wait before retry: %w", seq, err)
		}
	}
}

// backoff is the wait after a failed attempt: the server's Retry-After when
// it gave one (capped at MaxRetryAfter), otherwise exponential backoff with
// full jitter, drawn uniformly between MinBackoff and MinBackoff·2^(attempt-1)
// capped at MaxBackoff. Jitter keeps concurrent workers from retrying in
// lockstep against a recovering server.
func (d *deliverer) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, MaxRetryAfter)
	}
	lo, hi := d.p.MinBackoff, d.p.MinBackoff
	for i := 1; i < attempt && hi < d.p.MaxBackoff; i++ {
		hi *= 2
	}
	hi = min(hi, d.p.MaxBackoff)
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}

// waitRate takes a token from the limiter, then a slot in the rate
// windows, waiting through Sleep so that tests see the wait without
// spending it.
func (d *deliverer) waitRate(ctx context.Context) error {
	if err := d.waitLimiter(ctx); err != nil {
		return err
	}
	if d.windows == nil {
		return nil
	}
	wait := d.windows.reserve(d.p.Now())
	if wait <= 0 {
		return nil
	}
	d.stats.rateWait.Add(int64(wait))
	d.told(WaitRateLimit, wait)
	if err := d.p.Sleep(ctx, wait); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("wait for rate window: %w", err)
	}
	return nil
}

// told passes a wait to the policy's OnWait.
func (d *deliverer) told(kind string, wait time.Duration) {
	if d.p.OnWait != nil {
		d.p.OnWait(kind, wait)
	}
}

func (d *deliverer) waitLimiter(ctx context.Context) error {
	if d.limiter == nil {
		return nil
	}
	r := d.limiter.Reserve()
	wait := r.Delay()
	if wait <= 0 {
		return nil
	}
	d.stats.rateWait.Add(int64(wait))
	d.told(WaitRateLimit, wait)
	if err := d.p.Sleep(ctx, wait); err != nil {
		r.Cancel()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("wait for rate limiter: %w", err)
	}
	return nil
}
