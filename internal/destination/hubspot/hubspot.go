// Package hubspot is the HubSpot destination: it writes records to CRM v3
// objects (contacts, companies, deals, custom objects) through the batch
// upsert, create, update and archive endpoints, authenticated with a
// private app's access token or a public app's OAuth refresh token. The delivery layer batches (100 inputs),
// rate-limits (per 10 seconds and per day) and retries; this package maps
// records to HubSpot inputs and HubSpot's answers to per-row outcomes.
package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Documented private-app limits of the Free and Starter tiers; higher tiers
// set requests_per_10s and requests_per_day.
const (
	DefaultPer10s = 100
	DefaultPerDay = 250_000
	maxInputs     = 100
)

// Plugin returns the HubSpot destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "hubspot",
		Summary: "Upsert, create, update and archive HubSpot CRM records (contacts, companies, deals, custom objects)",
		Objects: []connector.Object{
			{Name: "contacts", Identifiers: []string{"email", "hs_object_id"}, DefaultIdentifier: "email", Doc: "Or any contact property with unique values."},
			{Name: "companies", Identifiers: []string{"domain", "hs_object_id"}, DefaultIdentifier: "domain", Doc: "Or any company property with unique values."},
			{Name: "deals", Identifiers: []string{"hs_object_id"}, Doc: "Or any deal property with unique values; the sync must name one."},
			{Name: "<custom object type id>", Doc: "A custom object such as 2-123456; identifier: hs_object_id or a property with unique values, which the sync must name."},
		},
		Fields: []connector.Field{
			{Name: "access_token", Kind: connector.KindString, Secret: true, Doc: "A private app's access token, sent as Authorization: Bearer. Set either this or client_id, client_secret and refresh_token."},
			{Name: "client_id", Kind: connector.KindString, Doc: "A public app's client id, for OAuth instead of access_token."},
			{Name: "client_secret", Kind: connector.KindString, Secret: true, Doc: "A public app's client secret, for OAuth instead of access_token."},
			{Name: "refresh_token", Kind: connector.KindString, Secret: true, Doc: "The refresh token the app's installation in the account yielded; exchanged at /oauth/v1/token for short-lived access tokens."},
			{Name: "base_url", Kind: connector.KindString, Default: "https://api.hubapi.com", Doc: "The API's base URL: a proxy, or an emulator (riptide's hubspottest)."},
			{Name: "requests_per_10s", Kind: connector.KindInt, Default: DefaultPer10s, Doc: "Requests per rolling 10 seconds: 100 for Free and Starter, 190 for Professional and Enterprise, 250 with the API limit increase."},
			{Name: "requests_per_day", Kind: connector.KindInt, Default: DefaultPerDay, Doc: "Requests per day: 250000 for Free and Starter, 625000 for Professional, 1000000 for Enterprise."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 4, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   maxInputs,
			Concurrency: 4,
			Windows:     windows(DefaultPer10s, DefaultPerDay),
		},
		Modes: []string{"upsert", "insert", "update", "mirror"},
	}
}

func windows(per10s, perDay int) []connector.RateWindow {
	return []connector.RateWindow{{Requests: per10s, Per: 10 * time.Second}, {Requests: perDay, Per: 24 * time.Hour}}
}

// defaultIdentifier is the unique property that matches records of the
// standard objects when a sync names none.
var defaultIdentifier = map[string]string{"contacts": "email", "companies": "domain"}

// Destination writes one sync's run to one HubSpot object.
type Destination struct {
	*client
	object     string
	identifier string
	windows    []connector.RateWindow
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	c, err := newClient(settings, target.Requests)
	if err != nil {
		return nil, err
	}
	object := target.Object
	if err := checkObject(object); err != nil {
		return nil, fmt.Errorf("hubspot: sync %s: %w", target.Sync, err)
	}
	var identifier string
	switch len(target.Identifier) {
	case 0:
		identifier = defaultIdentifier[object]
		if identifier == "" {
			return nil, fmt.Errorf("hubspot: sync %s: object %s has no default identifier; set identifier to a unique property", target.Sync, object)
		}
	case 1:
		identifier = target.Identifier[0]
	default:
		return nil, fmt.Errorf("hubspot: sync %s: identifier must be one property, not %d", target.Sync, len(target.Identifier))
	}
	if target.Mode != "insert" && len(target.Fields) > 0 && !slices.Contains(target.Fields, identifier) {
		return nil, fmt.Errorf("hubspot: sync %s: the mapping must set the identifier property %s", target.Sync, identifier)
	}
	per10s, perDay := settings.Int("requests_per_10s"), settings.Int("requests_per_day")
	if per10s <= 0 || perDay <= 0 {
		return nil, fmt.Errorf("hubspot: requests_per_10s and requests_per_day must be positive")
	}
	return &Destination{
		client:     c,
		object:     object,
		identifier: identifier,
		windows:    windows(per10s, perDay),
	}, nil
}

// checkObject refuses what cannot name an object type in a URL path.
func checkObject(object string) error {
	if object == "" || strings.ContainsAny(object, "/?#") {
		return fmt.Errorf("object must name a HubSpot object (contacts, companies, deals or a custom object type id), not %q", object)
	}
	return nil
}

// RateWindows are the account's quotas as its settings state them; the
// delivery layer keeps them.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.closeIdle()
	return nil
}

// oauthSettings returns the public app the settings name, nil when they
// name none, or an error when they name it only in part.
func oauthSettings(settings connector.Settings, base string) (*oauthApp, error) {
	id, secret, refresh := settings.String("client_id"), settings.String("client_secret"), settings.String("refresh_token")
	if id == "" && secret == "" && refresh == "" {
		return nil, nil
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"client_id", id}, {"client_secret", secret}, {"refresh_token", refresh}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("hubspot: OAuth needs client_id, client_secret and refresh_token; missing %s", strings.Join(missing, ", "))
	}
	return &oauthApp{
		client:   &http.Client{Timeout: 30 * time.Second},
		tokenURL: base + "/oauth/v1/token",
		clientID: id,
		secret:   secret,
		refresh:  refresh,
		now:      time.Now,
	}, nil
}
