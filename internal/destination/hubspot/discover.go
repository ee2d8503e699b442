package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/riptide-data/riptide/internal/connector"
)

// Fields lists an object's properties through the properties API (GET
// /crm/v3/properties/{objectType}), for `riptide validate --connect`.
func (d *Destination) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object == "" {
		object = d.object
	}
	resp, data, err := d.call(ctx, http.MethodGet, d.base+"/crm/v3/properties/"+url.PathEscape(object), nil, "list "+object+" properties")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hubspot: list %s properties: %w", object, requestError(resp, data))
	}
	var out struct {
		Results []struct {
			Name                 string `json:"name"`
			Type                 string `json:"type"`
			HasUniqueValue       bool   `json:"hasUniqueValue"`
			ModificationMetadata struct {
				ReadOnlyValue bool `json:"readOnlyValue"`
			} `json:"modificationMetadata"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("hubspot: decode %s properties: %w", object, err)
	}
	fields := make([]connector.FieldInfo, 0, len(out.Results))
	for _, p := range out.Results {
		fields = append(fields, connector.FieldInfo{Name: p.Name, Type: p.Type, ReadOnly: p.ModificationMetadata.ReadOnlyValue, Unique: p.HasUniqueValue})
	}
	return fields, nil
}
