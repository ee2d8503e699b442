package engine

import (
	"context"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

// Tracer follows runs as they happen, for tracing (internal/telemetry
// turns them into OpenTelemetry spans). The engine tells it only what it
// records anyway, with secrets masked. A nil Engine.Tracer traces nothing
// at no cost. Plans are not traced: they send nothing.
type Tracer interface {
	// StartRun is called as a sync's run begins, with its record (ID,
	// sync, model, destination, start time) and its destination's type.
	StartRun(ctx context.Context, run *state.Run, destinationType string) RunTrace
}

// RunTrace is one traced run. Its methods may be called concurrently.
type RunTrace interface {
	// Phase reports a phase of the run (extract, diff, load, commit).
	Phase(name string, start, end time.Time)
	// Request reports a request the destination made: its URL masked as
	// in the request log, no bodies, and no error text (a transport
	// error's text may hold anything), only whether there was one.
	Request(r connector.Request)
	// End reports the finished run record: status, counts, error.
	End(run *state.Run)
}

// runTrace is a run's trace as the engine holds it; nil when the run is
// not traced, so that the hooks cost a nil check.
type runTrace struct {
	t        RunTrace
	redactor *redact.Redactor
}

// startTrace begins tracing a sync's run, when the engine traces runs and
// the run sends (plans are not traced).
func (e *Engine) startTrace(ctx context.Context, sr *syncRun, send bool) *runTrace {
	if e.Tracer == nil || !send {
		return nil
	}
	dtype := ""
	if d, ok := e.Project.Destinations[sr.sync.Destination]; ok {
		dtype = d.Type
	}
	return &runTrace{t: e.Tracer.StartRun(ctx, sr.run, dtype), redactor: e.Redactor}
}

func (t *runTrace) phase(name string, start, end time.Time) {
	if t != nil {
		t.t.Phase(name, start, end)
	}
}

func (t *runTrace) end(run *state.Run) {
	if t != nil {
		t.t.End(run)
	}
}

func (t *runTrace) request(r connector.Request) {
	if t == nil {
		return
	}
	masked := connector.Request{At: r.At, Method: r.Method, URL: t.redactor.String(r.URL), Status: r.Status, Latency: r.Latency}
	if r.Error != "" {
		masked.Error = "transport error"
	}
	t.t.Request(masked)
}

// requestLogFor is what a sync's destination logs its requests to: the
// run's request log, and its trace when the run is traced.
func (sr *syncRun) requestLogFor(l *requestLog) connector.RequestLog {
	if sr.trace == nil {
		return l
	}
	return tracedLog{requestLog: l, trace: sr.trace}
}

// tracedLog is a request log that also reports each request to the run's
// trace. Full stays the log's: the trace holds the requests the log saw,
// which bounds a run's trace as the log is bounded.
type tracedLog struct {
	*requestLog
	trace *runTrace
}

func (l tracedLog) LogRequest(r connector.Request) {
	l.requestLog.LogRequest(r)
	l.trace.request(r)
}
