package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

const testURL = "nats://127.0.0.1:4222"

// server connects to the local NATS server and returns its JetStream and a
// name unique to the test; streams of that name are deleted when the test
// ends. Under CI=true a missing server fails the test; elsewhere it is
// skipped.
func server(t *testing.T) (jetstream.JetStream, string) {
	t.Helper()
	nc, err := natsgo.Connect(testURL, natsgo.Timeout(5*time.Second))
	if err != nil {
		start := "nats-server -js -a 127.0.0.1 -p 4222 &"
		if os.Getenv("CI") == "true" {
			t.Fatalf("NATS on 127.0.0.1:4222 is not reachable (%v); CI must start it: %s", err, start)
		}
		t.Skipf("NATS on 127.0.0.1:4222 is not reachable (%v); start it to run this test: %s", err, start)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "riptide_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), name)
		nc.Close()
	})
	return js, name
}

func open(t *testing.T, extra connector.Settings, target connector.Target) *Destination {
	t.Helper()
	set := connector.Settings{"url": testURL}
	for k, v := range extra {
		set[k] = v
	}
	set = spec().WithDefaults(set)
	if err := spec().Check(set); err != nil {
		t.Fatal(err)
	}
	dst, err := Plugin().New(t.Context(), set, target, "")
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

// message is what a consumer sees of one stored message.
type message struct {
	Subject, ID, Op, Key, Body string
}

// stored reads every message of the stream, in order.
func stored(t *testing.T, js jetstream.JetStream, stream string) []message {
	t.Helper()
	ctx := t.Context()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		out = append(out, message{
			Subject: m.Subject, ID: m.Header.Get("Nats-Msg-Id"), Op: m.Header.Get(HeaderOp),
			Key: m.Header.Get(HeaderKey), Body: string(m.Data),
		})
	}
	return out
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
			js, name := server(t)
			subject := name + ".users"
			// The stream does not exist yet: the destination creates it.
			dst := open(t, connector.Settings{"stream": name, "envelope": tc.envelope}, connector.Target{RunID: "run-1", Object: subject})
			if err := dst.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			// A batch sent again (its ack lost) is deduplicated by Nats-Msg-Id.
			if err := dst.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			want := []message{
				{Subject: subject, ID: "run-1:42", Op: "upsert", Key: "42", Body: tc.bodies[0]},
				{Subject: subject, ID: "run-1:7", Op: "delete", Key: "7", Body: tc.bodies[1]},
			}
			if diff := cmp.Diff(want, stored(t, js, name)); diff != "" {
				t.Errorf("stream (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRowErrors: a message over the stream's size limit fails alone.
func TestRowErrors(t *testing.T) {
	js, name := server(t)
	subject := name + ".users"
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{subject}, MaxMsgSize: 256}); err != nil {
		t.Fatal(err)
	}
	// No stream setting: the existing stream capturing the subject is used.
	dst := open(t, connector.Settings{"subject": subject}, connector.Target{RunID: "run-1"})
	err := dst.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "a", "n", int64(1)),
		rec(connector.OpUpsert, "big", "blob", strings.Repeat("x", 1024)),
		rec(connector.OpUpsert, "b", "n", int64(2)),
	}})
	var rows *connector.RowErrors
	if !errors.As(err, &rows) {
		t.Fatalf("err = %v, want RowErrors", err)
	}
	if _, ok := rows.Failed[1]; len(rows.Failed) != 1 || !ok {
		t.Fatalf("failed = %v, want only record 1", rows.Failed)
	}
	var keys []string
	for _, m := range stored(t, js, name) {
		keys = append(keys, m.Key)
	}
	if diff := cmp.Diff([]string{"a", "b"}, keys); diff != "" {
		t.Errorf("stored keys (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	_, name := server(t)
	tests := []struct {
		name     string
		settings connector.Settings
		object   string
		want     string
	}{
		{"no subject", connector.Settings{}, "", "no subject"},
		{"no stream captures the subject", connector.Settings{}, name + ".nowhere", "no stream captures"},
		{"unreachable, password masked", connector.Settings{"url": "nats://u:s3cret@127.0.0.1:1", "timeout": time.Second}, "x", "connect to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := spec().WithDefaults(connector.Settings{"url": testURL})
			for k, v := range tc.settings {
				set[k] = v
			}
			_, err := New(t.Context(), set, connector.Target{Object: tc.object}, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
