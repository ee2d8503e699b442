// Package iterable is the Iterable destination: it creates and updates
// users through POST /api/users/bulkUpdate, identified by email or userId,
// deletes removed users (mirror) one DELETE request per row because
// Iterable has no bulk user delete, and, for an object list:<listId>,
// subscribes rows to the static list and unsubscribes removed rows
// (mirror) through POST /api/lists/subscribe and /api/lists/unsubscribe.
// The delivery layer batches, rate-limits and retries; this package maps
// records to requests and Iterable's answers to per-row outcomes.
package iterable

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

const (
	// batchSize is the users (or subscribers) sent in one bulk request:
	// the client library's bulk call takes an array without a stated
	// bound, and 1000 keeps a request well under Iterable's request-size
	// limits (see README).
	batchSize = 1000
	// MaxBatchBytes bounds one bulk request's body.
	MaxBatchBytes = 4 << 20
	// DefaultPerSec is the rate for bulkUpdate and list subscribe calls:
	// Iterable limits POST /api/users/bulkUpdate to 5 requests per second
	// per project.
	DefaultPerSec = 5
	// DefaultBaseURL is the US data center's API root; the EU one is
	// https://api.eu.iterable.com.
	DefaultBaseURL = "https://api.iterable.com"
)

// Identifiers a sync may match users by.
const (
	IDEmail  = "email"
	IDUserID = "userId"
)

// Plugin returns the Iterable destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "iterable",
		Summary: "Create and update Iterable users (bulkUpdate), delete them (mirror), or subscribe them to and unsubscribe them from a static list",
		Objects: []connector.Object{
			{Name: "users", Identifiers: []string{IDEmail, IDUserID}, DefaultIdentifier: IDEmail, Doc: "The default object (user is accepted too)."},
			{Name: "list:<listId>", Identifiers: []string{IDEmail, IDUserID}, DefaultIdentifier: IDEmail, Doc: "Subscription to a static list, by its positive numeric id."},
		},
		Fields: []connector.Field{
			{Name: "api_key", Kind: connector.KindString, Required: true, Secret: true, Doc: "A server-side Iterable API key, sent in the Api-Key header."},
			{Name: "base_url", Kind: connector.KindString, Default: DefaultBaseURL, Doc: "The API root: https://api.iterable.com (US) or https://api.eu.iterable.com (EU), or an emulator (riptide's iterabletest)."},
			{Name: "requests_per_sec", Kind: connector.KindInt, Default: DefaultPerSec, Doc: "Batches per second: Iterable allows 5 bulkUpdate requests per second per project."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 2, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:     batchSize,
			MaxBatchBytes: MaxBatchBytes - envelopeSlack,
			Concurrency:   2,
			Windows:       windows(DefaultPerSec),
		},
		// Not update: bulkUpdate creates users that do not exist.
		Modes: []string{"upsert", "mirror"},
	}
}

// envelopeSlack leaves room for what the delivery layer's size estimate
// does not count: identifiers and JSON punctuation per user.
const envelopeSlack = 512 << 10

func windows(perSec int) []connector.RateWindow {
	return []connector.RateWindow{{Requests: perSec, Per: time.Second}}
}

// Destination writes one sync's run to Iterable.
type Destination struct {
	*api
	identifier string
	listID     int  // with list, the static list subscribed to
	list       bool // object list:<id>
	windows    []connector.RateWindow
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
	d := &Destination{api: a, identifier: IDEmail}
	switch o := target.Object; {
	case o == "" || o == "users" || o == "user":
	case strings.HasPrefix(o, "list:"):
		id, err := strconv.Atoi(strings.TrimPrefix(o, "list:"))
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("iterable: sync %s: object %q: want list:<listId> with a positive numeric list id", target.Sync, o)
		}
		d.list, d.listID = true, id
	default:
		return nil, fmt.Errorf("iterable: sync %s: object must be users (or unset) or list:<listId>, not %q", target.Sync, o)
	}
	if target.Mode == "update" {
		return nil, fmt.Errorf("iterable: sync %s: mode update is not supported: bulkUpdate creates users that do not exist; use upsert or mirror", target.Sync)
	}
	switch len(target.Identifier) {
	case 0:
	case 1:
		d.identifier = target.Identifier[0]
	default:
		return nil, fmt.Errorf("iterable: sync %s: identifier must be one of email, userId, not %d fields", target.Sync, len(target.Identifier))
	}
	if d.identifier != IDEmail && d.identifier != IDUserID {
		return nil, fmt.Errorf("iterable: sync %s: identifier must be email or userId, not %q", target.Sync, d.identifier)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, d.identifier) {
		return nil, fmt.Errorf("iterable: sync %s: the mapping must set the identifier field %s", target.Sync, d.identifier)
	}
	perSec := settings.Int("requests_per_sec")
	if perSec <= 0 {
		return nil, fmt.Errorf("iterable: requests_per_sec must be positive")
	}
	d.windows = windows(perSec)
	return d, nil
}

// RateWindows are the batches per second the settings allow; the
// delivery layer keeps them.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
