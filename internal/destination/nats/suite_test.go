package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios against the local NATS
// server: a stream with a 512-byte max_msg_size refuses a larger message
// alone, and a proxy breaks the destination's connections (the 5xx).
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(key, plan string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "plan", Value: plan}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			js, name := server(t)
			ctx := context.Background()
			stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}, MaxMsgSize: 512})
			if err != nil {
				t.Fatalf("create stream: %v", err)
			}
			proxy := destinationtest.NewProxy(t, strings.TrimPrefix(testURL, "nats://"))
			return destinationtest.Emulator{
				Settings: connector.Settings{"url": "nats://" + proxy.Addr(), "subject": name, "timeout": 3 * time.Second},
				FailNext: func(statuses ...int) { proxy.Cut(len(statuses)) },
				Injected: proxy.Failures,
				Held:     func() map[string]bool { return readBack(t, stream) },
			}
		},
		Target: connector.Target{Fields: []string{"email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i), "pro") },
		Bad:    func(int) connector.Record { return rec("bad", strings.Repeat("x", 1024)) },
		ID:     id,
		// The client reconnects about 2 s after a broken connection.
		RetryWait: time.Second,
		Skip: map[string]string{
			"429 storm":       "nats: JetStream has no throttling answer to a publisher; the 5xx scenario breaks connections",
			"auth revoked":    "nats: the local server runs without authentication, and nats-server is not a module dependency to start one with it in-process",
			"oversized batch": "nats: a batch is many messages with no size of its own; a message's limit (max_payload, the stream's max_msg_size) is the row refused",
		},
	})
}

// readBack reads the stream from its first message to its last and folds
// it by key: a key is held when its last message is not a delete.
func readBack(t *testing.T, stream jetstream.Stream) map[string]bool {
	t.Helper()
	ctx := context.Background()
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("read stream back: %v", err)
	}
	held := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("read message %d back: %v", seq, err)
		}
		key := m.Header.Get(HeaderKey)
		if m.Header.Get(HeaderOp) == string(connector.OpDelete) {
			delete(held, key)
		} else {
			held[key] = true
		}
	}
	return held
}
