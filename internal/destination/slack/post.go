package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/riptide-data/riptide/internal/connector"
)

// PostMessage posts one text message to a channel through the same Web API
// client the destination uses (chat.postMessage, the bot token as a Bearer
// header), for callers outside a sync such as `riptide serve`'s alerts.
// settings hold token and optionally base_url and timeout; missing ones
// take the spec's defaults.
//
// A refused message (channel_not_found, not_in_channel, …) and a bad token
// come back as a *connector.RequestError that is not Retryable; rate
// limits and faults on Slack's side as a Retryable one; a transport
// failure as a plain error.
func PostMessage(ctx context.Context, settings connector.Settings, channel, text string) error {
	full := connector.Settings{}
	for _, f := range spec().Fields {
		if f.Default != nil {
			full[f.Name] = f.Default
		}
	}
	for k, v := range settings {
		if v != nil && v != "" {
			full[k] = v
		}
	}
	channel = strings.TrimSpace(channel)
	if channel == "" {
		return errors.New("slack: post message: no channel given")
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("slack: post message: the text is empty")
	}
	if n := utf8.RuneCountInString(text); n > MaxText {
		return fmt.Errorf("slack: post message: the text is %d characters, over Slack's %d-character limit", n, MaxText)
	}
	a, err := newAPI(full, nil)
	if err != nil {
		return err
	}
	defer a.client.CloseIdleConnections()
	d := &Destination{api: a, channel: channel}
	err = d.post(ctx, d.body(text, nil))
	var se *slackError
	if errors.As(err, &se) {
		return &connector.RequestError{Message: se.Error()}
	}
	return err
}
