// Package server is the HTTP API of `riptide serve`: a JSON API under
// /api/v1 (described by the OpenAPI document it serves at
// /api/v1/openapi.json), bearer-token access control with roles, an audit
// log, liveness and readiness probes and Prometheus metrics. It reads the
// project and the state store and asks the scheduler for runs; it never
// runs a sync itself.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// Scheduler is what the API needs of the scheduler.
type Scheduler interface {
	// Trigger queues a run of a sync and returns its run ID; a trigger
	// while a run of the sync is already queued returns that run's ID.
	Trigger(ctx context.Context, sync string, opts TriggerOptions) (runID string, err error)
	// Next is when the sync runs next on its schedule; ok is false for a
	// sync that only runs when triggered.
	Next(sync string) (next time.Time, ok bool)
	// Reload makes the scheduler follow a re-read project; on error it
	// keeps the one it had.
	Reload(ctx context.Context, p *config.Project) error
	// QueueDepth is how many runs wait to start.
	QueueDepth() int
	// Running reports whether the scheduler is taking work.
	Running() bool
}

// TriggerOptions modify a triggered run.
type TriggerOptions struct {
	FullResync bool
}

// ErrNotAccepting is what a Scheduler returns (wrapped) when it no longer
// takes work, for instance while shutting down: the API answers 503.
var ErrNotAccepting = errors.New("the scheduler is not taking new runs")

// Planner works out what running a sync would send, sending nothing.
type Planner func(ctx context.Context, p *config.Project, sync string) (*engine.Result, error)

// Loader re-reads the project from its files.
type Loader func() (*config.Project, error)

// Config is what a Server is built from.
type Config struct {
	Project      *config.Project
	Store        *state.Store
	Scheduler    Scheduler
	Plan         Planner
	Load         Loader
	Sources      map[string]connector.SourcePlugin
	Destinations map[string]connector.DestinationPlugin
	// Metrics collects the run and request figures /metrics shows; New
	// makes one when nil.
	Metrics *Metrics
	Logger  *slog.Logger
	// Streams is where each stream sync stands (nil: none is followed).
	Streams func(sync string) (streamsync.Status, bool)
}

// MaxBodyBytes bounds request bodies: the API takes small JSON objects.
const MaxBodyBytes = 1 << 20

// Server serves the API.
type Server struct {
	cfg     Config
	metrics *Metrics
	logger  *slog.Logger

	reloading sync.Mutex
	mu        sync.RWMutex
	project   *config.Project
	redactor  *redact.Redactor
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Project == nil:
		return nil, errors.New("server: no project")
	case cfg.Store == nil:
		return nil, errors.New("server: no state store")
	case cfg.Scheduler == nil:
		return nil, errors.New("server: no scheduler")
	case cfg.Plan == nil || cfg.Load == nil:
		return nil, errors.New("server: a planner and a project loader are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	cfg.Metrics.queueDepth(cfg.Scheduler.QueueDepth)
	return &Server{
		cfg: cfg, metrics: cfg.Metrics, logger: cfg.Logger,
		project: cfg.Project, redactor: redact.New(cfg.Project.Secrets),
	}, nil
}

// Project returns the project the server currently serves.
func (s *Server) Project() *config.Project {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.project
}

func (s *Server) redact() *redact.Redactor {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.redactor
}

// Reload re-reads the project. A project that fails to load leaves the
// running one in place, and the error (with file:line:col) is returned.
func (s *Server) Reload(ctx context.Context) (*config.Project, error) {
	// One reload at a time (SIGHUP and the API may race), so that the
	// scheduler and the API end on the same project.
	s.reloading.Lock()
	defer s.reloading.Unlock()
	p, err := s.cfg.Load()
	if err != nil {
		return nil, &configError{err}
	}
	if err := s.cfg.Scheduler.Reload(ctx, p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.project = p
	s.redactor = redact.New(p.Secrets)
	s.mu.Unlock()
	return p, nil
}

// configError is a project that failed to load.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// HTTPServer returns an http.Server for the API on addr, with timeouts
// that keep slow or idle clients from holding connections: reading headers
// and bodies is bounded tightly, writing loosely since a plan reads the
// whole model before it answers.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      15 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// route is one endpoint: who may call it and whether calls are audited.
type route struct {
	pattern string
	role    string // "" for no token at all
	action  string // audit action; "" for calls not audited
	handle  func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) routes() []route {
	const v = state.RoleViewer
	const e = state.RoleEditor
	const a = state.RoleAdmin
	return []route{
		{"GET /healthz", "", "", s.healthz},
		{"GET /readyz", v, "", s.readyz},
		{"GET /metrics", v, "", s.metricsHandler},
		{"GET /api/v1/openapi.json", v, "", s.openapi},
		{"GET /api/v1/syncs", v, "", s.listSyncs},
		{"GET /api/v1/syncs/{name}", v, "", s.getSync},
		{"POST /api/v1/syncs/{name}/runs", e, "runs.trigger", s.triggerRun},
		{"GET /api/v1/syncs/{name}/plan", e, "syncs.plan", s.planSync},
		{"GET /api/v1/runs", v, "", s.listRuns},
		{"GET /api/v1/runs/{id}", v, "", s.getRun},
		{"GET /api/v1/runs/{id}/errors", v, "", s.runErrors},
		{"GET /api/v1/runs/{id}/requests", v, "", s.runRequests},
		{"GET /api/v1/sources", v, "", s.listSources},
		{"GET /api/v1/sources/{name}", v, "", s.getSource},
		{"GET /api/v1/models", v, "", s.listModels},
		{"GET /api/v1/models/{name}", v, "", s.getModel},
		{"GET /api/v1/models/{name}/preview", v, "", s.previewModel},
		{"GET /api/v1/destinations", v, "", s.listDestinations},
		{"GET /api/v1/destinations/{name}", v, "", s.getDestination},
		{"GET /api/v1/connectors", v, "", s.listConnectors},
		{"POST /api/v1/reload", e, "reload", s.reload},
		{"GET /api/v1/tokens", a, "tokens.list", s.listTokens},
		{"POST /api/v1/tokens", a, "tokens.create", s.createToken},
		{"DELETE /api/v1/tokens/{name}", a, "tokens.revoke", s.revokeToken},
		{"GET /api/v1/audit", a, "audit.read", s.readAudit},
	}
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.wrap(rt))
	}
	// Unknown paths and methods answer in the API's error shape.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.logger, apiErr(http.StatusNotFound, codeNotFound, "no endpoint %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		var who state.Token
		var err error
		if rt.role != "" {
			who, err = s.authenticate(r, rt.role)
		}
		var call *auditCall
		if err == nil || isForbidden(err) {
			if rt.action != "" {
				call = &auditCall{}
				r = r.WithContext(context.WithValue(r.Context(), auditKey{}, call))
			}
		}
		if err == nil {
			err = rt.handle(rec, r)
		}
		if err != nil {
			writeError(rec, s.logger, err)
		}
		if call != nil {
			s.audit(r, who, rt.action, call.target(r), rec.status)
		}
		s.logger.LogAttrs(r.Context(), slog.LevelDebug, "api request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.String("token", who.Name),
			slog.Duration("took", time.Since(start)))
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	checks := map[string]string{"state_store": "ok", "scheduler": "ok"}
	ready := true
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		checks["state_store"] = s.redact().Error(err)
		ready = false
	}
	if !s.cfg.Scheduler.Running() {
		checks["scheduler"] = "not running"
		ready = false
	}
	status, code := "ready", http.StatusOK
	if !ready {
		status, code = "not_ready", http.StatusServiceUnavailable
	}
	return writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Reload(r.Context())
	var ce *configError
	if errors.Is(err, ErrNotAccepting) {
		return apiErr(http.StatusServiceUnavailable, codeUnavailable, "%s", s.redact().Error(err))
	}
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return apiErr(http.StatusUnprocessableEntity, codeInvalidConfig, "%s", s.redact().Error(fmt.Errorf("the project did not reload, the previous configuration stays in use: %w", err)))
	}
	warnings := p.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "syncs": len(p.Syncs), "warnings": warnings})
}
