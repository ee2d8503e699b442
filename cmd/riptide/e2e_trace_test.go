package main

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// otlpReceiver is an OTLP/HTTP trace endpoint on 127.0.0.1: it decodes
// each protobuf ExportTraceServiceRequest and keeps its spans with their
// resources.
type otlpReceiver struct {
	URL string
	mu  sync.Mutex
	// spans holds every received span; resources the attributes of the
	// resources they came with.
	spans     []*tracepb.Span
	resources [][]*commonpb.KeyValue
	bad       []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &otlpReceiver{URL: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(rcv.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rcv
}

func (rcv *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		rcv.mu.Lock()
		rcv.bad = append(rcv.bad, msg)
		rcv.mu.Unlock()
		http.Error(w, msg, status)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		fail(http.StatusNotFound, r.Method+" "+r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		fail(http.StatusUnsupportedMediaType, "content type "+ct)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		fail(http.StatusBadRequest, "decode: "+err.Error())
		return
	}
	rcv.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				rcv.spans = append(rcv.spans, s)
				rcv.resources = append(rcv.resources, rs.GetResource().GetAttributes())
			}
		}
	}
	rcv.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (rcv *otlpReceiver) received() ([]*tracepb.Span, [][]*commonpb.KeyValue, []string) {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]*tracepb.Span(nil), rcv.spans...), append([][]*commonpb.KeyValue(nil), rcv.resources...), rcv.bad
}

// spanAttrs flattens a span's attributes to strings.
func spanAttrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = fmt.Sprint(v.GetBoolValue())
		default:
			out[kv.GetKey()] = v.String()
		}
	}
	return out
}

// traceProject is hookProject with the webhook's URL written out, its
// last path segment a secret, so that the request spans show host and
// path with that segment masked.
const traceProject = `
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  hook:
    type: webhook
    url: %s/ingest/${HOOK_PATH_TOKEN}
    batch_size: 4
    signing_secret: ${HOOK_SECRET}
models:
  users:
    source: warehouse
    primary_key: id
    sql: select id, email, plan from users
syncs:
  users_to_hook:
    model: users
    destination: hook
    mapping:
      email: email
      plan_name: plan
`

const pathToken = "p4th-t0ken-9f8e7d"

func traceSetup(t *testing.T) (*proj, *webhooktest.Server, *otlpReceiver) {
	t.Helper()
	hook := webhooktest.New(webhooktest.WithSecret(secret))
	t.Cleanup(hook.Close)
	rcv := newOTLPReceiver(t)
	p := newProj(t, fmt.Sprintf(traceProject, hook.URL()))
	p.env = []string{"HOOK_PATH_TOKEN=" + pathToken, "HOOK_SECRET=" + secret}
	p.sql(`CREATE TABLE users (id INTEGER, email VARCHAR, plan VARCHAR)`,
		`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'free' FROM range(1, 11) t(i)`)
	return p, hook, rcv
}

// TestE2ETraces runs a sync with OTEL_EXPORTER_OTLP_ENDPOINT pointing at
// an in-process OTLP receiver and checks the trace it got: the run span
// with its sync, run id, model, destination type, status and counts; its
// phases and each request to the webhook as its children; and no secret
// anywhere in it.
func TestE2ETraces(t *testing.T) {
	t.Parallel()
	p, hook, rcv := traceSetup(t)
	p.env = append(p.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL, "OTEL_SERVICE_NAME=riptide-e2e")
	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.Succeeded != 10 {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	if n := hook.RequestCount(); n != 3 {
		t.Fatalf("the webhook got %d requests, want 3 (10 rows in batches of 4)", n)
	}
	// The run exits only after its spans were exported.
	spans, resources, bad := rcv.received()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %q", bad)
	}
	checkRunTrace(t, spans, v.ID, 3)
	for i, res := range resources {
		if got := spanAttrs(res)["service.name"]; got != "riptide-e2e" {
			t.Fatalf("span %d: service.name %q, want OTEL_SERVICE_NAME's riptide-e2e", i, got)
		}
	}
	noSecrets(t, spans, resources)
}

// checkRunTrace finds the run's span and checks it and its children.
func checkRunTrace(t *testing.T, spans []*tracepb.Span, runID string, requests int) {
	t.Helper()
	var run *tracepb.Span
	for _, s := range spans {
		if s.GetName() == "run users_to_hook" && spanAttrs(s.GetAttributes())["riptide.run.id"] == runID {
			run = s
		}
	}
	if run == nil {
		t.Fatalf("no span of run %s among %d spans", runID, len(spans))
	}
	if len(run.GetParentSpanId()) != 0 {
		t.Error("the run span has a parent")
	}
	ra := spanAttrs(run.GetAttributes())
	for k, want := range map[string]string{
		"riptide.sync": "users_to_hook", "riptide.model": "users", "riptide.destination": "hook",
		"riptide.destination.type": "webhook", "riptide.run.status": "succeeded",
		"riptide.rows.extracted": "10", "riptide.rows.added": "10", "riptide.rows.succeeded": "10",
		"riptide.rows.failed": "0", "riptide.requests": fmt.Sprint(requests),
	} {
		if ra[k] != want {
			t.Errorf("run span %s = %q, want %q", k, ra[k], want)
		}
	}
	if run.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_OK {
		t.Errorf("run span status %v, want OK", run.GetStatus())
	}

	var phases []string
	var reqs []*tracepb.Span
	for _, s := range spans {
		if string(s.GetParentSpanId()) != string(run.GetSpanId()) {
			continue
		}
		if string(s.GetTraceId()) != string(run.GetTraceId()) {
			t.Errorf("child %q is in trace %s, not the run's", s.GetName(), hex.EncodeToString(s.GetTraceId()))
		}
		if s.GetStartTimeUnixNano() < run.GetStartTimeUnixNano() || s.GetEndTimeUnixNano() > run.GetEndTimeUnixNano() {
			t.Errorf("child %q lies outside the run span's time", s.GetName())
		}
		if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT {
			reqs = append(reqs, s)
		} else {
			phases = append(phases, s.GetName())
		}
	}
	if got := strings.Join(phases, ","); got != "extract,diff,load,commit" {
		t.Errorf("phase spans %q, want extract,diff,load,commit", got)
	}
	if len(reqs) != requests {
		t.Fatalf("%d request spans under the run, want %d", len(reqs), requests)
	}
	for _, s := range reqs {
		a := spanAttrs(s.GetAttributes())
		if s.GetName() != "POST" || a["http.request.method"] != "POST" || a["server.address"] != "127.0.0.1" ||
			a["url.path"] != "/ingest/****" || a["http.response.status_code"] != "200" || a["server.port"] == "" {
			t.Errorf("request span %q: %v", s.GetName(), a)
		}
		if s.GetEndTimeUnixNano() <= s.GetStartTimeUnixNano() {
			t.Errorf("request span lasts %d ns", s.GetEndTimeUnixNano()-s.GetStartTimeUnixNano())
		}
	}
}

// noSecrets fails when a secret appears in any span's name, attributes,
// events or status, or in a resource.
func noSecrets(t *testing.T, spans []*tracepb.Span, resources [][]*commonpb.KeyValue) {
	t.Helper()
	var all []string
	for _, s := range spans {
		b, _ := json.Marshal(spanAttrs(s.GetAttributes()))
		all = append(all, s.GetName(), string(b), s.GetStatus().GetMessage())
		for _, e := range s.GetEvents() {
			eb, _ := json.Marshal(spanAttrs(e.GetAttributes()))
			all = append(all, e.GetName(), string(eb))
		}
	}
	for _, res := range resources {
		b, _ := json.Marshal(spanAttrs(res))
		all = append(all, string(b))
	}
	text := strings.Join(all, "\n")
	for _, s := range []string{secret, pathToken} {
		if strings.Contains(text, s) {
			t.Errorf("the secret %q appears in the exported spans", s)
		}
	}
}

// TestE2EServeTraces serves the project with --otlp-endpoint, triggers a
// run through the API, stops the server with SIGTERM and checks that the
// run's trace was exported on the way out.
func TestE2EServeTraces(t *testing.T) {
	t.Parallel()
	p, _, rcv := traceSetup(t)
	key := "RIPTIDE_SECRET_KEY=" + strings.Repeat("7a", 32)
	p.env = append(p.env, key)
	r := p.riptide("tokens", "create", "--role", "editor", "--name", "ci", "--json")
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil {
		t.Fatalf("tokens create: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	cmd := exec.Command(riptideBin(t), "-p", p.dir, "serve", "--addr", "127.0.0.1:0", "--otlp-endpoint", rcv.URL)
	cmd.Env = append(os.Environ(), p.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing; logs:\n%s", logs.String())
	}
	_, base, _ := strings.Cut(sc.Text(), "listening on ")
	go io.Copy(io.Discard, stdout)

	call := func(method, path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+created["token"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, err)
		}
		return out
	}
	id, _ := call("POST", "/api/v1/syncs/users_to_hook/runs")["id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		run := call("GET", "/api/v1/runs/"+id)
		if run["status"] == "succeeded" {
			break
		}
		if run["status"] == "failed" || time.Now().After(deadline) {
			t.Fatalf("run %s: %v\nlogs:\n%s", id, run, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\nlogs:\n%s", err, logs.String())
	}
	spans, resources, bad := rcv.received()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %q", bad)
	}
	checkRunTrace(t, spans, id, 3)
	noSecrets(t, spans, resources)
}

// TestE2EBadOTLPEndpoint: a malformed endpoint is a configuration error
// that names the setting, before anything runs.
func TestE2EBadOTLPEndpoint(t *testing.T) {
	t.Parallel()
	p, hook, _ := traceSetup(t)
	p.env = append(p.env, "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318")
	r := p.riptide("run", "users_to_hook")
	if r.code != exitInvalid || !strings.Contains(r.stderr, `OTEL_EXPORTER_OTLP_ENDPOINT "collector:4318": want an http:// or https:// URL`) {
		t.Fatalf("run with a bad endpoint: exit %d\n%s", r.code, r.stderr)
	}
	if hook.RequestCount() != 0 {
		t.Error("the run went ahead")
	}
}
