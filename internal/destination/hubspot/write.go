package hubspot

import (
	"context"
	"fmt"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends one batch: its upserts, creates and updates through the
// matching batch endpoint, its deletes (mirror) by looking the records up
// by identifier and archiving them. It returns *connector.RowErrors for
// inputs HubSpot refused or records lacking the identifier, and the
// *connector.RequestError of the first request HubSpot refused as a whole.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	groups := map[string][]int{} // action → indexes in b.Records
	var order []string
	for i := range b.Records {
		r := &b.Records[i]
		action := map[connector.Op]string{connector.OpUpsert: "upsert", connector.OpInsert: "create", connector.OpUpdate: "update", connector.OpDelete: "archive"}[r.Op]
		if action == "" {
			failed[i] = fmt.Sprintf("operation %q is not supported by hubspot", r.Op)
			continue
		}
		if action != "create" && d.idValue(r) == "" {
			failed[i] = fmt.Sprintf("missing identifier: the record has no value for %s", d.identifier)
			continue
		}
		if groups[action] == nil {
			order = append(order, action)
		}
		groups[action] = append(groups[action], i)
	}
	for _, action := range order {
		idx := groups[action]
		var errs map[int]string
		var err error
		if action == "archive" {
			errs, err = d.archive(ctx, b, idx)
		} else {
			errs, err = d.write(ctx, action, b, idx)
		}
		if err != nil {
			return err
		}
		for i, msg := range errs {
			failed[i] = msg
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// idValue is the record's identifier value: the mapped identifier field,
// or for a delete (which carries no fields) its primary key.
func (d *Destination) idValue(r *connector.Record) string {
	if r.Op == connector.OpDelete {
		return r.Key
	}
	v, ok := r.Field(d.identifier)
	if !ok || v == nil {
		return ""
	}
	return value.Text(v)
}

func (d *Destination) write(ctx context.Context, action string, b *connector.Batch, idx []int) (map[int]string, error) {
	type in struct {
		ID         string            `json:"id,omitempty"`
		IDProperty string            `json:"idProperty,omitempty"`
		Properties map[string]string `json:"properties"`
	}
	inputs := make([]in, len(idx))
	keys := make([]string, len(idx))
	for n, i := range idx {
		r := &b.Records[i]
		props := make(map[string]string, len(r.Fields))
		for _, f := range r.Fields {
			if f.Value == nil {
				props[f.Name] = "" // HubSpot clears a property given as ""
			} else {
				props[f.Name] = value.Text(f.Value)
			}
		}
		inputs[n].Properties = props
		keys[n] = d.idValue(r)
		if action != "create" {
			inputs[n].ID, inputs[n].IDProperty = keys[n], d.identifier
			if d.identifier == "hs_object_id" {
				inputs[n].IDProperty = ""
			}
		}
	}
	resp, err := d.post(ctx, action, map[string]any{"inputs": inputs})
	if err != nil {
		return nil, err
	}
	return matchErrors(resp, idx, keys), nil
}

// archive archives the records whose identifier values the deletes carry:
// batch/archive takes record ids, so they are read by identifier first.
// Records HubSpot no longer has are already gone: that is success.
func (d *Destination) archive(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	type in struct {
		ID string `json:"id"`
	}
	ids := make([]in, len(idx))
	for n, i := range idx {
		ids[n].ID = d.idValue(&b.Records[i])
	}
	ids = dedupe(ids, func(x in) string { return x.ID })
	recordIDs := ids
	if d.identifier != "hs_object_id" {
		resp, err := d.post(ctx, "read", map[string]any{"idProperty": d.identifier, "properties": []string{d.identifier}, "inputs": ids})
		if err != nil {
			return nil, err
		}
		recordIDs = recordIDs[:0:0]
		for _, r := range resp.Results {
			recordIDs = append(recordIDs, in{ID: r.ID})
		}
	}
	if len(recordIDs) == 0 {
		return nil, nil
	}
	_, err := d.post(ctx, "archive", map[string]any{"inputs": recordIDs})
	return nil, err
}

func dedupe[T any](xs []T, key func(T) string) []T {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if k := key(x); !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// matchErrors maps a 207's errors to the records they name: an error's
// context lists identifier values (ids, or the property it concerns). An
// error that names no record of the request fails every record not
// matched otherwise, so nothing HubSpot refused is taken as delivered.
func matchErrors(resp *batchResponse, idx []int, keys []string) map[int]string {
	if resp == nil || len(resp.Errors) == 0 {
		return nil
	}
	byKey := map[string][]int{}
	for n, k := range keys {
		byKey[k] = append(byKey[k], idx[n])
	}
	out := map[int]string{}
	var unmatched []string
	for _, e := range resp.Errors {
		msg := e.describe()
		hit := false
		for _, vals := range e.Context {
			for _, v := range vals {
				for _, i := range byKey[v] {
					out[i], hit = msg, true
				}
			}
		}
		if !hit {
			unmatched = append(unmatched, msg)
		}
	}
	if len(unmatched) > 0 {
		for _, i := range idx {
			if _, ok := out[i]; !ok {
				out[i] = "hubspot reported errors it did not tie to a record: " + unmatched[0]
			}
		}
	}
	return out
}
