package segment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends one batch as one POST /v1/batch. Records that cannot become
// a message (no userId, over the 32 KB per-call limit) fail as
// *connector.RowErrors and are left out of the request; a request Segment
// refuses as a whole comes back as its *connector.RequestError. A request
// body over 500 KB is not sent: a non-retryable error makes the delivery
// layer split the batch.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	body := []byte(`{"batch":[`)
	sent := 0
	for i := range b.Records {
		msg, err := d.message(&b.Records[i])
		if err != nil {
			failed[i] = err.Error()
			continue
		}
		if sent > 0 {
			body = append(body, ',')
		}
		body = append(body, msg...)
		sent++
	}
	if sent > 0 {
		body = append(body, `],"sentAt":`...)
		body = value.AppendJSONString(body, d.now().UTC().Format(time.RFC3339Nano))
		body = append(body, '}')
		if len(body) > MaxBatchBody {
			return &connector.RequestError{Message: fmt.Sprintf("segment: a batch of %d messages is %d bytes, over the batch endpoint's %d-byte limit", sent, len(body), MaxBatchBody)}
		}
		if err := d.post(ctx, body); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// message encodes one record as a Segment call: identify (traits = the
// mapped fields), track (properties = the mapped fields), or for a removed
// row an identify setting delete_trait to true.
func (d *Destination) message(r *connector.Record) ([]byte, error) {
	userID, err := d.userID(r)
	if err != nil {
		return nil, err
	}
	typ, bag := "identify", "traits"
	switch {
	case r.Op == connector.OpDelete && d.deleteTrait == "":
		return nil, fmt.Errorf("segment cannot delete: set delete_trait to mark removed rows")
	case r.Op == connector.OpDelete:
	case d.event != "":
		typ, bag = "track", "properties"
	}
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"type":`...)
	buf = value.AppendJSONString(buf, typ)
	buf = append(buf, `,"userId":`...)
	buf = value.AppendJSONString(buf, userID)
	if typ == "track" {
		buf = append(buf, `,"event":`...)
		buf = value.AppendJSONString(buf, d.event)
	}
	buf = append(buf, `,"`+bag+`":{`...)
	if r.Op == connector.OpDelete {
		buf = value.AppendJSONString(buf, d.deleteTrait)
		buf = append(buf, `:true`...)
	} else {
		for n, f := range r.Fields {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = value.AppendJSONString(buf, f.Name)
			buf = append(buf, ':')
			buf = value.AppendJSON(buf, f.Value)
		}
	}
	buf = append(buf, `},"messageId":`...)
	buf = value.AppendJSONString(buf, d.messageID(typ, r.Key))
	buf = append(buf, `,"timestamp":`...)
	buf = value.AppendJSONString(buf, d.sentAt.Format(time.RFC3339Nano))
	buf = append(buf, `,"context":{"library":{"name":"riptide"}}}`...)
	if len(buf) > MaxMessage {
		return nil, fmt.Errorf("message is %d bytes, over Segment's %d-byte limit per call", len(buf), MaxMessage)
	}
	return buf, nil
}

// userID is the record's userId: its identifier field, or by default (and
// always for a removed row, which carries no fields) its primary key.
func (d *Destination) userID(r *connector.Record) (string, error) {
	if d.identifier == "" || r.Op == connector.OpDelete {
		if r.Key == "" {
			return "", fmt.Errorf("missing userId: the record has no primary key")
		}
		return r.Key, nil
	}
	v, ok := r.Field(d.identifier)
	if !ok || v == nil || value.Text(v) == "" {
		return "", fmt.Errorf("missing userId: the record has no value for %s", d.identifier)
	}
	return value.Text(v), nil
}

// messageID is stable for a record within a run, so a retried request
// carries the same ids and Segment drops the duplicates.
func (d *Destination) messageID(typ, key string) string {
	h := sha256.New()
	for _, s := range []string{d.runID, typ, d.event, key} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "riptide-" + hex.EncodeToString(h.Sum(nil)[:16])
}
