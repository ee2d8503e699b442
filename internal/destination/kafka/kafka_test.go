package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

const topic = "users"

// cluster starts an in-process Kafka cluster (listening on 127.0.0.1) with
// the test topic.
func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func open(t *testing.T, c *kfake.Cluster, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"brokers": c.ListenAddrs(), "topic": topic}
	for k, v := range extra {
		set[k] = v
	}
	set = spec().WithDefaults(set)
	if err := spec().Check(set); err != nil {
		t.Fatal(err)
	}
	dst, err := Plugin().New(t.Context(), set, connector.Target{Sync: "s", RunID: "run-1", Mode: "mirror"}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close(context.Background()) })
	return dst.(*Destination)
}

// message is what a consumer sees of one record.
type message struct {
	Key, Value, Op string
	Tombstone      bool
}

// consume reads n records of the topic back from the start, ordered by key
// (records of different partitions have no order).
func consume(t *testing.T, c *kfake.Cluster, n int) map[string]message {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := map[string]message{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			m := message{Key: string(r.Key), Value: string(r.Value), Tombstone: r.Value == nil}
			for _, h := range r.Headers {
				if h.Key == HeaderOp {
					m.Op = string(h.Value)
				}
			}
			got[m.Key] = m
		})
	}
	return got
}

func rec(op connector.Op, key string, kv ...any) connector.Record {
	r := connector.Record{Op: op, Key: key, KeyParts: []string{key}}
	for i := 0; i < len(kv); i += 2 {
		r.Fields = append(r.Fields, connector.FieldValue{Name: kv[i].(string), Value: kv[i+1]})
	}
	return r
}

func TestProduce(t *testing.T) {
	records := []connector.Record{
		rec(connector.OpUpsert, "42", "zeta", "q\"uote", "mrr", value.Decimal("1234567890.123456789012"), "at", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "none", nil),
		rec(connector.OpInsert, "43", "zeta", "z"),
		rec(connector.OpDelete, "7"),
	}
	tests := []struct {
		name     string
		envelope bool
		want     map[string]message
	}{
		{
			name: "bare data, delete is a tombstone",
			want: map[string]message{
				"42": {Key: "42", Op: "upsert", Value: `{"zeta":"q\"uote","mrr":1234567890.123456789012,"at":"2026-03-01T12:00:00Z","none":null}`},
				"43": {Key: "43", Op: "insert", Value: `{"zeta":"z"}`},
				"7":  {Key: "7", Op: "delete", Tombstone: true},
			},
		},
		{
			name:     "envelope",
			envelope: true,
			want: map[string]message{
				"42": {Key: "42", Op: "upsert", Value: `{"op":"upsert","key":"42","data":{"zeta":"q\"uote","mrr":1234567890.123456789012,"at":"2026-03-01T12:00:00Z","none":null}}`},
				"43": {Key: "43", Op: "insert", Value: `{"op":"insert","key":"43","data":{"zeta":"z"}}`},
				"7":  {Key: "7", Op: "delete", Value: `{"op":"delete","key":"7"}`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(t)
			dst := open(t, c, connector.Settings{"envelope": tc.envelope})
			if err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: records}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, consume(t, c, len(tc.want))); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordTooLarge: a record over max_message_bytes fails alone; the
// others of its batch are delivered.
func TestRecordTooLarge(t *testing.T) {
	c := cluster(t)
	dst := open(t, c, connector.Settings{"max_message_bytes": 1024, "acks": "leader"})
	err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "a", "n", int64(1)),
		rec(connector.OpUpsert, "big", "blob", strings.Repeat("x", 4096)),
		rec(connector.OpUpsert, "b", "n", int64(2)),
	}})
	var rows *connector.RowErrors
	if !errors.As(err, &rows) {
		t.Fatalf("err = %v, want RowErrors", err)
	}
	if len(rows.Failed) != 1 || !strings.Contains(rows.Failed[1], "MESSAGE_TOO_LARGE") {
		t.Fatalf("failed = %v, want record 1 MESSAGE_TOO_LARGE", rows.Failed)
	}
	got := consume(t, c, 2)
	if _, ok := got["a"]; !ok {
		t.Errorf("record a not delivered: %v", got)
	}
	if _, ok := got["b"]; !ok {
		t.Errorf("record b not delivered: %v", got)
	}
}

// TestClusterGone: a batch that cannot reach a broker is a transient
// failure (retried by delivery), not a refusal of its records.
func TestClusterGone(t *testing.T) {
	c := cluster(t)
	dst := open(t, c, connector.Settings{"timeout": time.Second})
	c.Close()
	err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{rec(connector.OpUpsert, "a", "n", int64(1))}})
	if err == nil {
		t.Fatal("write to a closed cluster succeeded")
	}
	var rows *connector.RowErrors
	var req *connector.RequestError
	if errors.As(err, &rows) || errors.As(err, &req) {
		t.Fatalf("err = %#v, want a plain (retryable) error", err)
	}
}

func TestNewErrors(t *testing.T) {
	c := cluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "right"))
	addrs := c.ListenAddrs()
	tests := []struct {
		name     string
		settings connector.Settings
		want     string
	}{
		{"no topic", connector.Settings{"brokers": addrs}, "no topic"},
		{"no brokers", connector.Settings{"topic": topic}, "brokers"},
		{"credentials without mechanism", connector.Settings{"brokers": addrs, "topic": topic, "sasl_username": "u"}, "sasl_mechanism"},
		{"bad acks", connector.Settings{"brokers": addrs, "topic": topic, "acks": "some"}, "acks"},
		{"wrong password, masked", connector.Settings{"brokers": addrs, "topic": topic, "sasl_mechanism": "plain", "sasl_username": "admin", "sasl_password": "wr0ng-pw", "timeout": 5 * time.Second}, "connect to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), spec().WithDefaults(tc.settings), connector.Target{}, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "wr0ng-pw") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	// The right credentials work.
	dst := open(t, c, connector.Settings{"sasl_mechanism": "plain", "sasl_username": "admin", "sasl_password": "right"})
	if err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{rec(connector.OpUpsert, "a", "n", int64(1))}}); err != nil {
		t.Fatal(err)
	}
}
