package telemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/state"
)

func recorder(t *testing.T) (*Runs, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return NewRuns(tp), rec
}

func attrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	out := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

func TestRunSpans(t *testing.T) {
	runs, rec := recorder(t)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	run := &state.Run{ID: "run-1", Sync: "users_to_crm", Model: "users", Destination: "crm", StartedAt: start, Status: state.StatusRunning}
	rt := runs.StartRun(context.Background(), run, "webhook")

	rt.Phase("extract", start.Add(time.Millisecond), start.Add(20*time.Millisecond))
	rt.Request(connector.Request{At: start.Add(30 * time.Millisecond), Method: "POST", URL: "https://hooks.example.com:8443/ingest/****?token=****", Status: 200, Latency: 15 * time.Millisecond})
	rt.Request(connector.Request{At: start.Add(50 * time.Millisecond), Method: "POST", URL: "https://hooks.example.com:8443/ingest", Status: 429, Latency: time.Millisecond})
	rt.Request(connector.Request{At: start.Add(60 * time.Millisecond), Method: "POST", URL: "https://hooks.example.com/ingest", Latency: 2 * time.Millisecond, Error: "transport error"})
	run.Status = state.StatusPartial
	run.Counts = state.Counts{Rows: 10, Added: 4, Changed: 1, Unchanged: 5, Planned: 5, Succeeded: 4, Failed: 1}
	run.Requests = 3
	rt.End(run)

	spans := rec.Ended()
	if len(spans) != 5 {
		t.Fatalf("got %d spans, want 5 (run, extract, 3 requests)", len(spans))
	}
	root := spans[4]
	if root.Name() != "run users_to_crm" || root.Parent().IsValid() {
		t.Fatalf("last ended span = %q (parent %v), want the root run span", root.Name(), root.Parent())
	}
	if !root.StartTime().Equal(start) {
		t.Errorf("run span starts %v, want the run's start %v", root.StartTime(), start)
	}
	ra := attrs(root)
	for k, want := range map[string]any{
		AttrSync: "users_to_crm", AttrRunID: "run-1", AttrModel: "users", AttrDestination: "crm",
		AttrDestinationType: "webhook", AttrStatus: "partial", AttrFullResync: false,
		"riptide.rows.extracted": int64(10), "riptide.rows.succeeded": int64(4), "riptide.rows.failed": int64(1),
		AttrRequests: int64(3),
	} {
		if got := ra[k].AsInterface(); got != want {
			t.Errorf("run span %s = %v, want %v", k, got, want)
		}
	}
	if root.Status().Code != codes.Error || root.Status().Description != "1 rows failed" {
		t.Errorf("partial run's status = %+v, want an error saying 1 rows failed", root.Status())
	}

	for _, s := range spans[:4] {
		if s.Parent().SpanID() != root.SpanContext().SpanID() || s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %q is not a child of the run span", s.Name())
		}
		if s.EndTime().After(root.EndTime()) {
			t.Errorf("span %q ends after the run span", s.Name())
		}
	}
	ex := spans[0]
	if ex.Name() != "extract" || !ex.StartTime().Equal(start.Add(time.Millisecond)) || !ex.EndTime().Equal(start.Add(20*time.Millisecond)) {
		t.Errorf("phase span = %q %v–%v, want extract over its own times", ex.Name(), ex.StartTime(), ex.EndTime())
	}

	cases := []struct {
		span       sdktrace.ReadOnlySpan
		start, end time.Time
		want       map[string]any
		status     codes.Code
	}{
		{spans[1], start.Add(30 * time.Millisecond), start.Add(45 * time.Millisecond), map[string]any{
			"http.request.method": "POST", "server.address": "hooks.example.com", "server.port": int64(8443),
			"url.scheme": "https", "url.path": "/ingest/****", "http.response.status_code": int64(200),
		}, codes.Unset},
		{spans[2], start.Add(50 * time.Millisecond), start.Add(51 * time.Millisecond), map[string]any{
			"http.response.status_code": int64(429), "error.type": "429",
		}, codes.Error},
		{spans[3], start.Add(60 * time.Millisecond), start.Add(62 * time.Millisecond), map[string]any{
			"server.address": "hooks.example.com", "error.type": "transport",
		}, codes.Error},
	}
	for i, c := range cases {
		s := c.span
		if s.Name() != "POST" || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("request %d: span %q kind %v, want POST, client", i, s.Name(), s.SpanKind())
		}
		if !s.StartTime().Equal(c.start) || !s.EndTime().Equal(c.end) {
			t.Errorf("request %d: %v–%v, want %v–%v (sent, then its latency)", i, s.StartTime(), s.EndTime(), c.start, c.end)
		}
		got := attrs(s)
		for k, want := range c.want {
			if got[k].AsInterface() != want {
				t.Errorf("request %d: %s = %v, want %v", i, k, got[k].AsInterface(), want)
			}
		}
		for k, v := range got {
			if strings.Contains(v.Emit(), "token") || strings.HasPrefix(k, "url.query") || k == "url.full" {
				t.Errorf("request %d: %s = %q carries the query", i, k, v.Emit())
			}
		}
		if s.Status().Code != c.status {
			t.Errorf("request %d: status %v, want %v", i, s.Status().Code, c.status)
		}
	}
	if _, ok := attrs(spans[3])["http.response.status_code"]; ok {
		t.Error("a request without a response has a status code attribute")
	}
}

func TestFailedRunSpanCarriesTheMaskedError(t *testing.T) {
	runs, rec := recorder(t)
	run := &state.Run{ID: "r", Sync: "s", StartedAt: time.Now()}
	rt := runs.StartRun(context.Background(), run, "hubspot")
	run.Status, run.Error = state.StatusFailed, "destination hubspot: 401 (token ****)"
	rt.End(run)
	s := rec.Ended()[0]
	if s.Status().Code != codes.Error || s.Status().Description != run.Error {
		t.Errorf("status = %+v, want the run's error", s.Status())
	}
}

func TestRunSpanIsAChildOfTheCallersSpan(t *testing.T) {
	runs, rec := recorder(t)
	ctx, parent := runs.tracer.Start(context.Background(), "scheduler")
	run := &state.Run{ID: "r", Sync: "s", StartedAt: time.Now(), Status: state.StatusSucceeded}
	runs.StartRun(ctx, run, "webhook").End(run)
	parent.End()
	s := rec.Ended()[0]
	if s.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the run span does not continue the caller's trace")
	}
	if s.Status().Code != codes.Ok {
		t.Errorf("succeeded run's status = %v, want Ok", s.Status().Code)
	}
}
