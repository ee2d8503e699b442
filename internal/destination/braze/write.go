package braze

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends one batch: its upserts and updates as one /users/track
// request of attributes objects, its deletes (mirror) as /users/delete
// requests of at most 50 users. It returns *connector.RowErrors for the
// objects Braze refused (its non-fatal errors name them by index) and for
// records lacking the identifier, and the *connector.RequestError of the
// first request Braze refused as a whole.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var track, del []int // indexes in b.Records
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpUpsert, connector.OpUpdate:
			if d.idValue(r) == "" {
				failed[i] = fmt.Sprintf("missing identifier: the record has no value for %s", d.identifier)
				continue
			}
			track = append(track, i)
		case connector.OpDelete:
			if r.Key == "" {
				failed[i] = "missing identifier: the removed row has no key"
				continue
			}
			del = append(del, i)
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by braze", r.Op)
		}
	}
	if len(track) > 0 {
		errs, err := d.track(ctx, b, track)
		if err != nil {
			return err
		}
		for i, msg := range errs {
			failed[i] = msg
		}
	}
	for start := 0; start < len(del); start += maxDelete {
		if err := d.delete(ctx, b, del[start:min(start+maxDelete, len(del))]); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// idValue is the record's identifier value, from its mapped identifier
// field.
func (d *Destination) idValue(r *connector.Record) string {
	v, ok := r.Field(d.identifier)
	if !ok || v == nil {
		return ""
	}
	return value.Text(v)
}

// attributes builds one attributes object: the mapped fields as Braze
// attributes (null clears one), the identifier, and the update-only flag.
func (d *Destination) attributes(r *connector.Record) map[string]json.RawMessage {
	obj := make(map[string]json.RawMessage, len(r.Fields)+2)
	for _, f := range r.Fields {
		if d.identifier == IDAlias && f.Name == IDAlias {
			continue // becomes the alias object below
		}
		obj[f.Name] = value.AppendJSON(nil, f.Value)
	}
	id := d.idValue(r)
	switch d.identifier {
	case IDAlias:
		alias, _ := json.Marshal(userAlias{Name: id, Label: d.aliasLabel})
		obj[IDAlias] = alias
	default:
		obj[d.identifier] = value.AppendJSONString(nil, id)
	}
	// Braze defaults to update-only for aliases: an upsert must say
	// otherwise to create the profiles that do not exist yet.
	if d.updateOnly {
		obj["_update_existing_only"] = json.RawMessage("true")
	} else if d.identifier == IDAlias {
		obj["_update_existing_only"] = json.RawMessage("false")
	}
	return obj
}

func (d *Destination) track(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	objs := make([]map[string]json.RawMessage, len(idx))
	for n, i := range idx {
		objs[n] = d.attributes(&b.Records[i])
	}
	resp, err := d.post(ctx, "/users/track", map[string]any{"attributes": objs})
	if err != nil {
		return nil, err
	}
	return matchErrors(resp, idx), nil
}

// matchErrors maps the non-fatal errors of a /users/track answer to the
// records: each names an index in the attributes array. An error naming
// no attributes object fails every record, so nothing Braze refused is
// taken as delivered.
func matchErrors(resp *response, idx []int) map[int]string {
	if resp == nil || len(resp.Errors) == 0 {
		return nil
	}
	out := map[int]string{}
	var unmatched []string
	for _, e := range resp.Errors {
		if e.InputArray == "attributes" && e.Index != nil && *e.Index >= 0 && *e.Index < len(idx) {
			out[idx[*e.Index]] = e.Type
			continue
		}
		unmatched = append(unmatched, e.describe())
	}
	if len(unmatched) > 0 {
		for _, i := range idx {
			if _, ok := out[i]; !ok {
				out[i] = "braze reported errors it did not tie to an attributes object: " + unmatched[0]
			}
		}
	}
	return out
}

// delete deletes the users the removed rows' keys identify. Users Braze
// does not hold are already gone: that is success.
func (d *Destination) delete(ctx context.Context, b *connector.Batch, idx []int) error {
	seen := map[string]bool{}
	var ids []string
	for _, i := range idx {
		if k := b.Records[i].Key; !seen[k] {
			seen[k] = true
			ids = append(ids, k)
		}
	}
	var body map[string]any
	switch d.identifier {
	case IDEmail:
		body = map[string]any{"email_addresses": ids}
	case IDAlias:
		aliases := make([]userAlias, len(ids))
		for n, id := range ids {
			aliases[n] = userAlias{Name: id, Label: d.aliasLabel}
		}
		body = map[string]any{"user_aliases": aliases}
	default:
		body = map[string]any{"external_ids": ids}
	}
	_, err := d.post(ctx, "/users/delete", body)
	return err
}
