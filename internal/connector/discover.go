package connector

import (
	"context"
	"errors"
)

// FieldInfo describes one field of a destination object, as the vendor's
// schema API reports it.
type FieldInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // the vendor's type name
	Label    string `json:"label,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// Unique fields can identify records (an upsert's identifier).
	Unique bool `json:"unique,omitempty"`
}

// ObjectInfo is one object a destination's API lists: what a sync's
// object names (an sObject, a HubSpot object type, a Mailchimp audience
// id, a Slack channel id …).
type ObjectInfo struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Custom objects are the account's own (a HubSpot custom object, a
	// Salesforce __c sObject) rather than the vendor's standard ones.
	Custom bool `json:"custom,omitempty"`
	// Aliases are other names a sync may give the same object (HubSpot's
	// object type id "0-1" for contacts).
	Aliases []string `json:"aliases,omitempty"`
}

// ErrNotListed is returned by a Catalog whose vendor's API does not list
// what was asked (Segment lists no traits; Braze lists no objects): the
// spec's Objects and the vendor's docs are then the reference.
var ErrNotListed = errors.New("the vendor's API does not list these")

// Catalog reads what a destination account holds, from the vendor's
// schema APIs: the objects a sync can write and each object's fields.
// `riptide validate --connect` checks syncs against it and
// `riptide discover` shows it. A method the vendor offers no API for
// returns ErrNotListed.
type Catalog interface {
	Objects(ctx context.Context) ([]ObjectInfo, error)
	Fields(ctx context.Context, object string) ([]FieldInfo, error)
}

// CatalogFactory connects a Catalog from a destination's settings (the
// same settings its syncs use; no sync is involved).
type CatalogFactory func(ctx context.Context, settings Settings, dir string) (Catalog, error)
