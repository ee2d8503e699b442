// Package rabbitmq is the RabbitMQ destination: one persistent AMQP 0-9-1
// message per record, published to an exchange with the sync's object as
// routing key, under publisher confirms. A batch counts as delivered only
// when the broker has confirmed every message and routed each to a queue.
package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// Headers of every message.
const (
	HeaderOp  = "riptide-op"
	HeaderKey = "riptide-key"
)

// Plugin returns the rabbitmq destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "rabbitmq",
		Summary: "Publish one persistent RabbitMQ message per record under publisher confirms; routing key = object",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Default: "amqp://guest:guest@127.0.0.1:5672/", Doc: "Broker URL, amqp://user:password@host:port/vhost or amqps://. The default is RabbitMQ's local guest account; elsewhere give it as ${RABBITMQ_URL}. The password is masked in every message."},
			{Name: "exchange", Kind: connector.KindString, Default: "", Doc: `Exchange to publish to; "" is the default exchange, which routes to the queue named by the routing key.`},
			{Name: "routing_key", Kind: connector.KindString, Doc: "Routing key used when a sync sets no object."},
			{Name: "envelope", Kind: connector.KindBool, Default: false, Doc: `Wrap each body as {"op","key","data"}; otherwise the body is the bare data object and a delete has an empty body.`},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for a batch to be confirmed; a batch that runs out is retried."},
		},
		Limits: connector.Limits{BatchSize: 1000, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination publishes one sync's records.
type Destination struct {
	url      string
	exchange string
	key      string
	runID    string
	envelope bool
	timeout  time.Duration
	redactor *redact.Redactor

	mu   sync.Mutex
	conn *amqp.Connection // replaced when the broker closed it
}

// New connects to the broker; the sync's object, or else routing_key, is
// the routing key.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	raw := settings.String("url")
	red := redact.New([]string{redact.URLPassword(raw)})
	key := target.Object
	if key == "" {
		key = settings.String("routing_key")
	}
	if key == "" {
		return nil, fmt.Errorf("rabbitmq: no routing key: set the sync's object or the destination's routing_key")
	}
	timeout := settings.Duration("timeout")
	if timeout <= 0 {
		return nil, fmt.Errorf("rabbitmq: timeout must be positive")
	}
	d := &Destination{
		url:      raw,
		exchange: settings.String("exchange"),
		key:      key,
		runID:    target.RunID,
		envelope: settings.Bool("envelope"),
		timeout:  timeout,
		redactor: red,
	}
	if _, err := d.connection(); err != nil {
		return nil, err
	}
	return d, nil
}

// connection returns the open connection, dialling a new one when the
// broker closed the last.
func (d *Destination) connection() (*amqp.Connection, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil && !d.conn.IsClosed() {
		return d.conn, nil
	}
	conn, err := amqp.DialConfig(d.url, amqp.Config{
		Dial:       amqp.DefaultDial(d.timeout),
		Properties: amqp.Table{"connection_name": "riptide"},
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: connect to %s: %s", d.redactor.String(d.url), d.redactor.Error(err))
	}
	d.conn = conn
	return conn, nil
}

// discard drops conn, so that the next write connects again.
func (d *Destination) discard(conn *amqp.Connection) {
	d.mu.Lock()
	if d.conn == conn {
		d.conn = nil
	}
	d.mu.Unlock()
	conn.Close()
}

// Close closes the connection.
func (d *Destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil || d.conn.IsClosed() {
		return nil
	}
	if err := d.conn.Close(); err != nil {
		return fmt.Errorf("rabbitmq: close: %s", d.redactor.Error(err))
	}
	return nil
}
