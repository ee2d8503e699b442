package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// Secret values the test project reads from ${VAR}: none may appear in
// any response.
var testEnv = map[string]string{
	"HOOK_KEY":    "hook-key-5f2a9c",
	"SIGNING":     "signing-secret-77e1",
	"API_KEY":     "api-key-0b3d42",
	"STATIC_CODE": "static-code-9911",
}

const projectYAML = `sources:
  warehouse: {type: sqlite, path: warehouse.db}
destinations:
  hook:
    type: webhook
    url: "http://127.0.0.1:9/hook?key=${HOOK_KEY}"
    signing_secret: ${SIGNING}
    headers: {X-Api-Key: "${API_KEY}"}
models:
  customers: {source: warehouse, primary_key: id, sql: "select id, email from customers"}
syncs:
  to_hook:
    model: customers
    destination: hook
    schedule: every 15m
    mapping:
      email: email
      code: {value: "${STATIC_CODE}"}
  manual_hook: {model: customers, destination: hook}
`

// fakeScheduler stands in for the scheduler: it queues nothing, and
// records what it was asked.
type fakeScheduler struct {
	mu       sync.Mutex
	triggers []string
	opts     []TriggerOptions
	reloads  int
	stopped  bool
	depth    int
}

func (f *fakeScheduler) Trigger(ctx context.Context, sync string, opts TriggerOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return "", fmt.Errorf("trigger %s: %w", sync, ErrNotAccepting)
	}
	f.triggers = append(f.triggers, sync)
	f.opts = append(f.opts, opts)
	return fmt.Sprintf("run-%d", len(f.triggers)), nil
}

func (f *fakeScheduler) Next(sync string) (time.Time, bool) {
	if sync == "to_hook" {
		return time.Date(2030, 1, 1, 0, 15, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

func (f *fakeScheduler) Reload(ctx context.Context, p *config.Project) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return fmt.Errorf("reload: %w", ErrNotAccepting)
	}
	f.reloads++
	return nil
}
func (f *fakeScheduler) QueueDepth() int { f.mu.Lock(); defer f.mu.Unlock(); return f.depth }
func (f *fakeScheduler) Running() bool   { f.mu.Lock(); defer f.mu.Unlock(); return !f.stopped }

type bundle struct {
	srv    *Server
	url    string
	store  *state.Store
	sched  *fakeScheduler
	dir    string
	tokens map[string]string // role → token
	spec   *spec
}

func loadProject(dir string) (*config.Project, error) {
	return config.Load(dir, builtin.Specs(), config.WithLookupEnv(func(k string) (string, bool) {
		v, ok := testEnv[k]
		return v, ok
	}))
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(projectYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150)
		INSERT INTO customers SELECT i, 'c' || i || '@example.com' FROM n;`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := &bundle{store: store, sched: &fakeScheduler{}, dir: dir, tokens: map[string]string{}, spec: loadSpec(t)}
	for _, role := range state.Roles {
		tok, err := store.CreateToken(ctx, role+"-token", role)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[role] = tok
	}
	seedRuns(t, store)
	b.srv, err = New(Config{
		Project: p, Store: store, Scheduler: b.sched,
		Plan: func(ctx context.Context, p *config.Project, sync string) (*engine.Result, error) {
			return &engine.Result{Sync: sync, Run: &state.Run{Counts: state.Counts{Rows: 150, Added: 150, Planned: 150}},
				Samples: map[string][]string{"added": {"1", "2"}}}, nil
		},
		Load:    func() (*config.Project, error) { return loadProject(dir) },
		Sources: builtin.Sources(), Destinations: builtin.Destinations(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(b.srv.Handler())
	t.Cleanup(ts.Close)
	b.url = ts.URL
	return b
}

// seedRuns stores three runs of to_hook, the first with row errors and
// requests.
func seedRuns(t *testing.T, store *state.Store) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, st := range []string{state.StatusPartial, state.StatusSucceeded, state.StatusFailed} {
		start := base.Add(time.Duration(i) * time.Hour)
		end := start.Add(3 * time.Second)
		r := &state.Run{ID: fmt.Sprintf("0190-run-%d", i), Sync: "to_hook", Model: "customers", Destination: "hook",
			Status: st, StartedAt: start, FinishedAt: &end, Counts: state.Counts{Rows: 150, Added: 150, Planned: 150, Succeeded: 148, Failed: 2},
			Phases: []state.Phase{{Name: "extract", Seconds: 0.5}}, RowErrors: 3, Requests: 2}
		if st == state.StatusFailed {
			r.Error = "destination refused every batch"
		}
		if err := store.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.AddRowErrors(ctx, "0190-run-0", 0, []state.RowError{
		{Key: "7", Op: "upsert", Phase: "load", Error: "invalid email"},
		{Key: "8", Op: "upsert", Phase: "load", Error: "invalid email"},
		{Key: "9", Phase: "validate", Error: "null primary key"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddRequests(ctx, "0190-run-0", []state.Request{
		{Seq: 0, At: base, Method: "POST", URL: "http://127.0.0.1:9/hook?key=****", Status: 200, LatencyMS: 12.5, RequestBody: "[]", ResponseBody: "ok"},
		{Seq: 1, At: base, Method: "POST", URL: "http://127.0.0.1:9/hook?key=****", Status: 0, Error: "connection refused"},
	}); err != nil {
		t.Fatal(err)
	}
}

// response is an answer, already checked against the OpenAPI document.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e errorBody
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body without code or message: %s", r.body)
	}
	return e.Error.Code
}

// do sends a request with a token ("" for none) and validates the answer
// against the OpenAPI document: its status must be documented for the
// operation and its body must match the schema.
func (b *bundle) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, body: data}
	for _, secret := range testEnv {
		if bytes.Contains(data, []byte(secret)) {
			t.Fatalf("%s %s: response holds a secret: %s", method, path, data)
		}
	}
	for _, tok := range b.tokens {
		if bytes.Contains(data, []byte(tok)) {
			t.Fatalf("%s %s: response holds a token", method, path)
		}
	}
	b.spec.validate(t, req, out)
	return out
}

type spec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc, router: router}
}

func (s *spec) validate(t *testing.T, req *http.Request, resp response) {
	t.Helper()
	if resp.status == http.StatusNotFound && resp.header.Get("Content-Type") == "application/json" {
		// Unknown paths answer not_found too; they have no operation.
		if _, _, err := s.router.FindRoute(req); err != nil {
			return
		}
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in openapi.json: %v", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.status, Header: resp.header, Body: io.NopCloser(bytes.NewReader(resp.body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s → %d does not match openapi.json: %v\nbody: %s", req.Method, req.URL.Path, resp.status, err, resp.body)
	}
}

func connectorRequest(url string, status int) connector.Request {
	return connector.Request{Method: "POST", URL: url, Status: status, Latency: 20 * time.Millisecond}
}
