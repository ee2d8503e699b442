package server

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// Metrics are the figures /metrics shows, in a registry of their own so
// that several servers (tests) do not share counters.
type Metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	rows        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	requests    *prometheus.HistogramVec
	waits       *prometheus.CounterVec
	waitSeconds *prometheus.CounterVec
	streamUp    *prometheus.GaugeVec
	streamLag   *prometheus.GaugeVec
	streamQueue *prometheus.GaugeVec
	restarts    *prometheus.CounterVec
	depthOnce   sync.Once

	mu           sync.Mutex
	seenRestarts map[string]int
}

// NewMetrics makes the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riptide_runs_total", Help: "Finished runs by sync and status (succeeded, partial, failed).",
		}, []string{"sync", "status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riptide_rows_total",
			Help: "Rows of finished runs by sync and outcome: what the diff found (added, changed, removed, unchanged, rejected, skipped) and what delivery did (succeeded, failed).",
		}, []string{"sync", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "riptide_run_duration_seconds", Help: "Duration of finished runs.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12), // 50ms to ~3h
		}, []string{"sync", "status"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riptide_destination_request_duration_seconds",
			Help:    "Latency of requests destinations made, by host and status code (\"error\" when no response came).",
			Buckets: prometheus.DefBuckets,
		}, []string{"host", "code"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riptide_delivery_waits_total",
			Help: "Waits of the delivery layer by sync and kind: retry (a backoff before sending a batch again, so one per retry) and rate_limit (a wait for the destination's rate limit).",
		}, []string{"sync", "kind"}),
		waitSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riptide_delivery_wait_seconds_total", Help: "Time spent in delivery waits, by sync and kind (retry, rate_limit).",
		}, []string{"sync", "kind"}),
		streamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riptide_stream_up", Help: "1 while a stream sync follows its tables in this process, else 0.",
		}, []string{"sync"}),
		streamLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riptide_stream_slot_lag_bytes",
			Help: "Write-ahead log a stream sync's replication slot holds that the stream has not yet read into its change queue (the disk it keeps on the database server).",
		}, []string{"sync"}),
		streamQueue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riptide_stream_queue_depth", Help: "Changes (distinct keys) waiting in a stream sync's change queue for the destination.",
		}, []string{"sync"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riptide_stream_restarts_total", Help: "Times a stream sync failed and was started again.",
		}, []string{"sync"}),
		seenRestarts: map[string]int{},
	}
	m.reg.MustRegister(m.runs, m.rows, m.duration, m.requests, m.waits, m.waitSeconds, m.streamUp, m.streamLag, m.streamQueue, m.restarts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// queueDepth registers the scheduler's queue depth, once.
func (m *Metrics) queueDepth(f func() int) {
	m.depthOnce.Do(func() {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "riptide_queue_depth", Help: "Runs queued and waiting to start.",
		}, func() float64 { return float64(f()) }))
	})
}

// ObserveRun counts a finished run.
func (m *Metrics) ObserveRun(r *state.Run) {
	if r == nil || r.Status == state.StatusQueued || r.Status == state.StatusRunning {
		return
	}
	m.runs.WithLabelValues(r.Sync, r.Status).Inc()
	c := r.Counts
	for outcome, n := range map[string]uint64{
		"added": c.Added, "changed": c.Changed, "removed": c.Removed, "unchanged": c.Unchanged,
		"rejected": c.Rejected, "skipped": c.Skipped, "succeeded": c.Succeeded, "failed": c.Failed,
	} {
		m.rows.WithLabelValues(r.Sync, outcome).Add(float64(n))
	}
	if r.FinishedAt != nil {
		m.duration.WithLabelValues(r.Sync, r.Status).Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
	}
}

// ObserveRequest counts a request a destination made. Only the URL's host
// is kept: paths and queries may carry identifiers or keys.
func (m *Metrics) ObserveRequest(r connector.Request) {
	host := "unknown"
	if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
		host = u.Host
	}
	code := "error"
	if r.Status > 0 {
		code = strconv.Itoa(r.Status)
	}
	m.requests.WithLabelValues(host, code).Observe(r.Latency.Seconds())
}

// ObserveWait counts a delivery wait of d: kind is retry or rate_limit.
func (m *Metrics) ObserveWait(sync, kind string, d time.Duration) {
	m.waits.WithLabelValues(sync, kind).Inc()
	m.waitSeconds.WithLabelValues(sync, kind).Add(d.Seconds())
}

// ObserveStream records a stream sync's status: whether it follows, its
// slot's lag (lag < 0: not measured yet) and its restarts so far.
func (m *Metrics) ObserveStream(st streamsync.Status) {
	sync := st.Sync
	up := 0.0
	if st.State == streamsync.StateFollowing {
		up = 1
	}
	m.streamUp.WithLabelValues(sync).Set(up)
	if st.SlotLagBytes >= 0 {
		m.streamLag.WithLabelValues(sync).Set(float64(st.SlotLagBytes))
	}
	m.streamQueue.WithLabelValues(sync).Set(float64(st.QueueDepth))
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := st.Restarts - m.seenRestarts[sync]; n > 0 {
		m.restarts.WithLabelValues(sync).Add(float64(n))
	}
	m.seenRestarts[sync] = st.Restarts
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
