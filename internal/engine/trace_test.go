package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

// fakeTracer records what the engine tells a Tracer.
type fakeTracer struct {
	mu     sync.Mutex
	starts []string // "sync run-id dest-type"
	events []string
	reqs   []connector.Request
	ended  []*state.Run
}

func (f *fakeTracer) StartRun(_ context.Context, run *state.Run, destType string) RunTrace {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, run.Sync+" "+run.ID+" "+destType)
	return f
}

func (f *fakeTracer) Phase(name string, start, end time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end.Before(start) {
		name += " (ends before it starts)"
	}
	f.events = append(f.events, name)
}

func (f *fakeTracer) Request(r connector.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
}

func (f *fakeTracer) End(run *state.Run) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, run)
	f.events = append(f.events, "end "+run.Status)
}

// requestingCRM is the fake CRM with a destination that logs one request
// per batch, its URL and bodies holding a secret.
func requestingCRM(b *bundle) {
	inner := b.crm.plugin()
	plugin := inner
	plugin.New = func(ctx context.Context, s connector.Settings, tg connector.Target, dir string) (connector.Destination, error) {
		d, err := inner.New(ctx, s, tg, dir)
		return &loggingWriter{Destination: d, log: tg.Requests}, err
	}
	b.engine.Destinations["crm"] = plugin
}

type loggingWriter struct {
	connector.Destination
	log connector.RequestLog
}

func (w *loggingWriter) Write(ctx context.Context, batch *connector.Batch) error {
	start := time.Now()
	err := w.Destination.Write(ctx, batch)
	w.log.LogRequest(connector.Request{
		At: start, Method: "POST", URL: "https://crm.example.com/v1/hook-s3cret/batch?key=s3cret", Status: 200,
		Latency: time.Since(start), RequestBody: `{"token":"s3cret"}`, ResponseBody: "ok s3cret",
	})
	w.log.LogRequest(connector.Request{At: start, Method: "POST", URL: "https://crm.example.com/v1/x", Error: "dial tcp: s3cret"})
	return err
}

func TestRunsAreTraced(t *testing.T) {
	b := setup(t, sync1("s", config.ModeUpsert))
	b.engine.Redactor = redact.New([]string{"s3cret"})
	tr := &fakeTracer{}
	b.engine.Tracer = tr
	requestingCRM(b)
	b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "team"))

	res := b.run(Options{})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	run := res[0].Run
	if want := []string{"s " + run.ID + " crm"}; !cmp.Equal(tr.starts, want) {
		t.Errorf("runs started: %q, want %q", tr.starts, want)
	}
	if want := []string{"extract", "diff", "load", "commit", "end succeeded"}; !cmp.Equal(tr.events, want) {
		t.Errorf("trace events: %q, want %q", tr.events, want)
	}
	if len(tr.ended) != 1 || tr.ended[0].Counts.Succeeded != 3 {
		t.Errorf("ended with %+v, want the finished run record", tr.ended)
	}
	// Two batches of the fake's two records, two requests each.
	if len(tr.reqs) != 4 {
		t.Fatalf("traced %d requests, want 4", len(tr.reqs))
	}
	for _, r := range tr.reqs {
		if strings.Contains(r.URL+r.RequestBody+r.ResponseBody+r.Error, "s3cret") {
			t.Errorf("a traced request holds the secret: %+v", r)
		}
		if r.RequestBody != "" || r.ResponseBody != "" {
			t.Errorf("a traced request carries bodies: %+v", r)
		}
	}
	// Batches are written two at a time, so their requests interleave:
	// tell them apart by URL, not by order.
	for _, r := range tr.reqs {
		switch r.URL {
		case "https://crm.example.com/v1/hook-****/batch?key=****":
			if r.Status != 200 || r.Error != "" {
				t.Errorf("a request traced as %+v", r)
			}
		case "https://crm.example.com/v1/x":
			if r.Error != "transport error" || r.Status != 0 {
				t.Errorf("a failed request traced as %+v, want a transport error without its text", r)
			}
		default:
			t.Errorf("traced URL = %q, want one of the two, masked as the request log does", r.URL)
		}
	}

	// Plans send nothing and are not traced.
	tr.starts, tr.events = nil, nil
	if _, err := b.engine.Plan(context.Background(), []string{"s"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(tr.starts) != 0 || len(tr.events) != 0 {
		t.Errorf("a plan was traced: %q %q", tr.starts, tr.events)
	}
}

func TestFailedRunTraceEnds(t *testing.T) {
	b := setup(t, sync1("s", config.ModeUpsert))
	tr := &fakeTracer{}
	b.engine.Tracer = tr
	b.crm.status = []int{401}
	b.users(row(1, "a@x", "free"))
	res := b.run(Options{})
	if res[0].Run.Status != state.StatusFailed {
		t.Fatalf("status %s, want failed", res[0].Run.Status)
	}
	if len(tr.ended) != 1 || tr.ended[0].Error == "" {
		t.Fatalf("ended %+v, want the failed run with its error", tr.ended)
	}
}
