package streamsync

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/stream"
)

// Stream states, as Status reports them.
const (
	StateStarting  = "starting"  // opening the stream, or its first batch run
	StateFollowing = "following" // delivering changes as they commit
	StateStandby   = "standby"   // another process follows the sync
	StateRetrying  = "retrying"  // failed; starts again after a backoff
)

// Status is where one stream sync stands.
type Status struct {
	Sync  string    `json:"sync"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
	Slot  string    `json:"slot,omitempty"`
	// Exact is true when changes are delivered change by change.
	Exact  bool     `json:"exact"`
	Tables []string `json:"tables,omitempty"`
	// Error is why the stream last failed (while retrying).
	Error    string `json:"error,omitempty"`
	Restarts int    `json:"restarts"`
	// SlotLagBytes is the write-ahead log the slot holds that the stream
	// has not yet read into the change queue, as last measured; -1 before
	// the first measurement.
	SlotLagBytes int64 `json:"slot_lag_bytes"`
	// QueueDepth is how many changes (distinct keys) wait in the sync's
	// change queue for the destination, as last measured.
	QueueDepth int64 `json:"queue_depth"`
}

// SupervisorConfig configures a Supervisor.
type SupervisorConfig struct {
	// Logger returns the logger in use (a reload may replace it).
	Logger func() *slog.Logger
	// OnRun is told of each batch run a stream starts.
	OnRun func(*engine.Result)
	// OnStatus is told of every change of a stream's status and of each
	// lag measurement, from the stream's goroutine: it must not block.
	OnStatus func(Status)
	// MinBackoff and MaxBackoff bound the wait before a failed stream
	// starts again, doubled after each failure in a row (defaults 1 s and
	// 1 min); a stream held by another process is retried every
	// MinBackoff × 5.
	MinBackoff, MaxBackoff time.Duration
	// LagInterval is how often each slot's lag is measured (default 15 s).
	LagInterval time.Duration
	// Debounce and MaxDelay are Config's.
	Debounce, MaxDelay time.Duration
	// StatusInterval is Config's.
	StatusInterval time.Duration
}

// Supervisor keeps a project's stream syncs running: each follows its
// tables on a goroutine of its own, is started again after a failure, and
// has its slot's lag measured, also while it is down.
type Supervisor struct {
	cfg SupervisorConfig

	mu      sync.Mutex
	streams map[string]*supervised
	stopped bool
}

type supervised struct {
	fingerprint string
	cancel      context.CancelFunc
	done        chan struct{}

	mu     sync.Mutex
	status Status
}

// NewSupervisor makes a Supervisor; Apply starts its streams.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default
	}
	if cfg.OnRun == nil {
		cfg.OnRun = func(*engine.Result) {}
	}
	if cfg.OnStatus == nil {
		cfg.OnStatus = func(Status) {}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.LagInterval <= 0 {
		cfg.LagInterval = 15 * time.Second
	}
	return &Supervisor{cfg: cfg, streams: map[string]*supervised{}}
}

// Apply makes the supervisor follow the stream syncs of e's project:
// streams of syncs that no longer stream, or whose sync, model, source or
// destination changed, stop; new ones start on e. The streams outlive ctx
// only until Stop.
func (s *Supervisor) Apply(ctx context.Context, e *engine.Engine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	want := map[string]string{}
	for name, sy := range e.Project.Syncs {
		if sy.Schedule.Kind == config.ScheduleStream {
			want[name] = fingerprint(e.Project, sy)
		}
	}
	for name, sv := range s.streams {
		if fp, ok := want[name]; !ok || fp != sv.fingerprint {
			sv.cancel()
			<-sv.done
			delete(s.streams, name)
		}
	}
	for name, fp := range want {
		if _, ok := s.streams[name]; ok {
			continue
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		sv := &supervised{fingerprint: fp, cancel: cancel, done: make(chan struct{}),
			status: Status{Sync: name, State: StateStarting, Since: time.Now(), SlotLagBytes: -1}}
		s.streams[name] = sv
		go s.run(sctx, e, name, sv)
	}
}

// Stop stops every stream and waits for them: what they delivered is
// acknowledged, what they had not is streamed again next time.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	s.stopped = true
	streams := s.streams
	s.streams = map[string]*supervised{}
	s.mu.Unlock()
	for _, sv := range streams {
		sv.cancel()
	}
	for _, sv := range streams {
		<-sv.done
	}
}

// Status is a stream sync's status; ok is false for a sync that does not
// stream.
func (s *Supervisor) Status(sync string) (Status, bool) {
	s.mu.Lock()
	sv, ok := s.streams[sync]
	s.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	st := sv.status
	st.Tables = slices.Clone(st.Tables)
	return st, true
}

// All is every stream sync's status, by sync name.
func (s *Supervisor) All() []Status {
	s.mu.Lock()
	names := make([]string, 0, len(s.streams))
	for name := range s.streams {
		names = append(names, name)
	}
	s.mu.Unlock()
	slices.Sort(names)
	var out []Status
	for _, n := range names {
		if st, ok := s.Status(n); ok {
			out = append(out, st)
		}
	}
	return out
}

func (sv *supervised) update(s *Supervisor, fn func(*Status)) {
	sv.mu.Lock()
	fn(&sv.status)
	st := sv.status
	sv.mu.Unlock()
	s.cfg.OnStatus(st)
}

func (s *Supervisor) setState(sv *supervised, state string, fn func(*Status)) {
	sv.update(s, func(st *Status) {
		if st.State != state {
			st.State, st.Since = state, time.Now()
		}
		if fn != nil {
			fn(st)
		}
	})
}

// run follows one sync until ctx ends, starting it again after failures.
func (s *Supervisor) run(ctx context.Context, e *engine.Engine, name string, sv *supervised) {
	defer close(sv.done)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		s.measureLag(ctx, e, name, sv)
	}()
	defer func() { <-lagDone }()
	backoff := s.cfg.MinBackoff
	for ctx.Err() == nil {
		started := time.Now()
		s.setState(sv, StateStarting, nil)
		err := Follow(ctx, Config{
			Engine: e, Sync: name, Logger: s.cfg.Logger(),
			Debounce: s.cfg.Debounce, MaxDelay: s.cfg.MaxDelay, StatusInterval: s.cfg.StatusInterval,
			Runs: func(results []*engine.Result) error {
				for _, r := range results {
					s.cfg.OnRun(r)
				}
				return nil
			},
			Following: func(f Following) {
				s.setState(sv, StateFollowing, func(st *Status) {
					st.Slot, st.Exact, st.Tables, st.Error = f.Slot, f.Exact, f.Tables, ""
				})
				s.cfg.Logger().Info("stream sync "+f.String(), "sync", name)
			},
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the stream ended")
		}
		wait := backoff
		if errors.Is(err, stream.ErrSlotInUse) {
			// Another process follows the sync (the slot admits one
			// reader): this one stands by to take over.
			s.setState(sv, StateStandby, func(st *Status) { st.Error = "" })
			s.cfg.Logger().Debug("stream sync followed by another process", "sync", name)
			wait = 5 * s.cfg.MinBackoff
		} else {
			if time.Since(started) > s.cfg.MaxBackoff {
				// It ran well for a while: this failure is a new one.
				backoff, wait = s.cfg.MinBackoff, s.cfg.MinBackoff
			}
			msg := e.Redactor.Error(err)
			s.setState(sv, StateRetrying, func(st *Status) { st.Error = msg; st.Restarts++ })
			s.cfg.Logger().Error("stream sync failed; starting it again", "sync", name, "error", msg, "in", wait)
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// measureLag measures the sync's slot lag and queue depth every
// LagInterval.
func (s *Supervisor) measureLag(ctx context.Context, e *engine.Engine, name string, sv *supervised) {
	sy := e.Project.Syncs[name]
	url := e.Project.Sources[e.Project.Models[sy.Model].Source].Settings.String("url")
	slot, err := SlotName(url, name)
	if err != nil {
		return
	}
	t := time.NewTicker(s.cfg.LagInterval)
	defer t.Stop()
	for {
		mctx, cancel := context.WithTimeout(ctx, s.cfg.LagInterval)
		lag, ok, err := stream.SlotLag(mctx, url, slot)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.cfg.Logger().Warn("measure stream slot lag", "sync", name, "error", e.Redactor.Error(err))
		case ok:
			sv.update(s, func(st *Status) { st.Slot, st.SlotLagBytes = slot, lag })
		}
		if e.Store != nil {
			if n, err := e.StreamQueueLen(ctx, name); err == nil {
				sv.update(s, func(st *Status) { st.QueueDepth = n })
			} else if ctx.Err() == nil {
				s.cfg.Logger().Warn("measure stream queue depth", "sync", name, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fingerprint is what a stream sync depends on: a change to any of it
// restarts the stream.
func fingerprint(p *config.Project, sy *config.Sync) string {
	m := p.Models[sy.Model]
	var src *config.Source
	if m != nil {
		src = p.Sources[m.Source]
	}
	b, _ := json.Marshal([]any{sy, m, src, p.Destinations[sy.Destination]})
	return string(b)
}
