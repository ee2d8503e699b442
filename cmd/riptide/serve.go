package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/alert"
	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/scheduler"
	"github.com/riptide-data/riptide/internal/server"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/streamsync"
	"github.com/riptide-data/riptide/internal/worker"
)

type serveFlags struct {
	addr            string
	logFormat       string
	shutdownTimeout time.Duration
	otlpEndpoint    string
	workers         int
}

func newServeCmd(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run syncs on their schedules and serve the REST API",
		Long: `Run the project's syncs on their schedules and serve the REST API
(docs/API.md; every endpoint but /healthz needs a token from riptide tokens
create).

With a PostgreSQL state store (--state postgres://…), several serve
processes share the work: runs are jobs of a queue in that database that
every process works, one process at a time schedules, and a run whose
process died is resumed by another.

SIGHUP or POST /api/v1/reload re-reads the project (a broken file keeps the
running configuration). SIGTERM or Ctrl-C stops taking work, lets runs in
flight finish within --shutdown-timeout, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return serve(g, f) },
	}
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (HOST:PORT; port 0 picks a free one)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().DurationVar(&f.shutdownTimeout, "shutdown-timeout", scheduler.DefaultShutdownTimeout, "how long runs in flight may take to finish on shutdown")
	// A process takes as many queued runs as it may run at once, so a
	// larger number lets the first process to poll take every run; one
	// run keeps a core busy, hence the default.
	cmd.Flags().IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "with a PostgreSQL state store: runs this process carries out at once (the others' processes take the rest)")
	addOTLPFlag(cmd, &f.otlpEndpoint)
	return cmd
}

// serveLogger logs in text or JSON, with secrets masked.
func serveLogger(g *globalFlags, format string, r *redact.Redactor) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--log-level %q: use debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("--log-format %q: use text or json", format)}
	}
	return slog.New(redact.NewHandler(h, r)), nil
}

// service is what serve wires together: the engine is rebuilt for every
// project loaded, since it holds the project and its secrets.
type service struct {
	g        *globalFlags
	f        *serveFlags
	store    *state.Store
	stateDir string
	metrics  *server.Metrics
	tracer   engine.Tracer // nil: runs are not traced
	logger   atomic.Pointer[slog.Logger]
	// engine is the engine of the project in use, which the queue's
	// worker runs jobs with (nil without a queue).
	engine atomic.Pointer[engine.Engine]
}

func (sv *service) runner() worker.Runner { return sv.engine.Load() }

// destinationLimit is a sync's destination and its max_concurrent_syncs in
// the project in use, which every worker keeps together.
func (sv *service) destinationLimit(sync string) (string, int) {
	p := sv.engine.Load().Project
	s, ok := p.Syncs[sync]
	if !ok {
		return "", 0
	}
	if d, ok := p.Destinations[s.Destination]; ok {
		return s.Destination, d.MaxConcurrentSyncs
	}
	return s.Destination, 0
}

func (sv *service) engineFor(p *config.Project) (*engine.Engine, error) {
	r := redact.New(p.Secrets)
	logger, err := serveLogger(sv.g, sv.f.logFormat, r)
	if err != nil {
		return nil, err
	}
	sv.logger.Store(logger)
	// Connectors log through the default logger.
	slog.SetDefault(logger)
	return &engine.Engine{
		Project: p, Store: sv.store, StateDir: sv.stateDir,
		Sources: builtin.Sources(), Destinations: builtin.Destinations(),
		Logger: logger, Redactor: r, Sleep: sv.sleep, Tracer: sv.tracer, OnWait: sv.metrics.ObserveWait,
		// Set here: the engine would set a default on each run, and the
		// scheduler runs syncs on one engine concurrently.
		Observer: quietObserver{},
	}, nil
}

// quietObserver ignores progress: serve reports runs through the API,
// logs and metrics, not a progress bar.
type quietObserver struct{}

func (quietObserver) Extracting(string, uint64, bool) {}
func (quietObserver) Loading(string, uint64, uint64)  {}

// sleep is the delivery layer's wait (retry backoffs, rate limits).
func (sv *service) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func serve(g *globalFlags, f *serveFlags) error {
	p, err := loadProject(g)
	if err != nil {
		return err
	}
	if _, err := serveLogger(g, f.logFormat, nil); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, stateDir, err := openState(ctx, g, p.Dir, p.State)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := useSecretKey(store); err != nil {
		return err
	}
	startLogger, _ := serveLogger(g, f.logFormat, redact.New(p.Secrets))
	tracing, flushTraces, err := startTracing(ctx, f.otlpEndpoint, startLogger)
	if err != nil {
		return err
	}
	// Deferred here, it runs once the runs in flight have ended.
	defer flushTraces()
	sv := &service{g: g, f: f, store: store, stateDir: stateDir, metrics: server.NewMetrics(), tracer: tracing.Runs()}
	eng, err := sv.engineFor(p)
	if err != nil {
		return err
	}
	logger := sv.logger.Load()
	engine.SetRequestObserver(sv.metrics.ObserveRequest)
	defer engine.SetRequestObserver(nil)

	sv.engine.Store(eng)

	alerts := newServeAlerts(p, store, sv.logger.Load)
	onFinish := func(r *engine.Result) { sv.metrics.ObserveRun(r.Run); alerts.onFinish(r) }
	var sched *scheduler.Scheduler
	var queue *worker.Queue
	schedCfg := scheduler.Config{
		Project: p, Runner: eng, Store: store, Logger: logger, ShutdownTimeout: f.shutdownTimeout,
		OnFinish: onFinish,
	}
	if store.Shared() {
		// Several processes share the database: runs go through its job
		// queue, which this process works beside the others.
		queue, err = worker.New(ctx, worker.Config{
			Store: store, Runner: sv.runner, Logger: logger, Workers: f.workers, Limit: sv.destinationLimit,
			OnFinish: func(r *engine.Result) {
				onFinish(r)
				sched.Finished(context.Background(), r)
			},
			Review: func(ctx context.Context) error { return sched.ReviewAfter(ctx) },
		})
		if err != nil {
			return err
		}
		schedCfg.Queue = queue
	}
	sched, err = scheduler.New(schedCfg)
	if err != nil {
		return err
	}
	// Stream syncs run beside the scheduler, in every process: a stream's
	// replication slot admits one reader, so with several processes one
	// follows each sync and the others stand by to take over.
	streams := streamsync.NewSupervisor(streamsync.SupervisorConfig{
		Logger: sv.logger.Load, OnRun: onFinish,
		OnStatus: func(st streamsync.Status) {
			sv.metrics.ObserveStream(st)
			alerts.onStream(st)
		},
		MinBackoff:  serveStreamBackoff(),
		LagInterval: serveStreamLagInterval(),
	})
	adapter := &schedulerAdapter{s: sched, sv: sv, alerts: alerts, queue: queue, streams: streams}
	api, err := server.New(server.Config{
		Project: p, Store: store, Scheduler: adapter, Metrics: sv.metrics, Logger: logger,
		Sources: builtin.Sources(), Destinations: builtin.Destinations(),
		Plan: func(ctx context.Context, p *config.Project, sync string) (*engine.Result, error) {
			e, err := sv.engineFor(p)
			if err != nil {
				return nil, err
			}
			res, err := e.Plan(ctx, []string{sync}, engine.Options{})
			if err != nil {
				return nil, err
			}
			return res[0], nil
		},
		Load:    func() (*config.Project, error) { return config.Load(p.Dir, builtin.Specs()) },
		Streams: streams.Status,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return &exitError{code: exitInvalid, err: fmt.Errorf("listen on %s: %w", f.addr, err)}
	}
	// scheduling says whether this process runs the scheduler (with a
	// queue, only while it leads); led reports the end of its leadership
	// (nil: serve stopped).
	var scheduling atomic.Bool
	led := make(chan error, 1)
	if queue == nil {
		if err := sched.Start(ctx); err != nil {
			ln.Close()
			return err
		}
		scheduling.Store(true)
	} else {
		// The queue outlives ctx: Stop drains it at shutdown.
		if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
			ln.Close()
			return err
		}
		go func() {
			led <- queue.Lead(ctx, func() error {
				if err := sched.Start(ctx); err != nil {
					return err
				}
				scheduling.Store(true)
				return nil
			})
		}()
		logger.Info("working the shared queue", "worker", queue.ID())
	}
	streams.Apply(ctx, eng)
	adapter.running.Store(true)
	alerts.notifier.SetLinkBase("http://" + ln.Addr().String())
	httpSrv := api.HTTPServer(f.addr)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	fmt.Printf("riptide serve listening on http://%s\n", ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String(), "syncs", len(p.Syncs))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var failed error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if p, err := api.Reload(ctx); err != nil {
				sv.logger.Load().Error("reload failed; the previous configuration stays in use", "err", err)
			} else {
				sv.logger.Load().Info("reloaded", "syncs", len(p.Syncs))
			}
		case err := <-serveErr:
			failed = fmt.Errorf("serve: %w", err)
			stop()
			break loop
		case err := <-led:
			if err != nil {
				failed = fmt.Errorf("serve: %w", err)
				stop()
				break loop
			}
		}
	}
	// Stop taking work: the scheduler saw ctx end; the API finishes the
	// calls it has, and runs in flight finish within the timeout.
	adapter.running.Store(false)
	logger = sv.logger.Load()
	logger.Info("shutting down", "timeout", f.shutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		logger.Warn("API shutdown", "err", err)
	}
	// Streams stop at once: what they delivered is acknowledged, the rest
	// comes again from their slots at the next start.
	streams.Stop()
	if scheduling.Load() {
		if err := sched.Wait(); err != nil {
			logger.Warn("runs cut short by shutdown", "err", err)
		}
	}
	if queue != nil {
		if err := queue.Stop(f.shutdownTimeout); err != nil {
			logger.Warn("runs cut short by shutdown", "err", err)
		}
	}
	alertCtx, cancelAlerts := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelAlerts()
	if err := alerts.notifier.Close(alertCtx); err != nil {
		logger.Warn("alerts left undelivered at shutdown", "err", err)
	}
	logger.Info("stopped")
	return failed
}

// schedulerAdapter is the scheduler as the API sees it.
type schedulerAdapter struct {
	s       *scheduler.Scheduler
	sv      *service
	alerts  *serveAlerts
	queue   *worker.Queue // nil unless the state store is shared
	streams *streamsync.Supervisor
	running atomic.Bool
}

func (a *schedulerAdapter) Trigger(ctx context.Context, sync string, opts server.TriggerOptions) (string, error) {
	id, err := a.s.Trigger(ctx, sync, engine.Options{FullResync: opts.FullResync})
	if errors.Is(err, scheduler.ErrStopped) {
		return "", fmt.Errorf("%w: %v", server.ErrNotAccepting, err)
	}
	return id, err
}

func (a *schedulerAdapter) Next(sync string) (time.Time, bool) { return a.s.Next(sync) }

// QueueDepth is the scheduler's own queue, or with a shared store the
// runs waiting in the job queue for any process.
func (a *schedulerAdapter) QueueDepth() int {
	if a.queue == nil {
		return a.s.QueueDepth()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := a.queue.Depth(ctx)
	if err != nil {
		a.sv.logger.Load().Warn("read the queue depth", "error", err)
	}
	return n
}

func (a *schedulerAdapter) Running() bool { return a.running.Load() }

func (a *schedulerAdapter) Reload(ctx context.Context, p *config.Project) error {
	eng, err := a.sv.engineFor(p)
	if err != nil {
		return err
	}
	err = a.s.Reload(ctx, p, eng)
	if errors.Is(err, scheduler.ErrStopped) {
		return fmt.Errorf("%w: %v", server.ErrNotAccepting, err)
	}
	if err == nil {
		a.alerts.project.Store(p)
		a.sv.engine.Store(eng)
		a.streams.Apply(ctx, eng)
	}
	return err
}

// serveAlerts checks finished runs against the alert rules of the project
// in use (replaced on reload) and hands what fires to the notifier, which
// delivers on its own goroutine, never the scheduler's.
type serveAlerts struct {
	project  atomic.Pointer[config.Project]
	notifier *alert.Notifier

	mu      sync.Mutex
	streams map[string]*streamAlertState
}

func newServeAlerts(p *config.Project, store *state.Store, logger func() *slog.Logger) *serveAlerts {
	a := &serveAlerts{notifier: alert.New(alert.Config{History: store.ListRuns, Logger: logger})}
	a.project.Store(p)
	return a
}

// onStream sends a stream sync's alerts: failure once when the stream
// fails after following (not at every retry), stream_lag once when the
// slot's lag passes the threshold, again only after it fell below half.
func (a *serveAlerts) onStream(st streamsync.Status) {
	s, ok := a.project.Load().Syncs[st.Sync]
	if !ok || s.Alerts == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.streams == nil {
		a.streams = map[string]*streamAlertState{}
	}
	as := a.streams[st.Sync]
	if as == nil {
		as = &streamAlertState{}
		a.streams[st.Sync] = as
	}
	now := time.Now()
	switch st.State {
	case streamsync.StateFollowing:
		as.down = false
	case streamsync.StateRetrying:
		if !as.down {
			as.down = true
			a.notifier.Send(s.Alerts, alert.StreamAlert(config.AlertFailure, st.Sync, st.State,
				"the stream failed and is being started again: "+st.Error, 0, 0, now))
		}
	}
	if limit := s.Alerts.StreamLagBytes; limit > 0 && st.SlotLagBytes >= 0 {
		lag := uint64(st.SlotLagBytes)
		switch {
		case lag > limit && !as.lagging:
			as.lagging = true
			a.notifier.Send(s.Alerts, alert.StreamAlert(config.AlertStreamLag, st.Sync, st.State,
				fmt.Sprintf("the replication slot %s holds %s of write-ahead log not yet delivered (threshold %s)",
					st.Slot, humanize.IBytes(lag), humanize.IBytes(limit)), float64(lag), float64(limit), now))
		case lag < limit/2:
			as.lagging = false
		}
	}
}

// streamAlertState is what a stream sync's alerts already said.
type streamAlertState struct{ down, lagging bool }

func (a *serveAlerts) onFinish(r *engine.Result) {
	if r == nil || r.Run == nil {
		return
	}
	if s, ok := a.project.Load().Syncs[r.Sync]; ok && s.Alerts != nil {
		a.notifier.Notify(s.Alerts, r.Run)
	}
}

// serveStreamBackoff and serveStreamLagInterval are the supervisor's
// first retry wait and lag measurement interval; tests shorten them
// (RIPTIDE_STREAM_BACKOFF, RIPTIDE_STREAM_LAG_INTERVAL), zero keeps the
// defaults.
func serveStreamBackoff() time.Duration     { return envDuration("RIPTIDE_STREAM_BACKOFF") }
func serveStreamLagInterval() time.Duration { return envDuration("RIPTIDE_STREAM_LAG_INTERVAL") }

func envDuration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil || d < 0 {
		return 0
	}
	return d
}
