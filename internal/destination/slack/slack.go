// Package slack is the Slack destination: it posts messages to one channel
// (the sync's object) through the Web API's chat.postMessage method,
// authenticated with a bot token. By default each added or changed row
// becomes one message whose text is the mapping's text field (usually a
// {template: …} mapping rendered per row by the transform); with digest
// set, each batch of rows becomes one message listing them. The delivery
// layer paces requests to Slack's one message per second per channel and
// retries; this package builds the messages and maps Slack's answers
// (HTTP 200 with {"ok": false, "error": …}) to outcomes.
package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Limits of chat.postMessage.
const (
	// MaxText is the most characters of text Slack keeps in one message;
	// it truncates longer messages or refuses them with msg_too_long.
	MaxText = 40000
	// MaxDigestRows is the most rows one digest message lists.
	MaxDigestRows = 50
	// TextField is the mapped field holding a row's message text.
	TextField = "text"
	// BlocksField is the optional mapped field holding a row's Block Kit
	// blocks as a JSON array (per-row messages only).
	BlocksField = "blocks"
)

// Plugin returns the Slack destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "slack",
		Summary: "Post a message per added or changed row (or a digest per batch) to a Slack channel through the Web API's chat.postMessage",
		Objects: []connector.Object{
			{Name: "<channel id or #name>", Doc: "A channel ID (C0123456789) or name (#signups); required. No identifier: a message matches nothing."},
		},
		Fields: []connector.Field{
			{Name: "token", Kind: connector.KindString, Required: true, Secret: true, Doc: "A bot token (xoxb-…) with the chat:write scope, sent as a Bearer token. The bot must be a member of the channel. Listing channels (riptide discover, validate --connect) also needs channels:read and groups:read."},
			{Name: "base_url", Kind: connector.KindString, Default: "https://slack.com", Doc: "The Web API's base URL; methods are posted to {base_url}/api/<method>. Change it for a proxy or an emulator (riptide's slacktest)."},
			{Name: "digest", Kind: connector.KindBool, Default: false, Doc: "Post one message per batch listing its rows (one line per row: the row's text) instead of one message per row. Needs batch_size."},
			{Name: "batch_size", Kind: connector.KindInt, Doc: fmt.Sprintf("Digest mode only: rows listed per digest message, 2 to %d. Without digest each row is its own message and batch_size must be unset or 1.", MaxDigestRows)},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   1,
			Concurrency: 1,
			// chat.postMessage allows about one message per second per
			// channel; a sync posts to one channel, so one request per
			// second is the whole budget. Slack tolerates short bursts but
			// promises nothing for them, so riptide never bursts.
			Windows: []connector.RateWindow{{Requests: 1, Per: time.Second}},
		},
		Modes: []string{"upsert", "insert"},
	}
}

// Destination writes one sync's run to one Slack channel.
type Destination struct {
	*api
	channel string
	sync    string
	digest  bool
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	a, err := newAPI(settings, target.Requests)
	if err != nil {
		return nil, err
	}
	d := &Destination{api: a, sync: target.Sync, digest: settings.Bool("digest")}
	d.channel = strings.TrimSpace(target.Object)
	if d.channel == "" {
		return nil, fmt.Errorf("slack: sync %s: object must name the channel (an ID such as C0123456789, or #name)", target.Sync)
	}
	switch target.Mode {
	case "upsert", "insert":
	default:
		return nil, fmt.Errorf("slack: sync %s: mode %s is not supported: a posted message is never updated or deleted; use insert or upsert", target.Sync, target.Mode)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, TextField) {
		return nil, fmt.Errorf("slack: sync %s: the mapping must set %s (the message text, e.g. text: {template: \"New signup: {{ .email }}\"})", target.Sync, TextField)
	}
	if d.digest && slices.Contains(target.Fields, BlocksField) {
		return nil, fmt.Errorf("slack: sync %s: %s cannot be mapped in digest mode: a digest lists rows as text", target.Sync, BlocksField)
	}
	switch n := settings.Int("batch_size"); {
	case d.digest && (n < 2 || n > MaxDigestRows):
		return nil, fmt.Errorf("slack: digest needs batch_size between 2 and %d (the rows per digest message), not %d", MaxDigestRows, n)
	case !d.digest && n > 1:
		return nil, fmt.Errorf("slack: batch_size %d needs digest: true; without it each row is its own message", n)
	}
	return d, nil
}

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
