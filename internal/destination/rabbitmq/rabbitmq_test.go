package rabbitmq

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/value"
)

const testURL = "amqp://guest:guest@127.0.0.1:5672/"

// queue declares a temporary server-named queue on the local broker (gone
// when the test's connection closes) and returns a channel and its name.
// Under CI=true a missing broker fails the test; elsewhere it is skipped.
func queue(t *testing.T) (*amqp.Channel, string) {
	t.Helper()
	conn, err := amqp.DialConfig(testURL, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		start := "rabbitmq-server -detached"
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ on 127.0.0.1:5672 is not reachable (%v); CI must start it: %s", err, start)
		}
		t.Skipf("RabbitMQ on 127.0.0.1:5672 is not reachable (%v); start it to run this test: %s", err, start)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ch, q.Name
}

func open(t *testing.T, extra connector.Settings, object string) *Destination {
	t.Helper()
	set := connector.Settings{"url": testURL}
	for k, v := range extra {
		set[k] = v
	}
	set = spec().WithDefaults(set)
	if err := spec().Check(set); err != nil {
		t.Fatal(err)
	}
	dst, err := Plugin().New(t.Context(), set, connector.Target{RunID: "run-1", Object: object}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close(context.Background()) })
	return dst.(*Destination)
}

func rec(op connector.Op, key string, kv ...any) connector.Record {
	r := connector.Record{Op: op, Key: key, KeyParts: []string{key}}
	for i := 0; i < len(kv); i += 2 {
		r.Fields = append(r.Fields, connector.FieldValue{Name: kv[i].(string), Value: kv[i+1]})
	}
	return r
}

// message is what a consumer sees of one message.
type message struct {
	ID, Op, Key, Body, ContentType string
	Persistent                     bool
}

// received takes every message waiting in the queue.
func received(t *testing.T, ch *amqp.Channel, q string) []message {
	t.Helper()
	var out []message
	for {
		d, ok, err := ch.Get(q, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		op, _ := d.Headers[HeaderOp].(string)
		key, _ := d.Headers[HeaderKey].(string)
		out = append(out, message{ID: d.MessageId, Op: op, Key: key, Body: string(d.Body), ContentType: d.ContentType, Persistent: d.DeliveryMode == amqp.Persistent})
	}
}

func TestPublish(t *testing.T) {
	batch := &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "42", "zeta", "q\"uote", "mrr", value.Decimal("1234567890.123456789012"), "none", nil),
		rec(connector.OpDelete, "7"),
	}}
	tests := []struct {
		name     string
		envelope bool
		bodies   []string
	}{
		{"bare data, empty delete", false, []string{`{"zeta":"q\"uote","mrr":1234567890.123456789012,"none":null}`, ``}},
		{"envelope", true, []string{`{"op":"upsert","key":"42","data":{"zeta":"q\"uote","mrr":1234567890.123456789012,"none":null}}`, `{"op":"delete","key":"7"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, q := queue(t)
			dst := open(t, connector.Settings{"envelope": tc.envelope}, q)
			if err := dst.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			want := []message{
				{ID: "run-1:42", Op: "upsert", Key: "42", Body: tc.bodies[0], ContentType: "application/json", Persistent: true},
				{ID: "run-1:7", Op: "delete", Key: "7", Body: tc.bodies[1], ContentType: "application/json", Persistent: true},
			}
			if diff := cmp.Diff(want, received(t, ch, q)); diff != "" {
				t.Errorf("queue (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnroutable: messages no queue receives are returned and fail their
// records instead of vanishing.
func TestUnroutable(t *testing.T) {
	_, q := queue(t) // the broker must be up
	dst := open(t, nil, q+".nowhere")
	err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "a", "n", int64(1)),
		rec(connector.OpUpsert, "b", "n", int64(2)),
	}})
	var rows *connector.RowErrors
	if !errors.As(err, &rows) {
		t.Fatalf("err = %v, want RowErrors", err)
	}
	if len(rows.Failed) != 2 || !strings.Contains(rows.Failed[0], "NO_ROUTE") {
		t.Errorf("failed = %v, want both records NO_ROUTE", rows.Failed)
	}
}

// TestReconnect: a connection the broker closed is replaced on the next
// batch.
func TestReconnect(t *testing.T) {
	ch, q := queue(t)
	dst := open(t, nil, q)
	dst.conn.Close()
	if err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{rec(connector.OpUpsert, "a", "n", int64(1))}}); err != nil {
		t.Fatal(err)
	}
	if got := received(t, ch, q); len(got) != 1 || got[0].Key != "a" {
		t.Errorf("received %v, want record a", got)
	}
}

func TestNewErrors(t *testing.T) {
	queue(t) // the broker must be up for the credentials case
	tests := []struct {
		name     string
		settings connector.Settings
		object   string
		want     string
	}{
		{"no routing key", connector.Settings{}, "", "no routing key"},
		{"wrong password, masked", connector.Settings{"url": "amqp://guest:wr0ng-pw@127.0.0.1:5672/"}, "q", "connect to"},
		{"unreachable", connector.Settings{"url": "amqp://guest:wr0ng-pw@127.0.0.1:1/", "timeout": time.Second}, "q", "connect to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), spec().WithDefaults(tc.settings), connector.Target{Object: tc.object}, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "wr0ng-pw") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestFailureClassification: a channel closed by the broker for what was
// published (406, a message over max_message_size) is the batch's fault,
// split until the record stands alone; refused access stops the run; a
// broken connection is retried.
func TestFailureClassification(t *testing.T) {
	d := &Destination{redactor: redact.New(nil)}
	b := &connector.Batch{Seq: 4}
	reason := &amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - message size 2048 is larger than configured max size 1024", Server: true}
	tests := []struct {
		name      string
		closed    *amqp.Error // the broker's close reason, if any
		err       error
		retryable bool // a plain error: the batch is sent again
		auth      bool
		want      string
	}{
		{"message too large, reason known", reason, amqp.ErrClosed, false, false, "message size 2048 is larger than configured max size 1024"},
		{"message too large, as the error", nil, reason, false, false, "PRECONDITION_FAILED"},
		{"access refused", nil, &amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED"}, false, true, "ACCESS_REFUSED"},
		{"connection lost", nil, errors.New("connection reset by peer"), true, false, "batch 4: publish: connection reset by peer"},
		{"closed without a reason", nil, amqp.ErrClosed, true, false, "channel/connection is not open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan *amqp.Error, 1)
			if tt.closed != nil {
				closed <- tt.closed
			} else {
				close(closed)
			}
			err := d.failure(b, "publish", closeReason(closed, tt.err))
			var re *connector.RequestError
			isReq := errors.As(err, &re)
			if isReq == tt.retryable || isReq && (re.Auth != tt.auth || re.Retryable) {
				t.Fatalf("%#v: want retryable=%v auth=%v", err, tt.retryable, tt.auth)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want it to contain %q", err, tt.want)
			}
		})
	}
}
