package mailchimp

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/riptide-data/riptide/internal/connector"
)

// pageSize is the largest page the Marketing API returns for lists and
// merge fields (count, default 10, at most 1000).
const pageSize = 1000

// memberFields are the member fields a mapping sets besides merge fields,
// with the member schema's types: the email address identifies members.
var memberFields = []connector.FieldInfo{
	{Name: FieldEmail, Type: "string", Unique: true},
	{Name: FieldStatus, Type: "string"},
	{Name: FieldTags, Type: "array"},
}

// Catalog lists an account's audiences and each audience's fields.
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

// Objects lists the account's audiences from GET /3.0/lists: Name is the
// list id, which is what a sync's object names, Label the audience name.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out []connector.ObjectInfo
	err := c.pages(ctx, "list audiences", func(offset int) (int, int, error) {
		var page struct {
			Lists []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"lists"`
			TotalItems int `json:"total_items"`
		}
		if err := c.api.getJSON(ctx, pagePath("/3.0/lists", offset), "list audiences", &page); err != nil {
			return 0, 0, err
		}
		for _, l := range page.Lists {
			out = append(out, connector.ObjectInfo{Name: l.ID, Label: l.Name})
		}
		return len(page.Lists), page.TotalItems, nil
	})
	return out, err
}

// Fields lists the fields a mapping can set on an audience's members:
// email_address, status and tags, and the audience's merge fields by merge
// tag (FNAME, …) with Mailchimp's type (text, number, date, birthday, …),
// read through GET /3.0/lists/{list_id}/merge-fields.
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object == "" {
		return nil, fmt.Errorf("mailchimp: list merge fields: the object (audience id) is empty")
	}
	fields := append([]connector.FieldInfo(nil), memberFields...)
	what := "list merge fields of audience " + object
	path := "/3.0/lists/" + url.PathEscape(object) + "/merge-fields"
	err := c.pages(ctx, what, func(offset int) (int, int, error) {
		var page struct {
			MergeFields []struct {
				Tag  string `json:"tag"`
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"merge_fields"`
			TotalItems int `json:"total_items"`
		}
		if err := c.api.getJSON(ctx, pagePath(path, offset), what, &page); err != nil {
			return 0, 0, err
		}
		for _, m := range page.MergeFields {
			fields = append(fields, connector.FieldInfo{Name: m.Tag, Type: m.Type, Label: m.Name})
		}
		return len(page.MergeFields), page.TotalItems, nil
	})
	if err != nil {
		return nil, err
	}
	return fields, nil
}

// pages calls page with offsets 0, pageSize, … until it has read the
// total_items the answers promise. An empty page ends the listing even if
// total_items promised more, so a miscounting answer cannot loop forever.
func (c *Catalog) pages(ctx context.Context, what string, page func(offset int) (n, total int, err error)) error {
	for offset := 0; ; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mailchimp: %s: %w", what, err)
		}
		n, total, err := page(offset)
		if err != nil {
			return err
		}
		offset += n
		if n == 0 || offset >= total {
			return nil
		}
	}
}

func pagePath(path string, offset int) string {
	q := url.Values{"count": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(offset)}}
	return path + "?" + q.Encode()
}
