package hubspot

import (
	"context"
	"fmt"
	"net/url"

	"github.com/riptide-data/riptide/internal/connector"
)

// standardObjects are HubSpot's own CRM objects whose records the v3
// object APIs write in batches (upsert, create, update, archive), by the
// name a sync's object gives, with their object type ids ("Object type
// IDs", Understanding the CRM), which the API takes in their place.
var standardObjects = []connector.ObjectInfo{
	{Name: "contacts", Label: "Contacts", Aliases: []string{"0-1"}},
	{Name: "companies", Label: "Companies", Aliases: []string{"0-2"}},
	{Name: "deals", Label: "Deals", Aliases: []string{"0-3"}},
	{Name: "tickets", Label: "Tickets", Aliases: []string{"0-5"}},
	{Name: "products", Label: "Products", Aliases: []string{"0-7"}},
	{Name: "line_items", Label: "Line items", Aliases: []string{"0-8"}},
	{Name: "communications", Label: "Communications", Aliases: []string{"0-18"}},
	{Name: "tasks", Label: "Tasks", Aliases: []string{"0-27"}},
	{Name: "notes", Label: "Notes", Aliases: []string{"0-46"}},
	{Name: "meetings", Label: "Meetings", Aliases: []string{"0-47"}},
	{Name: "calls", Label: "Calls", Aliases: []string{"0-48"}},
	{Name: "emails", Label: "Emails", Aliases: []string{"0-49"}},
}

// Catalog lists the account's CRM objects and their properties.
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

// Objects lists the standard objects and the account's custom objects,
// read from the schemas API (GET /crm-object-schemas/v3/schemas). A
// custom object is named by its object type id (2-…), which is what a
// sync's object gives; its fully qualified name (p1234_invoices) is an
// alias, as the object APIs take either.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out struct {
		Results []struct {
			ObjectTypeID       string `json:"objectTypeId"`
			Name               string `json:"name"`
			FullyQualifiedName string `json:"fullyQualifiedName"`
			Archived           bool   `json:"archived"`
			Labels             struct {
				Singular string `json:"singular"`
				Plural   string `json:"plural"`
			} `json:"labels"`
		} `json:"results"`
	}
	if err := c.get(ctx, "/crm-object-schemas/v3/schemas", "list custom object schemas", &out); err != nil {
		return nil, err
	}
	objects := make([]connector.ObjectInfo, 0, len(standardObjects)+len(out.Results))
	for _, o := range standardObjects {
		o.Aliases = append([]string(nil), o.Aliases...)
		objects = append(objects, o)
	}
	for _, s := range out.Results {
		if s.Archived || s.ObjectTypeID == "" {
			continue
		}
		o := connector.ObjectInfo{Name: s.ObjectTypeID, Label: s.Labels.Plural, Custom: true}
		if o.Label == "" {
			o.Label = s.Name
		}
		if s.FullyQualifiedName != "" {
			o.Aliases = append(o.Aliases, s.FullyQualifiedName)
		}
		objects = append(objects, o)
	}
	return objects, nil
}

// Fields lists an object's properties through the properties API (GET
// /crm/v3/properties/{objectType}): a property HubSpot sets itself
// (modificationMetadata.readOnlyValue) is read-only, and one with unique
// values (hasUniqueValue) can identify records.
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if err := checkObject(object); err != nil {
		return nil, fmt.Errorf("hubspot: %w", err)
	}
	var out struct {
		Results []struct {
			Name                 string `json:"name"`
			Label                string `json:"label"`
			Type                 string `json:"type"`
			HasUniqueValue       bool   `json:"hasUniqueValue"`
			ModificationMetadata struct {
				ReadOnlyValue bool `json:"readOnlyValue"`
			} `json:"modificationMetadata"`
		} `json:"results"`
	}
	if err := c.get(ctx, "/crm/v3/properties/"+url.PathEscape(object), "list "+object+" properties", &out); err != nil {
		return nil, err
	}
	fields := make([]connector.FieldInfo, 0, len(out.Results))
	for _, p := range out.Results {
		fields = append(fields, connector.FieldInfo{Name: p.Name, Type: p.Type, Label: p.Label, ReadOnly: p.ModificationMetadata.ReadOnlyValue, Unique: p.HasUniqueValue})
	}
	return fields, nil
}

// Close releases idle connections.
func (c *Catalog) Close() { c.closeIdle() }
