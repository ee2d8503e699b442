package rabbitmq

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios against the local
// RabbitMQ, through a proxy that can break the destination's connections
// (the 5xx); a wrong password for guest is the bad credentials.
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "plan", Value: "pro"}}}
	}
	const wrong = "wr0ng-pw"
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			ch, q := queue(t)
			proxy := destinationtest.NewProxy(t, "127.0.0.1:5672")
			url := func(pw string) string { return fmt.Sprintf("amqp://guest:%s@%s/", pw, proxy.Addr()) }
			held := map[string]bool{}
			return destinationtest.Emulator{
				Settings:       connector.Settings{"url": url("guest"), "routing_key": q},
				BadCredentials: connector.Settings{"url": url(wrong), "routing_key": q},
				BadSecret:      wrong,
				Refusal:        "username or password not allowed",
				FailNext:       func(statuses ...int) { proxy.Cut(len(statuses)) },
				Injected:       proxy.Failures,
				// The queue read to its end, folded by key into what is
				// held so far: a key whose last message is a delete is not.
				Held: func() map[string]bool {
					for {
						m, ok, err := ch.Get(q, true)
						if err != nil {
							t.Fatalf("read queue %s back: %v", q, err)
						}
						if !ok {
							break
						}
						key, _ := m.Headers[HeaderKey].(string)
						if op, _ := m.Headers[HeaderOp].(string); op == string(connector.OpDelete) {
							delete(held, key)
						} else {
							held[key] = true
						}
					}
					out := make(map[string]bool, len(held))
					for k := range held {
						out[k] = true
					}
					return out
				},
			}
		},
		Target: connector.Target{Fields: []string{"email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i)) },
		ID:     id,
		Skip: map[string]string{
			"row refused":     "rabbitmq: the broker judges no message by its content; a queue refuses (nacks) by its length, not for a given record",
			"429 storm":       "rabbitmq: a broker under load blocks publishers (flow control, connection.blocked) rather than refusing them; the 5xx scenario breaks connections",
			"oversized batch": "rabbitmq: a batch is many messages on one channel, with no size of its own to refuse",
		},
	})
}
