package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write produces one batch and waits until every record is acknowledged
// or has failed. Records Kafka refuses for themselves (too large, invalid)
// are reported as *connector.RowErrors; a refused authorization as an
// auth *connector.RequestError; anything transient (no leader, timeout,
// broker unreachable) as a plain error, so the batch is sent again —
// at-least-once, and keyed, so compacted topics keep the last value.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	recs := make([]*kgo.Record, len(b.Records))
	for i := range b.Records {
		recs[i] = d.record(&b.Records[i])
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	results := d.client.ProduceSync(ctx, recs...)

	var failed map[int]string
	var transient error
	var index map[*kgo.Record]int
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		switch {
		case isAuth(r.Err):
			return &connector.RequestError{Auth: true, Message: "kafka: " + d.redactor.Error(r.Err)}
		case permanent(r.Err):
			if failed == nil {
				failed = map[int]string{}
				// Results come in the order records finished, not the
				// order they were given.
				index = make(map[*kgo.Record]int, len(recs))
				for i, rec := range recs {
					index[rec] = i
				}
			}
			if i, ok := index[r.Record]; ok {
				failed[i] = d.redactor.Error(r.Err)
			} else if transient == nil {
				transient = r.Err // not ours to place: resend the batch
			}
		case transient == nil:
			transient = r.Err
		}
	}
	if transient != nil {
		return fmt.Errorf("kafka: produce batch %d to %s: %s", b.Seq, d.topic, d.redactor.Error(transient))
	}
	if failed != nil {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// record builds the Kafka record of a row.
func (d *Destination) record(r *connector.Record) *kgo.Record {
	rec := &kgo.Record{
		Topic:   d.topic,
		Key:     []byte(r.Key),
		Headers: []kgo.RecordHeader{{Key: HeaderOp, Value: []byte(r.Op)}},
	}
	switch {
	case d.envelope:
		rec.Value = appendEnvelope(nil, r)
	case r.Op == connector.OpDelete:
		rec.Value = nil // a tombstone: compaction removes the key
	default:
		rec.Value = appendData(make([]byte, 0, 64), r.Fields)
	}
	return rec
}

// isAuth reports a refusal of our credentials or permissions.
func isAuth(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// permanent reports an error that sending the same record again cannot
// fix: Kafka's non-retriable errors, such as MESSAGE_TOO_LARGE.
func permanent(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && !ke.Retriable
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
