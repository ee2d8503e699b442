package iterable

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// systemFields are profile fields Iterable sets itself (creation and
// update times, signup source, internal bookkeeping): a mapping writing
// them would fight Iterable, so they are reported read-only.
var systemFields = []string{"signupDate", "signupSource", "profileUpdatedAt", "itblInternal"}

// Catalog lists a project's objects (users and its static lists) and the
// user fields a mapping can set.
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

// Objects lists users and, from GET /api/lists, each static list as
// list:<id> — the names a sync's object takes — labelled with the list's
// name. Dynamic and other non-static lists are left out: list subscribe
// only takes static (Standard) lists. GET /api/lists is not paged.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out struct {
		Lists []struct {
			ID       int    `json:"id"`
			Name     string `json:"name"`
			ListType string `json:"listType"`
		} `json:"lists"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/lists", nil, &out); err != nil {
		return nil, fmt.Errorf("iterable: list lists: %w", err)
	}
	// A sync that leaves object unset writes users (see New).
	objects := []connector.ObjectInfo{{Name: "users", Label: "Users", Aliases: []string{"user"}}}
	for _, l := range out.Lists {
		if l.ListType != "" && l.ListType != "Standard" {
			continue
		}
		objects = append(objects, connector.ObjectInfo{Name: "list:" + strconv.Itoa(l.ID), Label: l.Name})
	}
	return objects, nil
}

// Fields lists the project's user fields through GET /api/users/getFields
// ({"fields": {"name": "type"}}). Names are reported as a mapping names
// them: email and userId are the identifiers (unique), every other
// top-level field is a data field. Sub-fields of object and nested fields
// ("a.b") are left out because a mapping writes top-level dataFields keys
// only. A list:<id> sync sends only the identifier, so only email and
// userId are reported for it.
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	var out struct {
		Fields map[string]string `json:"fields"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/users/getFields", nil, &out); err != nil {
		return nil, fmt.Errorf("iterable: list user fields: %w", err)
	}
	// Iterable always knows its identifiers; a project that never stored
	// a userId may leave it out of the list.
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	for _, id := range []string{IDEmail, IDUserID} {
		if _, ok := out.Fields[id]; !ok {
			out.Fields[id] = "string"
		}
	}
	list := strings.HasPrefix(object, "list:")
	fields := make([]connector.FieldInfo, 0, len(out.Fields))
	for name, typ := range out.Fields {
		ident := name == IDEmail || name == IDUserID
		if strings.Contains(name, ".") || (list && !ident) {
			continue
		}
		fields = append(fields, connector.FieldInfo{Name: name, Type: typ, Unique: ident, ReadOnly: slices.Contains(systemFields, name)})
	}
	slices.SortFunc(fields, func(a, b connector.FieldInfo) int { return strings.Compare(a.Name, b.Name) })
	return fields, nil
}
