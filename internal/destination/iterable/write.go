package iterable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends one batch. For users: upserts as one bulkUpdate request,
// removed rows (mirror) as one DELETE each. For a list: upserts as one
// subscribe request, removed rows as one unsubscribe request. It returns
// *connector.RowErrors for rows lacking the identifier and rows Iterable
// named in failedUpdates, and the *connector.RequestError of a request
// refused as a whole.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var upserts, deletes []int
	ids := make([]string, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpUpsert, connector.OpUpdate:
			ids[i] = d.idValue(r)
			if ids[i] == "" {
				failed[i] = fmt.Sprintf("missing identifier: the record has no value for %s", d.identifier)
				continue
			}
			upserts = append(upserts, i)
		case connector.OpDelete:
			ids[i] = r.Key
			if ids[i] == "" {
				failed[i] = "missing identifier: the removed row has no key"
				continue
			}
			deletes = append(deletes, i)
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by iterable", r.Op)
		}
	}
	if len(upserts) > 0 {
		var path string
		var body any
		if d.list {
			path, body = "/api/lists/subscribe", d.subscribers(upserts, ids)
		} else {
			path, body = "/api/users/bulkUpdate", d.users(b, upserts, ids)
		}
		ans, err := d.bulk(ctx, path, body)
		if err != nil {
			return err
		}
		d.match(ans, upserts, ids, failed, false)
	}
	if len(deletes) > 0 {
		if d.list {
			ans, err := d.bulk(ctx, "/api/lists/unsubscribe", d.subscribers(deletes, ids))
			if err != nil {
				return err
			}
			// A removed row whose user does not exist is not on the list:
			// the mirror's aim is met.
			d.match(ans, deletes, ids, failed, true)
		} else {
			for _, i := range deletes {
				if err := d.deleteUser(ctx, ids[i]); err != nil {
					var re *connector.RequestError
					if errors.As(err, &re) && !re.Auth && !re.Retryable {
						failed[i] = re.Error()
						continue
					}
					// Retried as a whole batch: bulkUpdate merges and
					// delete is idempotent, so repeating is harmless.
					return err
				}
			}
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// users is the bulkUpdate body for the records at idx.
func (d *Destination) users(b *connector.Batch, idx []int, ids []string) map[string]any {
	users := make([]json.RawMessage, 0, len(idx))
	for _, i := range idx {
		buf := []byte{'{'}
		buf = value.AppendJSONString(buf, d.identifier)
		buf = append(buf, ':')
		buf = value.AppendJSONString(buf, ids[i])
		if d.identifier == IDUserID {
			// Creates a user that has no email when the userId is new, in
			// email-based projects too.
			buf = append(buf, `,"preferUserId":true`...)
		}
		buf = append(buf, `,"dataFields":`...)
		buf = d.dataFields(buf, &b.Records[i])
		users = append(users, append(buf, '}'))
	}
	return map[string]any{"users": users}
}

// dataFields appends the mapped fields other than the identifier, which
// travels beside them. With identifier userId an email field stays a data
// field, as Iterable's reference allows.
func (d *Destination) dataFields(buf []byte, r *connector.Record) []byte {
	buf = append(buf, '{')
	n := 0
	for _, f := range r.Fields {
		if f.Name == d.identifier {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = value.AppendJSONString(buf, f.Name)
		buf = append(buf, ':')
		buf = value.AppendJSON(buf, f.Value)
	}
	return append(buf, '}')
}

func (d *Destination) subscribers(idx []int, ids []string) map[string]any {
	subs := make([]map[string]string, 0, len(idx))
	for _, i := range idx {
		subs = append(subs, map[string]string{d.identifier: ids[i]})
	}
	return map[string]any{"listId": d.listID, "subscribers": subs}
}

// idValue is the record's identifier value, from its mapped field.
func (d *Destination) idValue(r *connector.Record) string {
	v, ok := r.Field(d.identifier)
	if !ok || v == nil {
		return ""
	}
	return value.Text(v)
}

// match turns a bulk answer's failedUpdates into row errors, by the
// failing identifier. When Iterable counts failures it does not name, the
// rows it did not name all fail: nothing refused is taken as delivered.
func (d *Destination) match(ans *bulkAnswer, idx []int, ids []string, failed map[int]string, notFoundOK bool) {
	named := ans.named(d.identifier, notFoundOK)
	matched := 0
	for _, i := range idx {
		if why, ok := named[ids[i]]; ok {
			failed[i] = why
			matched++
		}
	}
	if ans.FailCount > 0 && matched == 0 && len(ans.named(d.identifier, false)) == 0 {
		for _, i := range idx {
			failed[i] = fmt.Sprintf("iterable reported %d failed updates without naming them", ans.FailCount)
		}
	}
}

func (d *Destination) deleteUser(ctx context.Context, id string) error {
	path := "/api/users/" + url.PathEscape(id)
	if d.identifier == IDUserID {
		path = "/api/users/byUserId/" + url.PathEscape(id)
	}
	err := d.do(ctx, http.MethodDelete, path, nil, nil)
	var re *connector.RequestError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return nil // already gone: the mirror's aim is met
	}
	return err
}
