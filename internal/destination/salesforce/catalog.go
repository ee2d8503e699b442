package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/riptide-data/riptide/internal/connector"
)

// Catalog lists the org's sObjects and their fields through the REST
// API's describe resources, signing in (or renewing an expired session)
// as writes do.
type Catalog struct {
	*client
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	c, err := newClient(settings, nil)
	if err != nil {
		return nil, err
	}
	return &Catalog{client: c}, nil
}

// Objects lists the sObjects a sync can write, through Describe Global
// (GET /services/data/vXX.X/sobjects): those the user can create or
// update records of, by API name, which is what a sync's object names.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out struct {
		SObjects []struct {
			Name       string `json:"name"`
			Label      string `json:"label"`
			Custom     bool   `json:"custom"`
			Createable bool   `json:"createable"`
			Updateable bool   `json:"updateable"`
		} `json:"sobjects"`
	}
	if err := c.call(ctx, http.MethodGet, "sobjects", nil, &out); err != nil {
		return nil, fmt.Errorf("salesforce: list sObjects: %w", err)
	}
	objects := make([]connector.ObjectInfo, 0, len(out.SObjects))
	for _, o := range out.SObjects {
		// Read-only sObjects (history, share, feed…) can take no write.
		if !o.Createable && !o.Updateable {
			continue
		}
		objects = append(objects, connector.ObjectInfo{Name: o.Name, Label: o.Label, Custom: o.Custom})
	}
	return objects, nil
}

// Fields lists an sObject's fields through sObject Describe (GET
// /services/data/vXX.X/sobjects/{SObject}/describe).
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if !apiName.MatchString(object) {
		return nil, fmt.Errorf("salesforce: describe: want an sObject API name (Contact, Account, Custom__c), not %q", object)
	}
	var out struct {
		Fields []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Label      string `json:"label"`
			Createable bool   `json:"createable"`
			Updateable bool   `json:"updateable"`
			ExternalID bool   `json:"externalId"`
			Unique     bool   `json:"unique"`
		} `json:"fields"`
	}
	if err := c.call(ctx, http.MethodGet, "sobjects/"+url.PathEscape(object)+"/describe", nil, &out); err != nil {
		return nil, fmt.Errorf("salesforce: describe %s: %w", object, err)
	}
	fields := make([]connector.FieldInfo, 0, len(out.Fields))
	for _, f := range out.Fields {
		fields = append(fields, connector.FieldInfo{
			Name: f.Name, Type: f.Type, Label: f.Label,
			// A field neither insert nor update can set is the org's own
			// (Id, formulas, audit fields).
			ReadOnly: !f.Createable && !f.Updateable,
			// An upsert matches on an external ID field; unique ones also
			// identify records.
			Unique: f.ExternalID || f.Unique,
		})
	}
	return fields, nil
}

// Close releases idle connections.
func (c *Catalog) Close() { c.hc.CloseIdleConnections() }
