// Package braze is the Braze destination: it writes user profiles through
// /users/track as attributes objects, identified by external_id, email or
// a user alias, and deletes removed users (mirror) through /users/delete,
// authenticated with a REST API key. The delivery layer batches (75
// attributes objects), rate-limits (the /users/track quota) and retries;
// this package maps records to attributes objects and Braze's answers to
// per-row outcomes.
package braze

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Documented limits: /users/track takes 3,000 requests per three seconds
// and 75 attributes objects per request; /users/delete takes 50 users per
// request.
const (
	DefaultPer3s = 3000
	maxTrack     = 75
	maxDelete    = 50
)

// Identifiers a sync may match users by.
const (
	IDExternal = "external_id"
	IDEmail    = "email"
	IDAlias    = "user_alias"
)

// Plugin returns the Braze destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "braze",
		Summary: "Create and update Braze user profiles through /users/track and delete them through /users/delete",
		Objects: []connector.Object{
			{Name: "users", Identifiers: []string{IDExternal, IDEmail, IDAlias}, DefaultIdentifier: IDExternal, Doc: "The default and only object; user_alias takes its label from alias_label."},
		},
		Fields: []connector.Field{
			{Name: "api_key", Kind: connector.KindString, Required: true, Secret: true, Doc: "A REST API key with the users.track permission (and users.delete for mirror; custom_attributes.get for validate --connect and discover), sent as Authorization: Bearer."},
			{Name: "base_url", Kind: connector.KindString, Required: true, Doc: "The workspace's REST endpoint, e.g. https://rest.iad-01.braze.com (or an emulator: riptide's brazetest)."},
			{Name: "alias_label", Kind: connector.KindString, Doc: "The alias_label of the user aliases when a sync's identifier is user_alias; the mapped user_alias field is the alias_name."},
			{Name: "requests_per_3s", Kind: connector.KindInt, Default: DefaultPer3s, Doc: "Requests per three seconds: Braze's /users/track default is 3000; set what your workspace was granted."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 8, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   maxTrack,
			Concurrency: 8,
			Windows:     windows(DefaultPer3s),
		},
		Modes: []string{"upsert", "update", "mirror"},
	}
}

func windows(per3s int) []connector.RateWindow {
	return []connector.RateWindow{{Requests: per3s, Per: 3 * time.Second}}
}

// Destination writes one sync's run to Braze user profiles.
type Destination struct {
	*api
	identifier string
	aliasLabel string
	updateOnly bool
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
	if o := target.Object; o != "" && o != "users" {
		return nil, fmt.Errorf("braze: sync %s: object must be users (or unset), not %q", target.Sync, o)
	}
	identifier := IDExternal
	switch len(target.Identifier) {
	case 0:
	case 1:
		identifier = target.Identifier[0]
	default:
		return nil, fmt.Errorf("braze: sync %s: identifier must be one of external_id, email, user_alias, not %d fields", target.Sync, len(target.Identifier))
	}
	if identifier != IDExternal && identifier != IDEmail && identifier != IDAlias {
		return nil, fmt.Errorf("braze: sync %s: identifier must be external_id, email or user_alias, not %q", target.Sync, identifier)
	}
	label := settings.String("alias_label")
	if identifier == IDAlias && label == "" {
		return nil, fmt.Errorf("braze: sync %s: identifier user_alias needs the destination's alias_label", target.Sync)
	}
	if len(target.Fields) > 0 && !slices.Contains(target.Fields, identifier) {
		return nil, fmt.Errorf("braze: sync %s: the mapping must set the identifier field %s", target.Sync, identifier)
	}
	per3s := settings.Int("requests_per_3s")
	if per3s <= 0 {
		return nil, fmt.Errorf("braze: requests_per_3s must be positive")
	}
	return &Destination{
		api:        a,
		identifier: identifier,
		aliasLabel: label,
		updateOnly: target.Mode == "update",
		windows:    windows(per3s),
	}, nil
}

// RateWindows are the workspace's quota as its settings state it; the
// delivery layer keeps it.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}
