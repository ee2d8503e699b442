package intercom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// standard are the contact fields Intercom takes at the top level of a
// create or update body; every other mapped field is a custom attribute.
var standard = map[string]bool{
	"role": true, "external_id": true, "email": true, "phone": true, "name": true,
	"avatar": true, "signed_up_at": true, "last_seen_at": true, "owner_id": true,
	"unsubscribed_from_emails": true,
}

// unixFields are standard fields Intercom takes as Unix seconds.
var unixFields = map[string]bool{"signed_up_at": true, "last_seen_at": true}

// Write writes each record of the batch (one, as the spec declares:
// Intercom has no batch endpoint) with its own requests. Intercom's
// refusal of one record (400, 404, 409, 422) is a *connector.RowErrors
// entry for it; a request refused as a whole (401/403, 429, 5xx) is
// returned as the *connector.RequestError, and the delivery layer retries
// or stops the run.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	for i := range b.Records {
		msg, err := d.writeRecord(ctx, &b.Records[i])
		var re *connector.RequestError
		switch {
		case err == nil:
			if msg != "" {
				failed[i] = msg
			}
		case errors.As(err, &re) && rowLevel(re):
			failed[i] = re.Message
		default:
			return err
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// rowLevel reports whether a refusal concerns the record rather than the
// request: a bad value, a missing contact, a conflict.
func rowLevel(e *connector.RequestError) bool {
	if e.Auth || e.Retryable {
		return false
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// writeRecord carries out one record; it returns why the record fails
// when that is known without asking Intercom.
func (d *Destination) writeRecord(ctx context.Context, r *connector.Record) (string, error) {
	switch r.Op {
	case connector.OpDelete:
		if r.Key == "" {
			return "missing identifier: the removed row has no key", nil
		}
		c, err := d.search(ctx, r.Key)
		if err != nil || c == nil {
			return "", err // archiving a contact Intercom lacks is done
		}
		return "", d.call(ctx, http.MethodPost, "/contacts/"+url.PathEscape(c.ID)+"/archive", nil, nil)
	case connector.OpInsert, connector.OpUpdate, connector.OpUpsert:
	default:
		return fmt.Sprintf("operation %q is not supported by intercom", r.Op), nil
	}
	id := d.idValue(r)
	if id == "" {
		return fmt.Sprintf("missing identifier: the record has no value for %s", d.identifier), nil
	}
	body := d.body(r)
	if r.Op == connector.OpInsert {
		// Create only: Intercom answers 409 for a contact that exists.
		return "", d.create(ctx, body)
	}
	c, err := d.search(ctx, id)
	if err != nil {
		return "", err
	}
	if c != nil {
		return "", d.call(ctx, http.MethodPut, "/contacts/"+url.PathEscape(c.ID), body, nil)
	}
	if r.Op == connector.OpUpdate {
		return fmt.Sprintf("not found: Intercom has no contact with %s %s", d.identifier, id), nil
	}
	return "", d.create(ctx, body)
}

func (d *Destination) create(ctx context.Context, body map[string]any) error {
	if _, ok := body["role"]; !ok {
		body["role"] = d.role
	}
	return d.call(ctx, http.MethodPost, "/contacts", body, nil)
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

// body is the create or update body of a record: standard fields at the
// top level, the others under custom_attributes. Timestamps of
// signed_up_at and last_seen_at go as Unix seconds, as Intercom takes
// them; other values keep their JSON types.
func (d *Destination) body(r *connector.Record) map[string]any {
	out := map[string]any{}
	custom := map[string]any{}
	for _, f := range r.Fields {
		v := jsonValue(f.Value)
		if standard[f.Name] {
			if t, ok := f.Value.(time.Time); ok && unixFields[f.Name] {
				v = t.Unix()
			}
			out[f.Name] = v
			continue
		}
		custom[f.Name] = v
	}
	if len(custom) > 0 {
		out["custom_attributes"] = custom
	}
	return out
}

// jsonValue is a canonical value as the JSON value AppendJSON encodes,
// wrapped so encoding/json writes it unchanged.
func jsonValue(v any) any {
	if v == nil {
		return nil
	}
	return rawJSON(value.AppendJSON(nil, v))
}

type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// search finds the contact whose identifier field equals id; nil when
// Intercom holds none. Of several (an email shared by a user and a lead),
// the first Intercom lists is taken.
func (d *Destination) search(ctx context.Context, id string) (*contact, error) {
	q := map[string]any{
		"query":      map[string]any{"field": d.identifier, "operator": "=", "value": id},
		"pagination": map[string]any{"per_page": 1},
	}
	var out struct {
		Data []contact `json:"data"`
	}
	if err := d.call(ctx, http.MethodPost, "/contacts/search", q, &out); err != nil {
		return nil, err
	}
	if len(out.Data) == 0 {
		return nil, nil
	}
	if out.Data[0].ID == "" {
		return nil, &connector.RequestError{Status: http.StatusOK, Message: "intercom: search answered a contact without an id"}
	}
	return &out.Data[0], nil
}

type contact struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
	Role       string `json:"role"`
}
