// Package kafka is the Kafka destination: one record per row, keyed by the
// primary key, its value the mapped fields as a JSON object (or an
// envelope), a delete a tombstone. It produces through franz-go and waits
// for each batch's acknowledgements before reporting it delivered.
package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// HeaderOp is the record header naming the record's op.
const HeaderOp = "riptide-op"

// Plugin returns the kafka destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "kafka",
		Summary: "Produce one Kafka record per row: key = primary key, value = JSON, delete = tombstone",
		Fields: []connector.Field{
			{Name: "brokers", Kind: connector.KindList, Required: true, Doc: "Seed brokers, host:port each."},
			{Name: "topic", Kind: connector.KindString, Doc: "Topic used when a sync sets no object."},
			{Name: "client_id", Kind: connector.KindString, Default: "riptide", Doc: "Client ID the brokers see (quotas, logs)."},
			{Name: "acks", Kind: connector.KindString, Default: "all", Enum: []string{"all", "leader"}, Doc: "all: a record counts as delivered once every in-sync replica has it (idempotent producer); leader: once the partition leader has it."},
			{Name: "envelope", Kind: connector.KindBool, Default: false, Doc: `Wrap each value as {"op","key","data"}; deletes are then envelope records instead of tombstones.`},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for a batch to be acknowledged; a batch that runs out is retried."},
			{Name: "max_message_bytes", Kind: connector.KindInt, Default: 1000012, Doc: "Largest record batch the client sends (Kafka's max.message.bytes); a record larger than this fails alone."},
			{Name: "tls", Kind: connector.KindBool, Default: false, Doc: "Connect with TLS (system roots)."},
			{Name: "sasl_mechanism", Kind: connector.KindString, Enum: []string{"", "plain", "scram-sha-256", "scram-sha-512"}, Doc: "SASL mechanism: plain, scram-sha-256 or scram-sha-512; empty for none."},
			{Name: "sasl_username", Kind: connector.KindString, Doc: "SASL user."},
			{Name: "sasl_password", Kind: connector.KindString, Secret: true, Doc: "SASL password."},
		},
		Limits: connector.Limits{BatchSize: 1000, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination produces one sync's records to a topic.
type Destination struct {
	client   *kgo.Client
	topic    string
	envelope bool
	timeout  time.Duration
	redactor *redact.Redactor
}

// New builds the destination for one sync's run and checks that a broker
// answers. The sync's object, or else topic, is the topic.
func New(ctx context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	password := settings.String("sasl_password")
	red := redact.New([]string{password})
	brokers := settings.List("brokers")
	if len(brokers) == 0 {
		return nil, fmt.Errorf("kafka: brokers: give at least one host:port")
	}
	topic := target.Object
	if topic == "" {
		topic = settings.String("topic")
	}
	if topic == "" {
		return nil, fmt.Errorf("kafka: no topic: set the sync's object or the destination's topic")
	}
	timeout := settings.Duration("timeout")
	if timeout <= 0 {
		return nil, fmt.Errorf("kafka: timeout must be positive")
	}
	maxBytes := settings.Int("max_message_bytes")
	if maxBytes < 512 || maxBytes > 1<<30 {
		return nil, fmt.Errorf("kafka: max_message_bytes must be between 512 and %d, not %d", 1<<30, maxBytes)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(settings.String("client_id")),
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
		// Bound the client's own retrying so a batch comes back to the
		// delivery layer, which owns retries and backoff.
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProduceRequestTimeout(timeout),
	}
	switch settings.String("acks") {
	case "", "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		// The idempotent producer requires acks from all replicas.
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("kafka: acks must be all or leader, not %q", settings.String("acks"))
	}
	if settings.Bool("tls") {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	user := settings.String("sasl_username")
	switch mech := strings.ToLower(settings.String("sasl_mechanism")); mech {
	case "":
		if user != "" || password != "" {
			return nil, fmt.Errorf("kafka: sasl_username and sasl_password need sasl_mechanism")
		}
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka: sasl_mechanism must be plain, scram-sha-256 or scram-sha-512, not %q", mech)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: configure client: %s", red.Error(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Ping(pingCtx); err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka: connect to %s: %s", strings.Join(brokers, ","), red.Error(err))
	}
	return &Destination{
		client:   client,
		topic:    topic,
		envelope: settings.Bool("envelope"),
		timeout:  timeout,
		redactor: red,
	}, nil
}

// Close flushes nothing (every Write waited for its records) and closes
// the client's connections.
func (d *Destination) Close(context.Context) error {
	d.client.Close()
	return nil
}
