package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// MessageID is the message-id property of a record's message in a run,
// the same when a batch is sent again, for consumers that deduplicate.
func MessageID(runID, key string) string { return runID + ":" + key }

// Write publishes one batch on a channel of its own in confirm mode and
// waits for every confirmation. Messages are mandatory: one no queue
// receives comes back (basic.return) and fails its record, as does one the
// broker nacks (*connector.RowErrors). A broken connection or channel is a
// plain error, so the batch is sent again.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	conn, err := d.connection()
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		// The connection is broken even when the client has not noticed
		// yet (a write failed): the next attempt dials a new one.
		d.discard(conn)
		return d.failure(b, "open channel", err)
	}
	defer ch.Close()
	// Why the broker closes the channel, if it does: a channel error
	// (406 for a message over max_message_size) only shows as "channel
	// closed" to the calls that were waiting.
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Confirm(false); err != nil {
		return d.failure(b, "enable publisher confirms", err)
	}
	// The broker sends a message's return before its confirmation, and the
	// client queues returns as they arrive: sized for the whole batch,
	// this buffer never blocks the client and holds every return by the
	// time the last confirmation is in.
	returns := ch.NotifyReturn(make(chan amqp.Return, len(b.Records)))

	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	confirms := make([]*amqp.DeferredConfirmation, len(b.Records))
	index := make(map[string]int, len(b.Records))
	for i := range b.Records {
		msg := d.message(&b.Records[i])
		index[msg.MessageId] = i
		confirms[i], err = ch.PublishWithDeferredConfirmWithContext(ctx, d.exchange, d.key, true, false, msg)
		if err != nil {
			return d.failure(b, "publish", closeReason(closed, err))
		}
	}
	var failed map[int]string
	fail := func(i int, msg string) {
		if failed == nil {
			failed = map[int]string{}
		}
		failed[i] = msg
	}
	for i, c := range confirms {
		acked, err := c.WaitContext(ctx)
		if err != nil {
			return d.failure(b, "wait for confirmation", closeReason(closed, err))
		}
		if !acked {
			fail(i, "nacked by the broker")
		}
	}
drain:
	for {
		select {
		case r := <-returns:
			if i, ok := index[r.MessageId]; ok {
				fail(i, fmt.Sprintf("returned by the broker: %d %s (no queue bound to exchange %q with routing key %q)", r.ReplyCode, r.ReplyText, r.Exchange, r.RoutingKey))
			}
		default:
			break drain
		}
	}
	if failed != nil {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// failure reports a batch that could not be published: refused
// credentials or permissions stop the run, anything else is retried.
func (d *Destination) failure(b *connector.Batch, doing string, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.AccessRefused {
		return &connector.RequestError{Auth: true, Message: "rabbitmq: " + doing + ": " + d.redactor.Error(err)}
	}
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		// The broker refused what was published (a message over its
		// max_message_size): not worth resending as it is; the delivery
		// layer splits the batch until the record at fault stands alone.
		return &connector.RequestError{Message: "rabbitmq: " + doing + ": " + d.redactor.Error(err)}
	}
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		// The exchange does not exist: each record is refused for it, and
		// the run's errors say why.
		return &connector.RequestError{Message: "rabbitmq: " + doing + ": " + d.redactor.Error(err)}
	}
	return fmt.Errorf("rabbitmq: batch %d: %s: %s", b.Seq, doing, d.redactor.Error(err))
}

// closeReason prefers the broker's reason for closing the channel, when it
// gave one, over the error a waiting call saw.
func closeReason(closed <-chan *amqp.Error, err error) error {
	// The close frame with the reason may trail the error by a moment;
	// other errors do not wait for one.
	wait := closedNow
	if errors.Is(err, amqp.ErrClosed) {
		wait = time.After(closeReasonWait)
	}
	select {
	case ae, ok := <-closed:
		if ok && ae != nil {
			return ae
		}
	case <-wait:
	}
	return err
}

const closeReasonWait = 250 * time.Millisecond

// closedNow is a channel that is ready at once.
var closedNow = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// message builds a record's message: persistent, JSON, with headers naming
// its op and key, and its body (empty for a bare delete).
func (d *Destination) message(r *connector.Record) amqp.Publishing {
	m := amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    MessageID(d.runID, r.Key),
		Headers:      amqp.Table{HeaderOp: string(r.Op), HeaderKey: r.Key},
	}
	switch {
	case d.envelope:
		m.Body = appendEnvelope(nil, r)
	case r.Op != connector.OpDelete:
		m.Body = appendData(make([]byte, 0, 64), r.Fields)
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
