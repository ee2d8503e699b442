package telemetry

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// scope names the spans' instrumentation scope.
const scope = "github.com/riptide-data/riptide/internal/engine"

// Attribute keys of a run span. Request spans use the OpenTelemetry HTTP
// client conventions (http.request.method, server.address, url.path,
// http.response.status_code, error.type).
const (
	AttrSync            = "riptide.sync"
	AttrRunID           = "riptide.run.id"
	AttrModel           = "riptide.model"
	AttrDestination     = "riptide.destination"
	AttrDestinationType = "riptide.destination.type"
	AttrFullResync      = "riptide.run.full_resync"
	AttrStatus          = "riptide.run.status"
	AttrPhase           = "riptide.phase"
	// Counts are riptide.rows.<count> (rows, added, changed, …, failed)
	// and riptide.requests.
	attrRows     = "riptide.rows."
	AttrRequests = "riptide.requests"
)

// Runs turns the engine's runs into spans: it is the engine.Tracer that
// Tracing hands out, and tests give it a recording provider.
type Runs struct {
	tracer trace.Tracer
}

// NewRuns traces runs with tp.
func NewRuns(tp trace.TracerProvider) *Runs {
	return &Runs{tracer: tp.Tracer(scope)}
}

var _ engine.Tracer = (*Runs)(nil)

// StartRun opens the run's span, named after its sync, from the run's
// start time; ctx's span, if any, is its parent.
func (r *Runs) StartRun(ctx context.Context, run *state.Run, destinationType string) engine.RunTrace {
	ctx, span := r.tracer.Start(ctx, "run "+run.Sync,
		trace.WithTimestamp(run.StartedAt),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String(AttrSync, run.Sync),
			attribute.String(AttrRunID, run.ID),
			attribute.String(AttrModel, run.Model),
			attribute.String(AttrDestination, run.Destination),
			attribute.String(AttrDestinationType, destinationType),
			attribute.Bool(AttrFullResync, run.FullResync),
		))
	return &runSpan{ctx: ctx, span: span, tracer: r.tracer}
}

// runSpan is one run's span; its phases and requests are its children.
type runSpan struct {
	ctx    context.Context // holds span
	span   trace.Span
	tracer trace.Tracer
}

// Phase records a phase as a child span over the time it took.
func (s *runSpan) Phase(name string, start, end time.Time) {
	_, span := s.tracer.Start(s.ctx, name,
		trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String(AttrPhase, name)))
	span.End(trace.WithTimestamp(end))
}

// Request records a destination request as a client span, after the fact,
// from when it was sent until its response came (or it failed). Only the
// method, the server, the URL's path (masked by the engine) and the
// status go into it: never the query, bodies or headers.
func (s *runSpan) Request(r connector.Request) {
	attrs := []attribute.KeyValue{attribute.String("http.request.method", r.Method)}
	if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
		attrs = append(attrs,
			attribute.String("url.scheme", u.Scheme),
			attribute.String("server.address", u.Hostname()),
			attribute.String("url.path", u.EscapedPath()))
		if p, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
	}
	if r.Status > 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", r.Status))
	}
	var failure string
	switch {
	case r.Status == 0:
		failure = "no response"
		attrs = append(attrs, attribute.String("error.type", "transport"))
	case r.Status >= 400:
		failure = strconv.Itoa(r.Status)
		attrs = append(attrs, attribute.String("error.type", failure))
	}
	_, span := s.tracer.Start(s.ctx, r.Method,
		trace.WithTimestamp(r.At),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	if failure != "" {
		span.SetStatus(codes.Error, failure)
	}
	span.End(trace.WithTimestamp(r.At.Add(r.Latency)))
}

// End closes the run's span with the run's outcome. A failed run's error
// is the engine's, with secrets already masked.
func (s *runSpan) End(run *state.Run) {
	c := run.Counts
	s.span.SetAttributes(
		attribute.String(AttrStatus, run.Status),
		attribute.Int64(attrRows+"extracted", int64(c.Rows)),
		attribute.Int64(attrRows+"added", int64(c.Added)),
		attribute.Int64(attrRows+"changed", int64(c.Changed)),
		attribute.Int64(attrRows+"removed", int64(c.Removed)),
		attribute.Int64(attrRows+"unchanged", int64(c.Unchanged)),
		attribute.Int64(attrRows+"rejected", int64(c.Rejected)),
		attribute.Int64(attrRows+"skipped", int64(c.Skipped)),
		attribute.Int64(attrRows+"planned", int64(c.Planned)),
		attribute.Int64(attrRows+"succeeded", int64(c.Succeeded)),
		attribute.Int64(attrRows+"failed", int64(c.Failed)),
		attribute.Int64(AttrRequests, int64(run.Requests)),
	)
	switch run.Status {
	case state.StatusFailed:
		s.span.SetStatus(codes.Error, run.Error)
	case state.StatusPartial:
		s.span.SetStatus(codes.Error, strconv.FormatUint(c.Failed, 10)+" rows failed")
	default:
		s.span.SetStatus(codes.Ok, "")
	}
	// Now, not run.FinishedAt: the commit phase follows that stamp, and a
	// child span must not outlast its parent.
	s.span.End()
}
