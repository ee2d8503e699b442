package slack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
)

func TestPostMessage(t *testing.T) {
	t.Parallel()
	srv, err := slacktest.New(slacktest.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	settings := connector.Settings{"token": srv.Token(), "base_url": srv.URL()}

	if err := PostMessage(ctx, settings, "#alerts", "sync users failed"); err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "C0ALERTS" || msgs[0].Text != "sync users failed" {
		t.Fatalf("emulator holds %+v, want one message to C0ALERTS", msgs)
	}

	var re *connector.RequestError
	err = PostMessage(ctx, settings, "#nowhere", "hello")
	if !errors.As(err, &re) || re.Retryable || re.Auth || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("unknown channel: %v (%#v), want a final RequestError naming channel_not_found", err, re)
	}
	srv.FailNextError("ratelimited")
	err = PostMessage(ctx, settings, "#alerts", "hello")
	if !errors.As(err, &re) || !re.Retryable {
		t.Errorf("ratelimited: %v, want a retryable RequestError", err)
	}
	bad := connector.Settings{"token": "xoxb-wrong", "base_url": srv.URL()}
	err = PostMessage(ctx, bad, "#alerts", "hello")
	if !errors.As(err, &re) || !re.Auth || strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("wrong token: %v, want an auth RequestError without the token", err)
	}
	for _, tc := range []struct{ channel, text, want string }{
		{"", "x", "no channel"},
		{"#alerts", " ", "text is empty"},
		{"#alerts", strings.Repeat("a", MaxText+1), "over Slack's"},
	} {
		if err := PostMessage(ctx, settings, tc.channel, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PostMessage(%q, %.10q…) = %v, want an error with %q", tc.channel, tc.text, err, tc.want)
		}
	}
	if err := PostMessage(ctx, connector.Settings{"base_url": srv.URL()}, "#alerts", "x"); err == nil || !strings.Contains(err.Error(), "token is required") {
		t.Errorf("no token: %v", err)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("emulator holds %d messages after the refused posts, want 1", got)
	}
}
