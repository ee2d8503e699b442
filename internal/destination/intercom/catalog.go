package intercom

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// customPrefix begins a custom attribute's full_name; the mapping names
// the attribute without it (Write puts unknown fields under
// custom_attributes).
const customPrefix = "custom_attributes."

// Catalog reads a workspace's contact attributes.
type Catalog struct {
	api *api
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	a, err := newAPI(settings, nil)
	if err != nil {
		return nil, err
	}
	return &Catalog{api: a}, nil
}

// Objects is ErrNotListed: Intercom's API has no listing of the objects
// it can write. The data attributes API's model parameter is a fixed set
// (contact, company, conversation), and the destination writes contacts
// only, which the spec's Objects declare.
func (c *Catalog) Objects(context.Context) ([]connector.ObjectInfo, error) {
	return nil, fmt.Errorf("intercom: list objects: %w", connector.ErrNotListed)
}

// Fields lists the contact attributes through the data attributes API
// (GET /data_attributes?model=contact), under the names a mapping uses: a standard attribute by its name, a
// custom one by its name without custom_attributes. Nested standard
// attributes (location_data.…) are left out: a mapping cannot reach them.
// Archived custom attributes are not listed, as Intercom refuses writes
// to them.
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object != "" && object != "contacts" && object != "contact" {
		return nil, fmt.Errorf("intercom: list %s attributes: the object must be contacts", object)
	}
	var out struct {
		Data []struct {
			Name        string `json:"name"`
			FullName    string `json:"full_name"`
			Label       string `json:"label"`
			DataType    string `json:"data_type"`
			APIWritable bool   `json:"api_writable"`
			Custom      bool   `json:"custom"`
			Archived    bool   `json:"archived"`
		} `json:"data"`
	}
	if err := c.api.call(ctx, http.MethodGet, "/data_attributes?model=contact", nil, &out); err != nil {
		return nil, fmt.Errorf("intercom: list contact data attributes: %w", err)
	}
	fields := make([]connector.FieldInfo, 0, len(out.Data))
	seen := map[string]bool{}
	for _, a := range out.Data {
		name, readOnly := a.Name, !a.APIWritable
		switch {
		case a.Archived:
			continue
		case a.Custom:
			name = strings.TrimPrefix(a.FullName, customPrefix)
			// A custom attribute named like a standard field cannot be
			// mapped: Write sends that name at the top level.
			if standard[name] {
				continue
			}
		case a.FullName != "" && a.FullName != a.Name:
			continue // nested (location_data.city_name, …)
		case !standard[name]:
			// Write would send it under custom_attributes, where it
			// is not Intercom's standard attribute: not writable here.
			readOnly = true
		}
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		fields = append(fields, connector.FieldInfo{
			Name: name, Type: a.DataType, Label: a.Label, ReadOnly: readOnly,
			// The identifiers Write searches on: Intercom refuses a
			// second contact with an external_id (or a user's email).
			Unique: name == IDExternalID || name == IDEmail,
		})
	}
	return fields, nil
}
