package iterable

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// systemFields are profile fields Iterable sets itself (creation and
// update times, signup source, internal bookkeeping): a mapping writing
// them would fight Iterable, so they are reported read-only.
var systemFields = []string{"signupDate", "signupSource", "profileUpdatedAt", "itblInternal"}

// Fields lists the project's user fields through GET /api/users/getFields
// ({"fields": {"name": "type"}}), for `riptide validate --connect`. Names
// are reported as a mapping names them: email and userId are the
// identifiers (unique), every other top-level field is a data field.
// Sub-fields of object and nested fields ("a.b") are left out because a
// mapping writes top-level dataFields keys only. A list:<id> sync sends
// only the identifier, so only email and userId are reported for it.
func (d *Destination) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	var out struct {
		Fields map[string]string `json:"fields"`
	}
	if err := d.do(ctx, http.MethodGet, "/api/users/getFields", nil, &out); err != nil {
		return nil, fmt.Errorf("iterable: list user fields: %w", err)
	}
	// Iterable always knows its identifiers; a project that never stored
	// a userId may leave it out of the list.
	for _, id := range []string{IDEmail, IDUserID} {
		if _, ok := out.Fields[id]; !ok {
			if out.Fields == nil {
				out.Fields = map[string]string{}
			}
			out.Fields[id] = "string"
		}
	}
	list := d.list || strings.HasPrefix(object, "list:")
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
