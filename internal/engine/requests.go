package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

// requestLog is a run's request log: it masks secrets, numbers the
// requests, keeps the first state.MaxRequests and stores them in batches.
type requestLog struct {
	redactor *redact.Redactor
	mu       sync.Mutex
	next     uint64
	pending  []state.Request
}

// requestObserver sees every request of every run (see
// SetRequestObserver).
var requestObserver atomic.Pointer[func(connector.Request)]

// SetRequestObserver has f called with every request a destination makes
// during a run, including those past the log's cap, before any masking: f
// must keep only what is not secret (method, host, status, latency), as
// metrics do. nil removes it.
func SetRequestObserver(f func(connector.Request)) {
	if f == nil {
		requestObserver.Store(nil)
		return
	}
	requestObserver.Store(&f)
}

func (l *requestLog) LogRequest(r connector.Request) {
	if f := requestObserver.Load(); f != nil {
		(*f)(r)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := l.next
	l.next++
	if seq >= state.MaxRequests {
		return
	}
	l.pending = append(l.pending, state.Request{
		Seq: seq, At: r.At, Method: r.Method, URL: l.redactor.String(r.URL), Status: r.Status,
		LatencyMS:    float64(r.Latency.Microseconds()) / 1000,
		RequestBody:  l.redactor.String(r.RequestBody),
		ResponseBody: l.redactor.String(r.ResponseBody),
		Error:        l.redactor.String(r.Error),
	})
}

// Full reports that the log keeps nothing more.
func (l *requestLog) Full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next >= state.MaxRequests
}

// count is how many requests were made, kept or not.
func (l *requestLog) count() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// flush stores what was logged since the last flush.
func (l *requestLog) flush(ctx context.Context, store *state.Store, runID string) error {
	l.mu.Lock()
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return store.AddRequests(ctx, runID, pending)
}
