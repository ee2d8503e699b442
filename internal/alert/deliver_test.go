package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
	"github.com/riptide-data/riptide/internal/destination/webhook"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/state"
)

const (
	hookSecret = "alert-hook-secret"
	slackToken = "xoxb-alert-test-token"
)

// setup is a notifier whose logs and waits the test reads.
type setup struct {
	n     *Notifier
	logs  *syncBuffer
	mu    sync.Mutex
	waits []time.Duration
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newSetup(t *testing.T, cfg Config) *setup {
	t.Helper()
	s := &setup{logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Logger = func() *slog.Logger { return logger }
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		s.mu.Lock()
		s.waits = append(s.waits, d)
		s.mu.Unlock()
		return ctx.Err()
	}
	s.n = New(cfg)
	s.n.SetLinkBase("http://127.0.0.1:8080/")
	t.Cleanup(func() { s.n.Close(context.Background()) })
	return s
}

// drain delivers everything queued.
func (s *setup) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func failedRun(id string) *state.Run {
	r := run(id, state.StatusFailed, 2*time.Minute, state.Counts{Rows: 10, Planned: 10})
	r.Error = "load: destination answered 401"
	return r
}

func hookTarget(url string) config.AlertTarget {
	return config.AlertTarget{Kind: config.AlertToWebhook, URL: url, SigningSecret: hookSecret}
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	srv := webhooktest.New(webhooktest.WithSecret(hookSecret))
	defer srv.Close()
	s := newSetup(t, Config{})
	rules := &config.Alerts{On: []string{config.AlertFailure, config.AlertSlow}, SlowerThan: time.Minute,
		To: []config.AlertTarget{hookTarget(srv.URL() + "/alerts")}}
	if !s.n.Notify(rules, failedRun("r1")) {
		t.Fatal("Notify refused the run")
	}
	s.n.Notify(rules, failedRun("r1")) // reported twice: alerts once per rule
	s.drain(t)

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the receiver got %d requests, want 2 (failure and slow, once each)", len(reqs))
	}
	for i, rule := range []string{config.AlertFailure, config.AlertSlow} {
		req := reqs[i]
		if req.Status != 200 || req.Path != "/alerts" {
			t.Errorf("request %d: status %d path %s", i, req.Status, req.Path)
		}
		if got, want := req.Header.Get(webhook.HeaderSignature), webhook.Sign([]byte(hookSecret), req.Body); got != want {
			t.Errorf("request %d signature %q, want %q", i, got, want)
		}
		if req.IdempotencyKey != "alert-r1-"+rule || req.Sync != "users" || req.RunID != "r1" || len(req.Records) != 1 {
			t.Fatalf("request %d envelope: key %q sync %q run %q records %d", i, req.IdempotencyKey, req.Sync, req.RunID, len(req.Records))
		}
		rec := req.Records[0]
		if rec.Op != "insert" || rec.Key != "r1:"+rule || rec.Data["rule"] != rule || rec.Data["status"] != "failed" {
			t.Errorf("request %d record: %+v", i, rec)
		}
	}
	var body Payload
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	d := body.Records[0].Data
	if body.Event != "alert" || d.Message != "the run failed: load: destination answered 401" || d.Error != "load: destination answered 401" ||
		d.Counts.Rows != 10 || d.DurationSeconds != 120 || !d.StartedAt.Equal(t0) ||
		d.Links.Run != "http://127.0.0.1:8080/api/v1/runs/r1" || d.Links.Errors != "http://127.0.0.1:8080/api/v1/runs/r1/errors" {
		t.Errorf("payload: %s", reqs[0].Body)
	}
	var slow Payload
	json.Unmarshal(reqs[1].Body, &slow)
	if d := slow.Records[0].Data; d.Value != 120 || d.Threshold != 60 {
		t.Errorf("slow figures: %+v", d)
	}
	if strings.Contains(s.logs.String(), hookSecret) {
		t.Errorf("the signing secret was logged:\n%s", s.logs)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	srv := webhooktest.New(webhooktest.WithSecret(hookSecret))
	defer srv.Close()
	s := newSetup(t, Config{Backoff: time.Second})
	srv.FailNext(1, webhooktest.Failure{Status: 503})
	srv.FailNext(1, webhooktest.Failure{Status: 429, RetryAfter: "5"})
	rules := &config.Alerts{On: []string{config.AlertFailure}, To: []config.AlertTarget{hookTarget(srv.URL())}}
	s.n.Notify(rules, failedRun("r2"))
	s.drain(t)
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[2].Status != 200 {
		t.Fatalf("got %d requests, want 2 refused and a third accepted", len(reqs))
	}
	for _, r := range reqs {
		if r.IdempotencyKey != "alert-r2-failure" {
			t.Errorf("attempt with Idempotency-Key %q, want the same key each time", r.IdempotencyKey)
		}
	}
	// 1s after the 503, then Retry-After's 5s over the doubled 2s.
	if want := []time.Duration{time.Second, 5 * time.Second}; !equalWaits(s.waits, want) {
		t.Errorf("waits %v, want %v", s.waits, want)
	}
	if !strings.Contains(s.logs.String(), "alert delivery failed; retrying") || !strings.Contains(s.logs.String(), "run=r2") {
		t.Errorf("retries not logged with the run:\n%s", s.logs)
	}
}

func equalWaits(got, want []time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	srv := webhooktest.New(webhooktest.WithSecret("another-secret"))
	defer srv.Close()
	s := newSetup(t, Config{Attempts: 3})
	rules := &config.Alerts{On: []string{config.AlertFailure}, To: []config.AlertTarget{
		hookTarget(srv.URL()), // 401: wrong secret, not retried
		hookTarget("http://127.0.0.1:1/hook?token=url-secret"), // nothing listens: retried, then given up
	}}
	s.n.Notify(rules, failedRun("r3"))
	s.drain(t)
	if n := srv.RequestCount(); n != 1 {
		t.Errorf("a refused alert was sent %d times, want 1", n)
	}
	logs := s.logs.String()
	if got := strings.Count(logs, "alert not delivered"); got != 2 {
		t.Errorf("%d give-ups logged, want 2:\n%s", got, logs)
	}
	if len(s.waits) != 2 {
		t.Errorf("waits %v: want two waits for the unreachable target's three attempts", s.waits)
	}
	for _, secret := range []string{"url-secret", hookSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "sync=users") || !strings.Contains(logs, "target=\"webhook 2\"") {
		t.Errorf("logs do not name the sync and the target:\n%s", logs)
	}
}

func TestSlackDelivery(t *testing.T) {
	t.Parallel()
	srv, err := slacktest.New(slacktest.WithToken(slackToken), slacktest.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s := newSetup(t, Config{})
	slackTo := func(channel string) config.AlertTarget {
		return config.AlertTarget{Kind: config.AlertToSlack, Token: slackToken, Channel: channel, BaseURL: srv.URL()}
	}
	rules := &config.Alerts{On: []string{config.AlertRowFailures}, RowFailurePct: 5,
		To: []config.AlertTarget{slackTo("#alerts"), slackTo("#missing")}}
	r := run("r4", state.StatusPartial, time.Minute, state.Counts{Rows: 100, Succeeded: 80, Failed: 20})
	s.n.Notify(rules, r)
	srv.FailNextError("ratelimited") // the first post is retried
	s.drain(t)
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("Slack holds %d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	for _, want := range []string{"*row_failures*", "*users*", "run r4", "20 of 100 rows failed", "http://127.0.0.1:8080/api/v1/runs/r4"} {
		if m.Channel != "C0ALERTS" || !strings.Contains(m.Text, want) {
			t.Errorf("message to %s %q lacks %q", m.Channel, m.Text, want)
		}
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "channel_not_found") || strings.Contains(logs, slackToken) {
		t.Errorf("logs should name the refusal and not the token:\n%s", logs)
	}
}

func TestQueueBounded(t *testing.T) {
	t.Parallel()
	srv := webhooktest.New()
	defer srv.Close()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s := newSetup(t, Config{QueueSize: 1, History: func(ctx context.Context, sync string, limit int) ([]*state.Run, error) {
		started <- struct{}{}
		<-release
		return nil, nil
	}})
	rules := &config.Alerts{On: []string{config.AlertFailure, config.AlertVolume}, VolumeChangePct: 10, VolumeWindow: 3,
		To: []config.AlertTarget{{Kind: config.AlertToWebhook, URL: srv.URL()}}}
	if !s.n.Notify(rules, failedRun("a")) {
		t.Fatal("first run refused")
	}
	<-started // the worker holds run a
	if !s.n.Notify(rules, failedRun("b")) {
		t.Fatal("second run refused with room in the queue")
	}
	done := make(chan bool)
	go func() { done <- s.n.Notify(rules, failedRun("c")) }()
	select {
	case queued := <-done:
		if queued {
			t.Error("a third run was queued past the bound")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a full queue")
	}
	close(release)
	s.drain(t)
	if n := srv.RequestCount(); n != 2 {
		t.Errorf("%d alerts delivered, want 2 (runs a and b)", n)
	}
	if !strings.Contains(s.logs.String(), "alert queue full") {
		t.Errorf("the drop was not logged:\n%s", s.logs)
	}
	if s.n.Notify(rules, failedRun("d")) {
		t.Error("Notify queued a run after Close")
	}
}

func TestStreamAlertDelivery(t *testing.T) {
	t.Parallel()
	srv := webhooktest.New(webhooktest.WithSecret(hookSecret))
	defer srv.Close()
	s := newSetup(t, Config{})
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	rules := &config.Alerts{On: []string{config.AlertStreamLag}, StreamLagBytes: 1 << 20,
		To: []config.AlertTarget{hookTarget(srv.URL() + "/alerts")}}
	lag := StreamAlert(config.AlertStreamLag, "live", "retrying", "the slot holds 2 MiB", 2<<20, 1<<20, at)
	if !s.n.Send(rules, lag) {
		t.Fatal("Send refused an alert whose rule is on")
	}
	s.n.Send(rules, lag) // the same alert twice goes once
	if s.n.Send(rules, StreamAlert(config.AlertFailure, "live", "retrying", "the stream failed", 0, 0, at)) {
		t.Error("Send queued an alert whose rule is off")
	}
	s.drain(t)

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	wantKey := fmt.Sprintf("alert-live-stream_lag-%d", at.UnixMilli())
	if req.Status != 200 || req.IdempotencyKey != wantKey || req.Sync != "live" || req.RunID != "" || len(req.Records) != 1 {
		t.Fatalf("envelope: status %d key %q (want %q) sync %q run %q records %d", req.Status, req.IdempotencyKey, wantKey, req.Sync, req.RunID, len(req.Records))
	}
	rec := req.Records[0]
	links, _ := rec.Data["links"].(map[string]any)
	if rec.Key != fmt.Sprintf("live:stream_lag:%d", at.UnixMilli()) || rec.Data["rule"] != "stream_lag" || fmt.Sprint(rec.Data["value"]) != "2097152" ||
		links["sync"] != "http://127.0.0.1:8080/api/v1/syncs/live" || links["run"] != nil {
		t.Errorf("record: %+v", rec)
	}
	text := SlackText(lag, Links{Sync: "http://x/api/v1/syncs/live"})
	if !strings.Contains(text, "stream sync *live* (retrying): the slot holds 2 MiB") || strings.Contains(text, "run ") {
		t.Errorf("Slack text %q", text)
	}
}
