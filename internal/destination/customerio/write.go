package customerio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends one batch as one /api/v2/batch request: an identify entry
// per upserted record and a delete entry per removed one (mirror). It
// returns *connector.RowErrors for the entries Customer.io refused (its
// 207 answer names them by batch_index), for records lacking the
// identifier and for entries over the 32 KB entry limit, and the
// *connector.RequestError of a request refused as a whole.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var entries []json.RawMessage
	var idx []int // idx[n] is the record of entries[n]
	size := len(`{"batch":[]}`)
	for i := range b.Records {
		raw, msg := d.entry(&b.Records[i])
		if msg != "" {
			failed[i] = msg
			continue
		}
		if len(raw) > MaxEntryBytes {
			failed[i] = fmt.Sprintf("entry too large: %d bytes encoded, Customer.io takes at most %d per batch entry", len(raw), MaxEntryBytes)
			continue
		}
		entries = append(entries, raw)
		idx = append(idx, i)
		size += len(raw) + 1
	}
	if len(entries) > 0 {
		if size > MaxBatchBytes {
			// Not retried: the engine splits the batch and sends the halves.
			return &connector.RequestError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("batch of %d bytes exceeds Customer.io's %d-byte request limit", size, MaxBatchBytes)}
		}
		errs, err := d.batch(ctx, entries)
		if err != nil {
			return err
		}
		for i, msg := range matchErrors(errs, idx) {
			failed[i] = msg
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// entry encodes a record as a batch entry, or says why it cannot.
func (d *Destination) entry(r *connector.Record) (json.RawMessage, string) {
	var id, action string
	var attrs json.RawMessage
	switch r.Op {
	case connector.OpUpsert, connector.OpUpdate:
		id, action = d.idValue(r), "identify"
		if id == "" {
			return nil, fmt.Sprintf("missing identifier: the record has no value for %s", d.identifier)
		}
		attrs = d.attributes(r)
	case connector.OpDelete:
		id, action = r.Key, "delete"
		if id == "" {
			return nil, "missing identifier: the removed row has no key"
		}
	default:
		return nil, fmt.Sprintf("operation %q is not supported by customerio", r.Op)
	}
	raw, err := json.Marshal(batchEntry{
		Type:        "person",
		Identifiers: map[string]string{d.identifier: id},
		Action:      action,
		Attributes:  attrs,
	})
	if err != nil {
		return nil, fmt.Sprintf("encode entry: %v", err)
	}
	return raw, ""
}

type batchEntry struct {
	Type        string            `json:"type"`
	Identifiers map[string]string `json:"identifiers"`
	Action      string            `json:"action"`
	Attributes  json.RawMessage   `json:"attributes,omitempty"`
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

// attributes is the JSON object of the mapped fields other than the
// identifier, which travels in identifiers. With identifier id an email
// field stays an attribute: it sets the person's email.
func (d *Destination) attributes(r *connector.Record) json.RawMessage {
	buf := []byte{'{'}
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

// matchErrors maps the entry errors of a 207 answer to the records by
// batch_index. An error naming no entry fails every record of the
// request, so nothing Customer.io refused is taken as delivered.
func matchErrors(errs []entryError, idx []int) map[int]string {
	if len(errs) == 0 {
		return nil
	}
	out := map[int]string{}
	var unmatched []string
	for _, e := range errs {
		if e.BatchIndex != nil && *e.BatchIndex >= 0 && *e.BatchIndex < len(idx) {
			out[idx[*e.BatchIndex]] = e.describe()
			continue
		}
		unmatched = append(unmatched, e.describe())
	}
	if len(unmatched) > 0 {
		for _, i := range idx {
			if _, ok := out[i]; !ok {
				out[i] = "customer.io reported errors it did not tie to a batch entry: " + unmatched[0]
			}
		}
	}
	return out
}
