// Package intercom is the Intercom destination: it writes contacts
// through the REST API (version 2.11), matched by external_id or email.
// Intercom has no batch contacts endpoint, so every Write carries one
// record: a search on the identifier (POST /contacts/search), then an
// update (PUT /contacts/{id}) of the contact found or a create (POST
// /contacts); mirror archives removed contacts (POST
// /contacts/{id}/archive). The delivery layer rate-limits (Intercom's
// per-app quota, spread over 10-second windows) and retries; this package
// maps records to contact bodies and Intercom's answers to outcomes.
package intercom

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

const (
	// DefaultBaseURL is the US region's API root; EU workspaces use
	// https://api.eu.intercom.io and Australian ones
	// https://api.au.intercom.io.
	DefaultBaseURL = "https://api.intercom.io"
	// APIVersion is the Intercom-Version every request pins, so a change
	// of the workspace's default version cannot change the answers.
	APIVersion = "2.11"
	// DefaultPerMinute is Intercom's documented default quota per app:
	// 10,000 requests a minute, enforced per 10-second window.
	DefaultPerMinute = 10000
	// requestsPerWrite is what one Write costs at most: the search and
	// the create, update or archive.
	requestsPerWrite = 2
)

// Identifiers a sync may match contacts by.
const (
	IDExternalID = "external_id"
	IDEmail      = "email"
)

// Plugin returns the Intercom destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "intercom",
		Summary: "Create, update and archive (mirror) Intercom contacts, users or leads, matched by external_id or email",
		Objects: []connector.Object{
			{Name: "contacts", Identifiers: []string{IDExternalID, IDEmail}, DefaultIdentifier: IDExternalID, Doc: "The default and only object (contact is accepted too)."},
		},
		Fields: []connector.Field{
			{Name: "access_token", Kind: connector.KindString, Required: true, Secret: true, Doc: "The app's access token, sent as a Bearer token."},
			{Name: "base_url", Kind: connector.KindString, Default: DefaultBaseURL, Doc: "The API root: https://api.intercom.io (US), https://api.eu.intercom.io (EU) or https://api.au.intercom.io (Australia), or an emulator (riptide's intercomtest)."},
			{Name: "role", Kind: connector.KindString, Default: "user", Doc: "The role of contacts created: user or lead."},
			{Name: "requests_per_minute", Kind: connector.KindInt, Default: DefaultPerMinute, Doc: "The app's quota of requests a minute (Intercom's default is 10,000); it is kept per 10-second window, as Intercom enforces it."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 8, Doc: "Records in flight at once (each is one search and one write)."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			// One record per Write: Intercom has no batch contacts
			// endpoint, and one record per Write keeps the delivery
			// layer's retries, splits and windows exact.
			BatchSize:   1,
			Concurrency: 8,
			Windows:     windows(DefaultPerMinute),
		},
		Modes: []string{"insert", "update", "upsert", "mirror"},
	}
}

// windows converts a per-minute request quota into the Writes allowed per
// 10-second window: Intercom spreads the minute's quota over six windows,
// and each Write spends up to two requests.
func windows(perMinute int) []connector.RateWindow {
	n := perMinute / 6 / requestsPerWrite
	if n < 1 {
		n = 1
	}
	return []connector.RateWindow{{Requests: n, Per: 10 * time.Second}}
}

// Destination writes one sync's run to Intercom contacts.
type Destination struct {
	*api
	role       string
	mode       string
	identifier string
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
	role := settings.String("role")
	if role == "" {
		role = "user"
	}
	if role != "user" && role != "lead" {
		return nil, fmt.Errorf("intercom: role must be user or lead, not %q", role)
	}
	if o := target.Object; o != "" && o != "contacts" && o != "contact" {
		return nil, fmt.Errorf("intercom: sync %s: object must be contacts (or unset), not %q", target.Sync, o)
	}
	identifier := IDExternalID
	switch len(target.Identifier) {
	case 0:
	case 1:
		identifier = target.Identifier[0]
	default:
		return nil, fmt.Errorf("intercom: sync %s: identifier must be one of external_id, email, not %d fields", target.Sync, len(target.Identifier))
	}
	if identifier != IDExternalID && identifier != IDEmail {
		return nil, fmt.Errorf("intercom: sync %s: identifier must be external_id or email, not %q", target.Sync, identifier)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, identifier) {
		return nil, fmt.Errorf("intercom: sync %s: the mapping must set the identifier field %s", target.Sync, identifier)
	}
	perMinute := settings.Int("requests_per_minute")
	if perMinute <= 0 {
		return nil, fmt.Errorf("intercom: requests_per_minute must be positive")
	}
	return &Destination{
		api:        a,
		role:       role,
		mode:       target.Mode,
		identifier: identifier,
		windows:    windows(perMinute),
	}, nil
}

// RateWindows are the Writes per 10 seconds the settings allow; the
// delivery layer keeps them.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
