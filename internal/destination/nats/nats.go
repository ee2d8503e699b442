// Package nats is the NATS JetStream destination: one message per record
// on the sync's subject, published asynchronously and counted delivered
// only when the stream acknowledges it. A Nats-Msg-Id made of the run ID
// and the record key lets the stream drop the duplicates a retried batch
// would otherwise add.
package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// Headers of every message.
const (
	HeaderOp  = "Riptide-Op"
	HeaderKey = "Riptide-Key"
)

// Plugin returns the nats destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "nats",
		Summary: "Publish one NATS JetStream message per record, acknowledged by the stream and deduplicated by Nats-Msg-Id",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Default: "nats://127.0.0.1:4222", Doc: "Server URL(s), comma-separated; nats://user:password@host:port or tls://. Give credentials through ${VAR}; a password is masked in every message."},
			{Name: "subject", Kind: connector.KindString, Doc: "Subject used when a sync sets no object."},
			{Name: "stream", Kind: connector.KindString, Doc: "Stream to create, bound to the subject, when it does not exist; empty: a stream must already capture the subject."},
			{Name: "envelope", Kind: connector.KindBool, Default: false, Doc: `Wrap each body as {"op","key","data"}; otherwise the body is the bare data object and a delete has an empty body.`},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for a batch to be acknowledged; a batch that runs out is retried."},
		},
		Limits: connector.Limits{BatchSize: 1000, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination publishes one sync's records to a subject.
type Destination struct {
	conn     *natsgo.Conn
	js       jetstream.JetStream
	subject  string
	runID    string
	envelope bool
	timeout  time.Duration
	redactor *redact.Redactor
}

// New connects and makes sure a stream captures the subject (the sync's
// object, or else subject): the configured stream is created when missing,
// and without one a stream must exist, so a misconfiguration fails the run
// at once instead of every publish.
func New(ctx context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	raw := settings.String("url")
	red := redact.New([]string{redact.URLPassword(raw)})
	subject := target.Object
	if subject == "" {
		subject = settings.String("subject")
	}
	if subject == "" {
		return nil, fmt.Errorf("nats: no subject: set the sync's object or the destination's subject")
	}
	timeout := settings.Duration("timeout")
	if timeout <= 0 {
		return nil, fmt.Errorf("nats: timeout must be positive")
	}
	conn, err := natsgo.Connect(raw, natsgo.Name("riptide"), natsgo.Timeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %s", red.String(raw), red.Error(err))
	}
	// Room for every batch in flight, so publishing never stalls on the
	// client's own pending limit.
	js, err := jetstream.New(conn, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(timeout))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats: jetstream: %s", red.Error(err))
	}
	if err := ensureStream(ctx, js, settings.String("stream"), subject); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats: %s", red.Error(err))
	}
	return &Destination{
		conn:     conn,
		js:       js,
		subject:  subject,
		runID:    target.RunID,
		envelope: settings.Bool("envelope"),
		timeout:  timeout,
		redactor: red,
	}, nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, stream, subject string) error {
	if stream == "" {
		if _, err := js.StreamNameBySubject(ctx, subject); err != nil {
			return fmt.Errorf("no stream captures subject %q (set stream to create one): %w", subject, err)
		}
		return nil
	}
	_, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}})
		if err != nil {
			return fmt.Errorf("create stream %s for subject %q: %w", stream, subject, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", stream, err)
	}
	return nil
}

// Close drains nothing (every Write waited for its acks) and closes the
// connection.
func (d *Destination) Close(context.Context) error {
	d.conn.Close()
	return nil
}
