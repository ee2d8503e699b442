// Package customerio is the Customer.io destination: it writes people
// through the Track API v2 batch endpoint as identify entries, identified
// by id or email, and deletes removed people (mirror) with delete entries
// in the same request, authenticated with the workspace's site ID and
// Track API key. The delivery layer batches (by count and by the 500 KB
// request limit), rate-limits (the Track API's fair-use 100 requests per
// second) and retries; this package maps records to batch entries and
// Customer.io's answers to per-row outcomes.
package customerio

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

// Documented limits of the Track API: a batch request up to 500 KB, each
// entry up to 32 KB, and a fair-use rate of about 100 requests per second.
const (
	MaxBatchBytes = 500 * 1000
	MaxEntryBytes = 32 * 1000
	DefaultPerSec = 100
	// batchSize bounds entries per request; the byte limit usually binds
	// first.
	batchSize = 1000
	// DefaultBaseURL is the US region's Track API root; the EU region's is
	// https://track-eu.customer.io.
	DefaultBaseURL = "https://track.customer.io"
)

// Identifiers a sync may match people by.
const (
	IDID    = "id"
	IDEmail = "email"
)

// Plugin returns the Customer.io destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "customerio",
		Summary: "Create and update Customer.io people and delete them (mirror) through the Track API v2 batch endpoint",
		Objects: []connector.Object{
			{Name: "people", Identifiers: []string{IDID, IDEmail}, DefaultIdentifier: IDID, Doc: "The default and only object (person is accepted too)."},
		},
		Fields: []connector.Field{
			{Name: "site_id", Kind: connector.KindString, Required: true, Doc: "The workspace's Track API site ID, sent as the Basic auth user."},
			{Name: "api_key", Kind: connector.KindString, Required: true, Secret: true, Doc: "The workspace's Track API key, sent as the Basic auth password."},
			{Name: "base_url", Kind: connector.KindString, Default: DefaultBaseURL, Doc: "The Track API root: https://track.customer.io (US) or https://track-eu.customer.io (EU), or an emulator (riptide's customeriotest)."},
			{Name: "requests_per_sec", Kind: connector.KindInt, Default: DefaultPerSec, Doc: "Requests per second: Customer.io's fair-use limit for the Track API is about 100."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 4, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:     batchSize,
			MaxBatchBytes: MaxBatchBytes - envelopeSlack,
			Concurrency:   4,
			Windows:       windows(DefaultPerSec),
		},
		// Not update: identify creates a person that does not exist, and
		// the Track API has no update-only flag, so an update mode would
		// create people it promises to leave alone.
		Modes: []string{"upsert", "mirror"},
	}
}

// envelopeSlack is room left in MaxBatchBytes for what the delivery
// layer's size estimate does not count: each entry's type, identifiers and
// action, and the batch envelope.
const envelopeSlack = 100 * 1000

func windows(perSec int) []connector.RateWindow {
	return []connector.RateWindow{{Requests: perSec, Per: time.Second}}
}

// Destination writes one sync's run to Customer.io people.
type Destination struct {
	client     *http.Client
	base       string
	siteID     string
	key        string
	identifier string
	windows    []connector.RateWindow
	now        func() time.Time // reads an HTTP-date Retry-After against it
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	site, key := settings.String("site_id"), settings.String("api_key")
	if site == "" || key == "" {
		return nil, fmt.Errorf("customerio: site_id and api_key are required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("customerio: base_url %q: want the Track API root, an http or https URL with a host", base)
	}
	if o := target.Object; o != "" && o != "people" && o != "person" {
		return nil, fmt.Errorf("customerio: sync %s: object must be people (or unset), not %q", target.Sync, o)
	}
	if target.Mode == "update" {
		return nil, fmt.Errorf("customerio: sync %s: mode update is not supported: Customer.io's identify creates people that do not exist; use upsert or mirror", target.Sync)
	}
	identifier := IDID
	switch len(target.Identifier) {
	case 0:
	case 1:
		identifier = target.Identifier[0]
	default:
		return nil, fmt.Errorf("customerio: sync %s: identifier must be one of id, email, not %d fields", target.Sync, len(target.Identifier))
	}
	if identifier != IDID && identifier != IDEmail {
		return nil, fmt.Errorf("customerio: sync %s: identifier must be id or email, not %q", target.Sync, identifier)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, identifier) {
		return nil, fmt.Errorf("customerio: sync %s: the mapping must set the identifier field %s", target.Sync, identifier)
	}
	perSec := settings.Int("requests_per_sec")
	if perSec <= 0 {
		return nil, fmt.Errorf("customerio: requests_per_sec must be positive")
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("customerio: timeout must not be negative")
	}
	return &Destination{
		client:     httplog.NewClient(settings.Duration("timeout"), target.Requests),
		base:       base,
		siteID:     site,
		key:        key,
		identifier: identifier,
		windows:    windows(perSec),
		now:        time.Now,
	}, nil
}

// RateWindows are the requests per second the settings allow; the
// delivery layer keeps them.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
