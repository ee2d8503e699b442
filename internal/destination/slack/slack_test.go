package slack

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
)

// clock is a fake clock shared by the emulator's rate limit and the
// delivery layer: sleeping advances it, so no test waits in real time.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return ctx.Err()
}

func open(t *testing.T, base, token string, extra connector.Settings, target connector.Target) *Destination {
	t.Helper()
	raw := connector.Settings{"token": token, "base_url": base}
	for k, v := range extra {
		raw[k] = v
	}
	if target.Sync == "" {
		target.Sync, target.RunID = "signups", "run-1"
	}
	if target.Mode == "" {
		target.Mode = "insert"
	}
	if target.Object == "" {
		target.Object = "#general"
	}
	d, err := newDestination(spec().WithDefaults(raw), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func row(key, text string) connector.Record {
	return connector.Record{Op: connector.OpInsert, Key: key, Fields: []connector.FieldValue{{Name: "text", Value: text}}}
}

// deliver runs records through the delivery layer with the spec's policy
// (batch_size from the settings, as the engine does) and returns the failed
// records' keys with their messages.
func deliver(t *testing.T, d *Destination, c *clock, batchSize int, recs ...connector.Record) (map[string]string, delivery.Stats, error) {
	t.Helper()
	in := make(chan delivery.Item, len(recs))
	for i, r := range recs {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	if batchSize > 0 {
		p.BatchSize = batchSize
	}
	p.Sleep, p.Now = c.Sleep, c.Now
	failed := map[string]string{}
	stats, err := delivery.Deliver(t.Context(), d, p, in, func(r delivery.Result) error {
		for i, msg := range r.Failed {
			failed[r.Items[i].Record.Key] = msg
		}
		return nil
	})
	return failed, stats, err
}

func TestSyncScenarios(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		settings    connector.Settings
		target      connector.Target
		batchSize   int
		statuses    []int
		codes       []string
		revoke      bool
		records     []connector.Record
		wantTexts   []string
		wantBlocks  int
		wantFailed  map[string]string // key → part of the message
		wantLimited int               // 429s from the emulator's own rate limit
		wantRetries int
		wantErr     string
	}{
		{
			name:      "a message per row, paced to one per second without a 429",
			records:   []connector.Record{row("1", "New signup: a@x.io"), row("2", "New signup: b@x.io"), row("3", "New signup: c@x.io")},
			wantTexts: []string{"New signup: a@x.io", "New signup: b@x.io", "New signup: c@x.io"},
		},
		{
			name:   "blocks mapped as a JSON array",
			target: connector.Target{Fields: []string{"text", "blocks"}},
			records: []connector.Record{{Op: connector.OpUpsert, Key: "1", Fields: []connector.FieldValue{
				{Name: "text", Value: "fallback"}, {Name: "blocks", Value: `[{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]`}}}},
			wantTexts:  []string{"fallback"},
			wantBlocks: 1,
		},
		{
			name: "an empty text or malformed blocks is a row error, the rest post",
			records: []connector.Record{row("1", " "), row("2", "ok"),
				{Op: connector.OpInsert, Key: "3", Fields: []connector.FieldValue{{Name: "text", Value: "x"}, {Name: "blocks", Value: "{not json"}}}},
			wantTexts:  []string{"ok"},
			wantFailed: map[string]string{"1": "no message text", "3": "JSON array of Block Kit blocks"},
		},
		{
			name:       "an unknown channel fails the message's row",
			target:     connector.Target{Object: "#nowhere"},
			records:    []connector.Record{row("1", "lost")},
			wantFailed: map[string]string{"1": "slack: channel_not_found"},
		},
		{
			name:      "a digest lists the batch's rows in one message",
			settings:  connector.Settings{"digest": true, "batch_size": 2},
			batchSize: 2,
			records:   []connector.Record{row("1", "a@x.io\nsigned up"), row("2", "b@x.io"), row("3", "c@x.io")},
			wantTexts: []string{"*signups*: 2 new or changed rows\n• a@x.io signed up\n• b@x.io", "*signups*: 1 new or changed row\n• c@x.io"},
		},
		{
			name:       "a refused digest fails all its rows",
			settings:   connector.Settings{"digest": true, "batch_size": 50},
			batchSize:  50,
			codes:      []string{"is_archived"},
			records:    []connector.Record{row("1", "a"), row("2", "b")},
			wantFailed: map[string]string{"1": "is_archived", "2": "is_archived"},
		},
		{
			name:      "a digest over 40,000 characters is split",
			settings:  connector.Settings{"digest": true, "batch_size": 2},
			batchSize: 2,
			records:   []connector.Record{row("1", strings.Repeat("a", 30000)), row("2", strings.Repeat("b", 30000))},
			wantTexts: []string{"*signups*: 1 new or changed row\n• " + strings.Repeat("a", 30000), "*signups*: 1 new or changed row\n• " + strings.Repeat("b", 30000)},
		},
		{
			name:        "429 with Retry-After is retried",
			statuses:    []int{429},
			records:     []connector.Record{row("1", "hi")},
			wantTexts:   []string{"hi"},
			wantRetries: 1,
		},
		{
			name:        "ratelimited and fatal_error under a 200 are retried",
			codes:       []string{"ratelimited", "fatal_error"},
			records:     []connector.Record{row("1", "hi")},
			wantTexts:   []string{"hi"},
			wantRetries: 2,
		},
		{
			name:        "5xx is retried",
			statuses:    []int{503},
			records:     []connector.Record{row("1", "hi")},
			wantTexts:   []string{"hi"},
			wantRetries: 1,
		},
		{
			name:    "a revoked token stops the run",
			revoke:  true,
			records: []connector.Record{row("1", "hi")},
			wantErr: "token_revoked",
		},
		{
			name:    "invalid_auth stops the run",
			codes:   []string{"invalid_auth"},
			records: []connector.Record{row("1", "hi")},
			wantErr: "invalid_auth",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			s, err := slacktest.New(slacktest.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			s.FailNextStatus(tt.statuses...)
			s.FailNextError(tt.codes...)
			if tt.revoke {
				s.RevokeToken()
			}
			d := open(t, s.URL(), s.Token(), tt.settings, tt.target)
			failed, stats, err := deliver(t, d, c, tt.batchSize, tt.records...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an authentication failure with %q", err, tt.wantErr)
				}
				if len(s.Messages()) != 0 {
					t.Errorf("messages posted after an auth failure: %v", s.Messages())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := s.Messages()
			if len(msgs) != len(tt.wantTexts) {
				t.Fatalf("%d messages posted, want %d: %+v", len(msgs), len(tt.wantTexts), msgs)
			}
			for i, m := range msgs {
				if m.Text != tt.wantTexts[i] || m.Channel != "C0GENERAL" {
					t.Errorf("message %d = %q in %s, want %q in C0GENERAL", i, m.Text, m.Channel, tt.wantTexts[i])
				}
			}
			if tt.wantBlocks > 0 && len(msgs[0].Blocks) != tt.wantBlocks {
				t.Errorf("blocks = %v, want %d", msgs[0].Blocks, tt.wantBlocks)
			}
			if len(failed) != len(tt.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			for k, want := range tt.wantFailed {
				if !strings.Contains(failed[k], want) {
					t.Errorf("failure of %s = %q, want it to contain %q", k, failed[k], want)
				}
			}
			if s.RateLimited() != tt.wantLimited {
				t.Errorf("emulator rate-limited %d requests, want %d", s.RateLimited(), tt.wantLimited)
			}
			if stats.Retries != tt.wantRetries {
				t.Errorf("retries = %d, want %d", stats.Retries, tt.wantRetries)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		target   connector.Target
		want     string
	}{
		{"mirror mode", nil, connector.Target{Mode: "mirror", Object: "#general"}, "mode mirror is not supported"},
		{"no channel", nil, connector.Target{Mode: "insert"}, "object must name the channel"},
		{"no text mapped", nil, connector.Target{Mode: "insert", Object: "#general", Fields: []string{"email"}}, "mapping must set text"},
		{"digest without batch_size", connector.Settings{"digest": true}, connector.Target{Mode: "insert", Object: "#general"}, "digest needs batch_size"},
		{"digest over 50 rows", connector.Settings{"digest": true, "batch_size": 51}, connector.Target{Mode: "insert", Object: "#general"}, "between 2 and 50"},
		{"batch_size without digest", connector.Settings{"batch_size": 10}, connector.Target{Mode: "insert", Object: "#general"}, "needs digest: true"},
		{"blocks in a digest", connector.Settings{"digest": true, "batch_size": 10}, connector.Target{Mode: "insert", Object: "#general", Fields: []string{"text", "blocks"}}, "cannot be mapped in digest mode"},
		{"bad base_url", connector.Settings{"base_url": "slack.com"}, connector.Target{Mode: "insert", Object: "#general"}, "want an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := connector.Settings{"token": "xoxb-1"}
			for k, v := range tt.settings {
				raw[k] = v
			}
			_, err := newDestination(spec().WithDefaults(raw), tt.target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
