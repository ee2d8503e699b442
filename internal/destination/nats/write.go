package nats

import (
	"context"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// MsgID is the Nats-Msg-Id of a record's message in a run: the stream
// drops a second message with the same ID within its duplicate window
// (two minutes by default), so a batch sent again after a lost ack is not
// stored twice.
func MsgID(runID, key string) string { return runID + ":" + key }

// Write publishes one batch and waits for every acknowledgement. Messages
// the stream refuses for themselves (too large, say) are reported as
// *connector.RowErrors; a lost connection or a missing ack as a plain
// error, so the batch is published again and deduplicated by its IDs.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(b.Records))
	for i := range b.Records {
		f, err := d.js.PublishMsgAsync(d.message(&b.Records[i]), jetstream.WithMsgID(MsgID(d.runID, b.Records[i].Key)))
		if err != nil {
			return fmt.Errorf("nats: publish batch %d to %s: %s", b.Seq, d.subject, d.redactor.Error(err))
		}
		futures[i] = f
	}
	var failed map[int]string
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if apiErr := apiError(err); apiErr != nil && apiErr.Code < 500 {
				if failed == nil {
					failed = map[int]string{}
				}
				failed[i] = d.redactor.Error(err)
				continue
			}
			return fmt.Errorf("nats: batch %d to %s: %s", b.Seq, d.subject, d.redactor.Error(err))
		case <-ctx.Done():
			return fmt.Errorf("nats: batch %d to %s: waiting for acks: %w", b.Seq, d.subject, context.Cause(ctx))
		}
	}
	if failed != nil {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// apiError returns the stream's own refusal inside err, if it is one.
func apiError(err error) *jetstream.APIError {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae
	}
	var je jetstream.JetStreamError
	if errors.As(err, &je) {
		return je.APIError()
	}
	return nil
}

// message builds a record's message: headers naming its op and key, and
// its body (empty for a bare delete).
func (d *Destination) message(r *connector.Record) *natsgo.Msg {
	m := natsgo.NewMsg(d.subject)
	m.Header.Set(HeaderOp, string(r.Op))
	m.Header.Set(HeaderKey, r.Key)
	switch {
	case d.envelope:
		m.Data = appendEnvelope(nil, r)
	case r.Op != connector.OpDelete:
		m.Data = appendData(make([]byte, 0, 64), r.Fields)
	}
	return m
}

// appendEnvelope appends {"op":…,"key":…,"data":{…}}; deletes carry no data.
func appendEnvelope(buf []byte, r *connector.Record) []byte {
	buf = append(buf, `{"op":`...)
	buf = value.AppendJSONString(buf, string(r.Op))
	buf = append(buf, `,"key":`...)
	buf = value.AppendJSONString(buf, r.Key)
	if r.Op != connector.OpDelete {
		buf = append(buf, `,"data":`...)
		buf = appendData(buf, r.Fields)
	}
	return append(buf, '}')
}

// appendData appends the fields as a JSON object in mapping order, with
// the values' exact canonical JSON (decimals as written).
func appendData(buf []byte, fields []connector.FieldValue) []byte {
	buf = append(buf, '{')
	for j := range fields {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = value.AppendJSONString(buf, fields[j].Name)
		buf = append(buf, ':')
		buf = value.AppendJSON(buf, fields[j].Value)
	}
	return append(buf, '}')
}
