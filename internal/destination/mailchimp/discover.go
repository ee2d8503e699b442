package mailchimp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/riptide-data/riptide/internal/connector"
)

// mergeFieldPage is the largest page of merge fields the API returns
// (count, default 10, at most 1000).
const mergeFieldPage = 1000

// memberFields are the member fields a mapping sets besides merge fields,
// with the member schema's types: the email address identifies members.
var memberFields = []connector.FieldInfo{
	{Name: FieldEmail, Type: "string", Unique: true},
	{Name: FieldStatus, Type: "string"},
	{Name: FieldTags, Type: "array"},
}

// Fields lists the fields a mapping can set on an audience's members, for
// `riptide validate --connect`: email_address, status and tags, and the
// audience's merge fields by merge tag (FNAME, …) with Mailchimp's type
// (text, number, date, birthday, …), read through GET
// /3.0/lists/{list_id}/merge-fields page by page.
func (d *Destination) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object == "" {
		object = d.list
	}
	fields := append([]connector.FieldInfo(nil), memberFields...)
	for offset := 0; ; {
		q := url.Values{"count": {strconv.Itoa(mergeFieldPage)}, "offset": {strconv.Itoa(offset)}}
		path := "/3.0/lists/" + url.PathEscape(object) + "/merge-fields?" + q.Encode()
		status, data, h, err := d.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("mailchimp: list merge fields of audience %s: %w", object, d.requestError(status, data, h))
		}
		var page struct {
			MergeFields []struct {
				Tag  string `json:"tag"`
				Type string `json:"type"`
			} `json:"merge_fields"`
			TotalItems int `json:"total_items"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, fmt.Errorf("mailchimp: decode merge fields of audience %s: %w", object, err)
		}
		for _, m := range page.MergeFields {
			fields = append(fields, connector.FieldInfo{Name: m.Tag, Type: m.Type})
		}
		offset += len(page.MergeFields)
		// An empty page ends the listing even if total_items promised more,
		// so a miscounting answer cannot loop forever.
		if len(page.MergeFields) == 0 || offset >= page.TotalItems {
			return fields, nil
		}
	}
}
