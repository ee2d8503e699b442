package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/riptide-data/riptide/internal/connector"
)

// Fields lists an sObject's fields through sObject Describe (GET
// /services/data/vXX.X/sobjects/{SObject}/describe), for `riptide
// validate --connect`. It signs in (or renews an expired session) as
// writes do.
func (d *Destination) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object == "" {
		object = d.object
	}
	var out struct {
		Fields []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Createable bool   `json:"createable"`
			Updateable bool   `json:"updateable"`
			ExternalID bool   `json:"externalId"`
			Unique     bool   `json:"unique"`
		} `json:"fields"`
	}
	if err := d.call(ctx, http.MethodGet, "sobjects/"+url.PathEscape(object)+"/describe", nil, &out); err != nil {
		return nil, fmt.Errorf("salesforce: describe %s: %w", object, err)
	}
	fields := make([]connector.FieldInfo, 0, len(out.Fields))
	for _, f := range out.Fields {
		fields = append(fields, connector.FieldInfo{
			Name: f.Name, Type: f.Type,
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
