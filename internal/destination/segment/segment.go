// Package segment is the Segment destination: it sends each record as an
// identify call (traits = the mapping) or, when the sync's object is
// "track:<Event Name>", as a track event (properties = the mapping),
// through the HTTP Tracking API's batch endpoint (POST /v1/batch),
// authenticated with a source's write key. The delivery layer batches
// (by count and by bytes under the 500 KB batch limit), paces and retries;
// this package builds the messages, refuses those over the 32 KB per-call
// limit as row errors, and maps Segment's answers to outcomes.
package segment

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

// Limits of the Tracking API's batch endpoint.
const (
	// MaxBatchBody is the most bytes Segment accepts in one batch request.
	MaxBatchBody = 500 * 1024
	// MaxMessage is the most bytes Segment accepts for one call in a batch.
	MaxMessage = 32 * 1024
	// maxEvents is the most events Segment takes in one batch request.
	maxEvents = 2500
	// batchSize keeps a batch of typical rows well under MaxBatchBody.
	batchSize = 500
	// estimatedBytes bounds a batch by delivery.EstimateSize, which does not
	// count a message's envelope (type, userId, messageId, timestamp,
	// context: about 200 bytes): 500 of them plus escapes fit in the rest.
	estimatedBytes = 360 * 1024
	// DefaultRequestsPerSec paces requests: Segment states no hard rate
	// limit for the Tracking API, and its own libraries still handle 429,
	// so riptide stays modest unless told otherwise.
	DefaultRequestsPerSec = 50
)

// Plugin returns the Segment destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "segment",
		Summary: "Send identify calls (user traits) or track events to a Segment source through the HTTP Tracking API's batch endpoint",
		Objects: []connector.Object{
			{Name: "identify", Identifiers: []string{"<mapped field>"}, Doc: "Identify calls; also the object when the sync names none. Without an identifier the userId is the model's primary key (required for mirror)."},
			{Name: "track:<Event Name>", Identifiers: []string{"<mapped field>"}, Doc: "Track calls of that event. Without an identifier the userId is the model's primary key."},
		},
		Fields: []connector.Field{
			{Name: "write_key", Kind: connector.KindString, Required: true, Secret: true, Doc: "The write key of a Segment HTTP API source, sent as the Basic auth user name with an empty password."},
			{Name: "base_url", Kind: connector.KindString, Default: "https://api.segment.io", Doc: "The Tracking API's base URL: https://eu1.api.segmentapis.com for EU workspaces, a proxy, or an emulator (riptide's segmenttest)."},
			{Name: "delete_trait", Kind: connector.KindString, Doc: "Mirror mode only: the trait set to true by an identify call for each removed row (e.g. deleted). Segment's Tracking API cannot delete a profile; without this setting mirror mode is refused."},
			{Name: "batch_size", Kind: connector.KindInt, Default: batchSize, Doc: "Messages per batch request, at most 2500; batches are also cut to stay under the 500 KB request limit."},
			{Name: "rate_limit", Kind: connector.KindFloat, Default: float64(DefaultRequestsPerSec), Doc: "Batch requests per second at most. Segment states no hard limit for the Tracking API; a 429 it answers is retried after X-RateLimit-Reset."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 4, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:      batchSize,
			MaxBatchBytes:  estimatedBytes,
			Concurrency:    4,
			RequestsPerSec: DefaultRequestsPerSec,
		},
		Modes: []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination writes one sync's run to one Segment source.
type Destination struct {
	client      *http.Client
	base        string
	writeKey    string
	event       string // track event name; "" sends identify calls
	identifier  string // mapped field holding the userId; "" uses the primary key
	deleteTrait string
	runID       string
	sentAt      time.Time // the run's start: the timestamp of every message, so a retried message is identical
	now         func() time.Time
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target, time.Now)
}

func newDestination(settings connector.Settings, target connector.Target, now func() time.Time) (*Destination, error) {
	key := settings.String("write_key")
	if key == "" {
		return nil, fmt.Errorf("segment: write_key is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("segment: base_url %q: want an http or https URL with a host", base)
	}
	d := &Destination{base: base, writeKey: key, runID: target.RunID, now: now, sentAt: now().UTC()}
	switch obj := target.Object; {
	case obj == "" || obj == "identify":
	case strings.HasPrefix(obj, "track:") && strings.TrimSpace(obj[len("track:"):]) != "":
		d.event = strings.TrimSpace(obj[len("track:"):])
	default:
		return nil, fmt.Errorf("segment: sync %s: object must be identify or track:<Event Name>, not %q", target.Sync, obj)
	}
	switch len(target.Identifier) {
	case 0:
	case 1:
		d.identifier = target.Identifier[0]
		if len(target.Fields) > 0 && !slices.Contains(target.Fields, d.identifier) {
			return nil, fmt.Errorf("segment: sync %s: the mapping must set the identifier field %s (the userId)", target.Sync, d.identifier)
		}
	default:
		return nil, fmt.Errorf("segment: sync %s: identifier must be one field, not %d", target.Sync, len(target.Identifier))
	}
	if target.Mode == "mirror" {
		d.deleteTrait = settings.String("delete_trait")
		switch {
		case d.event != "":
			return nil, fmt.Errorf("segment: sync %s: mirror mode cannot apply to track events: a sent event cannot be withdrawn; use upsert or insert", target.Sync)
		case d.deleteTrait == "":
			return nil, fmt.Errorf("segment: sync %s: mirror mode needs delete_trait: Segment's Tracking API cannot delete a profile, so removed rows are sent as an identify setting that trait to true", target.Sync)
		case d.identifier != "":
			// A removed row carries only its primary key, so the userId
			// of a delete must be the primary key.
			return nil, fmt.Errorf("segment: sync %s: mirror mode needs the userId to be the primary key: remove identifier %s", target.Sync, d.identifier)
		}
	}
	switch n := settings.Int("batch_size"); {
	case n < 1 || n > maxEvents:
		return nil, fmt.Errorf("segment: batch_size must be between 1 and %d, not %d", maxEvents, n)
	case settings.Float("rate_limit") < 0:
		return nil, fmt.Errorf("segment: rate_limit must not be negative")
	case settings.Duration("timeout") < 0:
		return nil, fmt.Errorf("segment: timeout must not be negative")
	}
	d.client = httplog.NewClient(settings.Duration("timeout"), target.Requests)
	return d, nil
}

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
