package redis

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
	goredis "github.com/redis/go-redis/v9"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

const testURL = "redis://127.0.0.1:6379/0"

// server returns a client of the local Redis and a key prefix unique to
// the test, whose keys are deleted when it ends. Under CI=true a missing
// server fails the test; elsewhere it is skipped.
func server(t *testing.T) (*goredis.Client, string) {
	t.Helper()
	opts, err := goredis.ParseURL(testURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis on 127.0.0.1:6379 is not reachable (%v); CI must start it: redis-server --daemonize yes", err)
		}
		t.Skipf("Redis on 127.0.0.1:6379 is not reachable (%v); start it to run this test: redis-server --daemonize yes", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "riptide_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return c, prefix
}

func open(t *testing.T, prefix string, extra connector.Settings) *Destination {
	t.Helper()
	set := connector.Settings{"url": testURL}
	for k, v := range extra {
		set[k] = v
	}
	set = spec().WithDefaults(set)
	if err := spec().Check(set); err != nil {
		t.Fatal(err)
	}
	dst, err := Plugin().New(t.Context(), set, connector.Target{Sync: "s", RunID: "run-1", Mode: "mirror", Object: prefix}, "")
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

var ts = time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)

func TestHashWrites(t *testing.T) {
	c, prefix := server(t)
	ctx := t.Context()
	// Each step is one batch; want is every key's hash afterwards.
	steps := []struct {
		name    string
		records []connector.Record
		want    map[string]map[string]string
	}{
		{
			name: "upsert",
			records: []connector.Record{
				rec(connector.OpUpsert, "1", "email", "a@b.c", "mrr", value.Decimal("1234567890.123456789012"), "since", ts, "vip", true),
				rec(connector.OpInsert, "2", "email", "x@y.z", "mrr", int64(7), "since", nil, "vip", false),
			},
			want: map[string]map[string]string{
				"1": {"email": "a@b.c", "mrr": "1234567890.123456789012", "since": "2026-03-01T12:30:45Z", "vip": "true"},
				"2": {"email": "x@y.z", "mrr": "7", "vip": "false"},
			},
		},
		{
			name: "update nulls a field, mirror deletes",
			records: []connector.Record{
				rec(connector.OpUpdate, "1", "email", "new@b.c", "mrr", nil, "since", ts, "vip", true),
				rec(connector.OpDelete, "2"),
			},
			want: map[string]map[string]string{
				"1": {"email": "new@b.c", "since": "2026-03-01T12:30:45Z", "vip": "true"},
				"2": {},
			},
		},
		{
			name:    "all fields null removes the hash",
			records: []connector.Record{rec(connector.OpUpsert, "1", "email", nil)},
			want:    map[string]map[string]string{"1": {}},
		},
		{
			name:    "composite key",
			records: []connector.Record{rec(connector.OpUpsert, value.JoinKey([]string{"a|b", "7"}), "n", int64(1))},
			want:    map[string]map[string]string{`a\|b|7`: {"n": "1"}},
		},
	}
	dst := open(t, prefix, nil)
	for i, s := range steps {
		if err := dst.Write(ctx, &connector.Batch{Seq: i + 1, Records: s.records}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for key, want := range s.want {
			got, err := c.HGetAll(ctx, prefix+":"+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: key %s (-want +got):\n%s", s.name, key, diff)
			}
		}
	}
}

func TestJSONFormatAndTTL(t *testing.T) {
	c, prefix := server(t)
	ctx := t.Context()
	dst := open(t, prefix, connector.Settings{"format": FormatJSON, "ttl": time.Hour, "separator": "/"})
	b := &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "42", "zeta", "q\"uote", "amount", value.Decimal("0.10"), "at", ts, "none", nil),
		rec(connector.OpUpsert, "43", "zeta", "z"),
	}}
	if err := dst.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ key, want string }{
		{"42", `{"zeta":"q\"uote","amount":0.10,"at":"2026-03-01T12:30:45Z","none":null}`},
		{"43", `{"zeta":"z"}`},
	}
	for _, tc := range tests {
		got, err := c.Get(ctx, prefix+"/"+tc.key).Result()
		if err != nil {
			t.Fatalf("get %s: %v", tc.key, err)
		}
		if got != tc.want {
			t.Errorf("key %s = %s, want %s", tc.key, got, tc.want)
		}
		ttl, err := c.TTL(ctx, prefix+"/"+tc.key).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %s ttl = %v, %v; want within an hour", tc.key, ttl, err)
		}
	}
	if err := dst.Write(ctx, &connector.Batch{Seq: 2, Records: []connector.Record{rec(connector.OpDelete, "42")}}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, prefix+"/42").Val(); n != 0 {
		t.Errorf("deleted key still exists")
	}
}

// TestRowErrors: a key of another type refuses its record; the rest of the
// transaction applies.
func TestRowErrors(t *testing.T) {
	c, prefix := server(t)
	ctx := t.Context()
	if err := c.RPush(ctx, prefix+":bad", "x").Err(); err != nil {
		t.Fatal(err)
	}
	dst := open(t, prefix, nil)
	err := dst.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "ok1", "n", int64(1)),
		rec(connector.OpUpsert, "bad", "n", int64(2)),
		rec(connector.OpUpsert, "ok2", "n", int64(3)),
	}})
	var rows *connector.RowErrors
	if !errors.As(err, &rows) {
		t.Fatalf("err = %v, want RowErrors", err)
	}
	if len(rows.Failed) != 1 || !strings.HasPrefix(rows.Failed[1], "WRONGTYPE") {
		t.Errorf("failed = %v, want record 1 WRONGTYPE", rows.Failed)
	}
	for _, k := range []string{"ok1", "ok2"} {
		if c.Exists(ctx, prefix+":"+k).Val() != 1 {
			t.Errorf("key %s was not written", k)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		object   string
		want     string
	}{
		{"no prefix", connector.Settings{}, "", "no key prefix"},
		{"bad url", connector.Settings{"url": "http://x"}, "p", "url"},
		{"bad format", connector.Settings{"format": "xml"}, "p", "format"},
		{"unreachable, password masked", connector.Settings{"url": "redis://:s3cret@127.0.0.1:1/0"}, "p", "connect to 127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := spec().WithDefaults(tc.settings)
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

func TestKeyPrefixSetting(t *testing.T) {
	_, prefix := server(t)
	set := spec().WithDefaults(connector.Settings{"key_prefix": prefix})
	dst, err := New(t.Context(), set, connector.Target{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(context.Background())
	if got := dst.(*Destination).Key("7"); got != prefix+":7" {
		t.Errorf("key = %q, want %q", got, prefix+":7")
	}
}
