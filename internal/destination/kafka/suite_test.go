package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios against an in-process
// Kafka cluster (kfake) that requires SASL: a record over
// max_message_bytes is refused alone (MESSAGE_TOO_LARGE), the storms are
// Produce answered with Kafka's retriable errors (NOT_ENOUGH_REPLICAS
// while the cluster cannot take writes, NOT_LEADER_FOR_PARTITION when a
// leader is lost), and a wrong password is refused at SASL authentication.
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(key, plan string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "plan", Value: plan}}}
	}
	const user, password, wrong = "riptide", "right-pw", "wr0ng-pw"
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			c := cluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", user, password))
			refuseLikeKafka(c, password)
			settings := func(pw string) connector.Settings {
				return connector.Settings{"brokers": c.ListenAddrs(), "topic": topic, "max_message_bytes": 1024,
					"sasl_mechanism": "plain", "sasl_username": user, "sasl_password": pw, "timeout": 3 * time.Second}
			}
			var injected atomic.Int64
			return destinationtest.Emulator{
				Settings:       settings(password),
				BadCredentials: settings(wrong),
				BadSecret:      wrong,
				Refusal:        "SASL_AUTHENTICATION_FAILED",
				FailNext: func(statuses ...int) {
					code := kerr.NotLeaderForPartition.Code
					if statuses[0] == 429 {
						code = kerr.NotEnoughReplicas.Code
					}
					for range statuses {
						c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
							injected.Add(1)
							return produceError(req.(*kmsg.ProduceRequest), code), nil, true
						})
					}
				},
				Injected: func() int { return int(injected.Load()) },
				Held:     func() map[string]bool { return readBack(t, c, user, password) },
			}
		},
		Target: connector.Target{Fields: []string{"email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i), "pro") },
		// Over max_message_bytes: the client refuses the record alone.
		Bad: func(int) connector.Record { return rec("bad", strings.Repeat("x", 4096)) },
		ID:  id,
		Skip: map[string]string{
			"oversized batch": "kafka: the client splits a batch into produce requests under max_message_bytes itself, so no batch is too large; a record too large on its own is the row refused",
		},
	})
}

// refuseLikeKafka makes the cluster answer a wrong PLAIN password as a
// Kafka broker does, with SASL_AUTHENTICATION_FAILED and its message,
// where kfake would close the connection without a word.
func refuseLikeKafka(c *kfake.Cluster, password string) {
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		auth := req.(*kmsg.SASLAuthenticateRequest)
		parts := strings.Split(string(auth.SASLAuthBytes), "\x00")
		if len(parts) != 3 || parts[2] == password {
			return nil, nil, false
		}
		resp := auth.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.Version = auth.Version
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
}

// produceError answers every partition of a Produce request with code.
func produceError(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = req.Version
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// readBack consumes the topic from the start until it has been quiet for
// a moment and folds it by key: a key is held when its last record is not
// a tombstone.
func readBack(t *testing.T, c *kfake.Cluster, user, password string) map[string]bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	held := map[string]bool{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Value == nil {
				delete(held, string(r.Key))
			} else {
				held[string(r.Key)] = true
			}
		})
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded {
				t.Fatalf("read %s back: %v", topic, e.Err)
			}
		}
		if n == 0 {
			return held
		}
	}
}
