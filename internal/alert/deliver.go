package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
	"github.com/riptide-data/riptide/internal/destination/slack"
	"github.com/riptide-data/riptide/internal/destination/webhook"
	"github.com/riptide-data/riptide/internal/state"
)

// Defaults of a Notifier.
const (
	DefaultQueueSize = 64
	DefaultAttempts  = 4
	DefaultBackoff   = 2 * time.Second
	DefaultTimeout   = 10 * time.Second
	maxBackoff       = time.Minute
	// remembered bounds the runs whose fired rules are remembered, so a
	// run reported twice alerts once without the memory growing forever.
	remembered = 4096
)

// Config configures a Notifier.
type Config struct {
	// History lists a sync's recent runs, newest first (state.Store's
	// ListRuns); the volume rule needs it.
	History func(ctx context.Context, sync string, limit int) ([]*state.Run, error)
	// Logger returns the logger to report delivery failures to; it is
	// asked at each report, so a reload's new logger (with the new
	// project's secrets masked) is used. Default: slog.Default.
	Logger func() *slog.Logger
	// QueueSize bounds the runs waiting to be checked; past it a run's
	// alerts are dropped (and the drop logged) rather than block the
	// scheduler (default DefaultQueueSize).
	QueueSize int
	// Attempts is how many times one alert is sent to one target before
	// giving up; Backoff is the first wait between attempts, doubled
	// after each (defaults DefaultAttempts, DefaultBackoff).
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one request (default DefaultTimeout).
	Timeout time.Duration
	// Sleep waits between attempts (default: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Notifier checks finished runs against their sync's rules and delivers
// the alerts on its own goroutine. Create it with New; Close it to
// deliver what is queued before the process exits.
type Notifier struct {
	cfg    Config
	client *http.Client
	queue  chan job
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	base   atomic.Pointer[string]

	mu     sync.Mutex
	closed bool
	fired  map[string]bool // run id + rule
	order  []string        // keys of fired, oldest first
}

type job struct {
	rules *config.Alerts
	run   state.Run
	// alert, when set, is an alert already found (a stream's), sent as is.
	alert *Alert
}

// New starts a Notifier.
func New(cfg Config) *Notifier {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		cfg: cfg,
		client: &http.Client{
			Timeout: cfg.Timeout,
			// An alert goes where it was configured to, not where a
			// redirect points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		queue: make(chan job, cfg.QueueSize), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, fired: map[string]bool{},
	}
	go n.work()
	return n
}

// SetLinkBase sets the base URL of the API that alerts link to (the
// address `riptide serve` listens on); without it links are API paths.
func (n *Notifier) SetLinkBase(base string) {
	base = strings.TrimRight(base, "/")
	n.base.Store(&base)
}

// Notify queues a finished run to be checked against rules. It never
// blocks: when the queue is full the run is dropped and the drop logged.
// It reports whether the run was queued.
func (n *Notifier) Notify(rules *config.Alerts, run *state.Run) bool {
	if rules == nil || len(rules.On) == 0 || run == nil {
		return false
	}
	return n.enqueue(job{rules: rules, run: *run}, "the run's alerts are dropped", "sync", run.Sync, "run", run.ID)
}

// Send queues an alert that is not about a run (a stream sync's) to go to
// rules' targets, if its rule is on. Like Notify it never blocks, and
// reports whether the alert was queued.
func (n *Notifier) Send(rules *config.Alerts, a Alert) bool {
	if !rules.Enabled(a.Rule) {
		return false
	}
	return n.enqueue(job{rules: rules, alert: &a}, "the alert is dropped", "sync", a.Sync, "rule", a.Rule)
}

// enqueue queues j unless the notifier is closed; when the queue is full
// it drops j and logs why with what names it.
func (n *Notifier) enqueue(j job, dropped string, attrs ...any) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	select {
	case n.queue <- j:
		return true
	default:
		n.cfg.Logger().Warn("alert queue full; "+dropped, append(attrs, "queue", cap(n.queue))...)
		return false
	}
}

// Close stops taking runs and delivers the queued ones until ctx ends,
// then abandons what is left (logged).
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return fmt.Errorf("deliver queued alerts: %w", ctx.Err())
	}
}

func (n *Notifier) work() {
	defer close(n.done)
	for j := range n.queue {
		n.check(j)
	}
}

func (n *Notifier) check(j job) {
	if j.alert != nil {
		if n.firstTime(IdempotencyKey(*j.alert)) {
			for i, t := range j.rules.To {
				n.deliver(*j.alert, i, t)
			}
		}
		return
	}
	run := &j.run
	var history []*state.Run
	if j.rules.Enabled(config.AlertVolume) && n.cfg.History != nil {
		// The run itself and unfinished runs may be among the newest.
		h, err := n.cfg.History(n.ctx, run.Sync, j.rules.VolumeWindow+4)
		if err != nil {
			n.cfg.Logger().Warn("alert: cannot read the sync's recent runs; the volume rule is skipped", "sync", run.Sync, "run", run.ID, "err", err)
		}
		history = h
	}
	for _, a := range Evaluate(j.rules, run, history) {
		if !n.firstTime(a.RunID + "\x00" + a.Rule) {
			continue
		}
		for i, t := range j.rules.To {
			n.deliver(a, i, t)
		}
	}
}

// firstTime records that key fired and reports whether it had not before.
func (n *Notifier) firstTime(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fired[key] {
		return false
	}
	n.fired[key] = true
	n.order = append(n.order, key)
	if len(n.order) > remembered {
		delete(n.fired, n.order[0])
		n.order = n.order[1:]
	}
	return true
}

// deliver sends one alert to one target, retrying transient failures.
func (n *Notifier) deliver(a Alert, i int, t config.AlertTarget) {
	target := fmt.Sprintf("%s %d", t.Kind, i+1)
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := n.send(a, t)
		if err == nil {
			n.cfg.Logger().Info("alert sent", "sync", a.Sync, "run", a.RunID, "rule", a.Rule, "target", target)
			return
		}
		retry := retryable(err)
		log := n.cfg.Logger().With("sync", a.Sync, "run", a.RunID, "rule", a.Rule, "target", target, "attempt", attempt, "err", err)
		if !retry || attempt >= n.cfg.Attempts || n.ctx.Err() != nil {
			log.Error("alert not delivered")
			return
		}
		var re *connector.RequestError
		if errors.As(err, &re) && re.RetryAfter > wait {
			wait = min(re.RetryAfter, maxBackoff)
		}
		log.Warn("alert delivery failed; retrying", "wait", wait)
		if n.cfg.Sleep(n.ctx, wait) != nil {
			n.cfg.Logger().Error("alert not delivered: shutting down", "sync", a.Sync, "run", a.RunID, "rule", a.Rule, "target", target)
			return
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (n *Notifier) send(a Alert, t config.AlertTarget) error {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	switch t.Kind {
	case config.AlertToWebhook:
		return n.postWebhook(ctx, a, t)
	case config.AlertToSlack:
		settings := connector.Settings{"token": t.Token, "base_url": t.BaseURL, "timeout": n.cfg.Timeout}
		return slack.PostMessage(ctx, settings, t.Channel, SlackText(a, n.links(a)))
	}
	return &connector.RequestError{Message: fmt.Sprintf("unknown alert target kind %q", t.Kind)}
}

// retryable says whether another attempt may succeed: transport failures,
// timeouts, 429 and 5xx do; refusals do not.
func retryable(err error) bool {
	var re *connector.RequestError
	if errors.As(err, &re) {
		return re.Retryable
	}
	return true
}

// Links are where a person reads more about the run: the run and its row
// errors in the REST API; for a stream's alert, the sync.
type Links struct {
	Run    string `json:"run,omitempty"`
	Errors string `json:"errors,omitempty"`
	Sync   string `json:"sync,omitempty"`
}

func (n *Notifier) links(a Alert) Links {
	base := ""
	if p := n.base.Load(); p != nil {
		base = *p
	}
	if a.RunID == "" {
		return Links{Sync: base + "/api/v1/syncs/" + url.PathEscape(a.Sync)}
	}
	run := base + "/api/v1/runs/" + url.PathEscape(a.RunID)
	return Links{Run: run, Errors: run + "/errors"}
}

// Payload is an alert as the webhook sends it: the envelope of Riptide's
// webhook protocol (sync, run_id, batch, records), so that a receiver of
// the webhook destination takes alerts too, with one insert record whose
// key is "<run id>:<rule>" and whose data is the alert.
type Payload struct {
	Event   string   `json:"event"` // "alert"
	Sync    string   `json:"sync"`
	RunID   string   `json:"run_id"`
	Batch   int      `json:"batch"` // always 0
	Records []Record `json:"records"`
}

// Record is the one record of a Payload.
type Record struct {
	Op   string `json:"op"` // "insert"
	Key  string `json:"key"`
	Data Data   `json:"data"`
}

// Data is the alert itself.
type Data struct {
	Rule            string       `json:"rule"`
	Sync            string       `json:"sync"`
	RunID           string       `json:"run_id"`
	Status          string       `json:"status"`
	Message         string       `json:"message"`
	Error           string       `json:"error,omitempty"`
	Value           float64      `json:"value"`
	Threshold       float64      `json:"threshold"`
	Counts          state.Counts `json:"counts"`
	StartedAt       time.Time    `json:"started_at"`
	FinishedAt      time.Time    `json:"finished_at"`
	DurationSeconds float64      `json:"duration_seconds"`
	Links           Links        `json:"links"`
}

// NewPayload builds the webhook body of an alert.
func NewPayload(a Alert, links Links) Payload {
	return Payload{
		Event: "alert", Sync: a.Sync, RunID: a.RunID,
		Records: []Record{{Op: "insert", Key: recordKey(a), Data: Data{
			Rule: a.Rule, Sync: a.Sync, RunID: a.RunID, Status: a.Status, Message: a.Message, Error: a.Error,
			Value: a.Value, Threshold: a.Threshold, Counts: a.Counts,
			StartedAt: a.StartedAt.UTC(), FinishedAt: a.FinishedAt.UTC(), DurationSeconds: a.Duration.Seconds(),
			Links: links,
		}}},
	}
}

// recordKey is "<run id>:<rule>", or for a stream's alert
// "<sync>:<rule>:<unix ms>".
func recordKey(a Alert) string {
	if a.RunID == "" {
		return fmt.Sprintf("%s:%s:%d", a.Sync, a.Rule, a.FinishedAt.UnixMilli())
	}
	return a.RunID + ":" + a.Rule
}

// IdempotencyKey is the same for every attempt at one alert, so that a
// receiver can drop the copies a retry after a lost answer sends.
func IdempotencyKey(a Alert) string {
	if a.RunID == "" {
		return fmt.Sprintf("alert-%s-%s-%d", a.Sync, a.Rule, a.FinishedAt.UnixMilli())
	}
	return "alert-" + a.RunID + "-" + a.Rule
}

func (n *Notifier) postWebhook(ctx context.Context, a Alert, t config.AlertTarget) error {
	body, err := json.Marshal(NewPayload(a, n.links(a)))
	if err != nil {
		return &connector.RequestError{Message: fmt.Sprintf("encode alert: %v", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return &connector.RequestError{Message: "build the webhook request: invalid URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riptide-alerts")
	req.Header.Set(webhook.HeaderIdempotencyKey, IdempotencyKey(a))
	if t.SigningSecret != "" {
		req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(t.SigningSecret), body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// The URL may carry a token: name the failure, not the address.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to webhook: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return connector.ClassifyHTTP(resp.StatusCode, data, httplog.RetryAfter(resp.Header, time.Now()))
}

// SlackText is an alert as a Slack message.
func SlackText(a Alert, links Links) string {
	if a.RunID == "" {
		return fmt.Sprintf(":rotating_light: *%s* alert for stream sync *%s* (%s): %s\n%s",
			a.Rule, a.Sync, a.Status, a.Message, links.Sync)
	}
	return fmt.Sprintf(":rotating_light: *%s* alert for sync *%s* (run %s, %s): %s\n%s",
		a.Rule, a.Sync, a.RunID, a.Status, a.Message, links.Run)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
