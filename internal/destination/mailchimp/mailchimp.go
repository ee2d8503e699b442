// Package mailchimp is the Mailchimp Marketing API destination: it
// subscribes and updates the members of one audience (list) through the
// batch subscribe endpoint, POST /3.0/lists/{list_id} with
// update_existing, identified by email address, and archives removed
// members (mirror) with DELETE /3.0/lists/{list_id}/members/{hash}, one
// request per member because the API has no batch archive. It
// authenticates with Basic auth and the API key. The delivery layer
// batches (500 members per call, Mailchimp's limit), keeps at most 10
// requests in flight (Mailchimp's simultaneous-connection limit) and
// retries; this package maps records to members and Mailchimp's answers to
// per-row outcomes.
package mailchimp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Documented limits of the Marketing API.
const (
	// MaxMembers is the most members one batch subscribe call takes.
	MaxMembers = 500
	// MaxConnections is the number of simultaneous connections Mailchimp
	// allows per user; more are answered 429.
	MaxConnections = 10
)

// Field names with a meaning of their own; every other mapped field is a
// merge field.
const (
	FieldEmail  = "email_address"
	FieldStatus = "status"
	FieldTags   = "tags"
)

// Plugin returns the Mailchimp destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "mailchimp",
		Summary: "Subscribe and update Mailchimp audience members by email and archive them (mirror) through the Marketing API",
		Objects: []connector.Object{
			{Name: "<list id>", Identifiers: []string{FieldEmail}, DefaultIdentifier: FieldEmail, Doc: "The audience (list) id; required."},
		},
		Fields: []connector.Field{
			{Name: "api_key", Kind: connector.KindString, Required: true, Secret: true, Doc: "A Marketing API key (ends in -<dc>, the data center, e.g. -us21), sent as the Basic auth password."},
			{Name: "base_url", Kind: connector.KindString, Doc: "The API root; default https://<dc>.api.mailchimp.com with <dc> taken from the API key's suffix. Set it for an emulator (riptide's mailchimptest)."},
			{Name: "status_if_new", Kind: connector.KindString, Default: "subscribed", Doc: "Status given to members the sync creates when the mapping sets no status: subscribed, unsubscribed, cleaned, pending or transactional."},
			{Name: "concurrency", Kind: connector.KindInt, Default: MaxConnections, Doc: "Requests in flight at once; Mailchimp allows at most 10 simultaneous connections."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 60 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   MaxMembers,
			Concurrency: MaxConnections,
		},
		// Not update: batch subscribe with update_existing creates members
		// that do not exist, and without it refuses existing ones, so no
		// call updates only.
		Modes: []string{"upsert", "mirror"},
	}
}

var statuses = map[string]bool{"subscribed": true, "unsubscribed": true, "cleaned": true, "pending": true, "transactional": true}

// Destination writes one sync's run to a Mailchimp audience.
type Destination struct {
	*api
	list        string
	statusIfNew string
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
	if target.Object == "" || strings.ContainsAny(target.Object, "/?#") {
		return nil, fmt.Errorf("mailchimp: sync %s: object must be the audience (list) id, not %q", target.Sync, target.Object)
	}
	if target.Mode == "update" {
		return nil, fmt.Errorf("mailchimp: sync %s: mode update is not supported: batch subscribe creates members that do not exist; use upsert or mirror", target.Sync)
	}
	switch {
	case len(target.Identifier) == 0:
	case len(target.Identifier) == 1 && target.Identifier[0] == FieldEmail:
	default:
		return nil, fmt.Errorf("mailchimp: sync %s: identifier must be email_address, not %v", target.Sync, target.Identifier)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, FieldEmail) {
		return nil, fmt.Errorf("mailchimp: sync %s: the mapping must set email_address", target.Sync)
	}
	status := settings.String("status_if_new")
	if status == "" {
		status = "subscribed"
	}
	if !statuses[status] {
		return nil, fmt.Errorf("mailchimp: status_if_new %q: want subscribed, unsubscribed, cleaned, pending or transactional", status)
	}
	if c := settings.Int("concurrency"); c > MaxConnections {
		return nil, fmt.Errorf("mailchimp: concurrency %d exceeds Mailchimp's %d simultaneous connections", c, MaxConnections)
	}
	return &Destination{api: a, list: target.Object, statusIfNew: status}, nil
}

// DataCenter is the data center an API key belongs to: the part after its
// last '-' (us21 in 0123…-us21), which names the API host.
func DataCenter(key string) (string, error) {
	i := strings.LastIndexByte(key, '-')
	dc := key[i+1:]
	if i < 0 || dc == "" || strings.ContainsFunc(dc, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		return "", fmt.Errorf("mailchimp: api_key does not end in -<data center> (like -us21); set base_url or use a full Marketing API key")
	}
	return dc, nil
}

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
