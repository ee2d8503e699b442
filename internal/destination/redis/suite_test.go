package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios against the local Redis,
// through a proxy that can break the destination's connections.
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("%d", i+1) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "plan", Value: "pro"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			c, prefix := server(t)
			ctx := context.Background()
			// A user of its own, so that a wrong password is refused.
			user, password := prefix+"_user", "right-"+prefix
			if err := c.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "~*", "+@all").Err(); err != nil {
				t.Fatalf("create ACL user: %v", err)
			}
			t.Cleanup(func() { c.Do(context.Background(), "ACL", "DELUSER", user) })
			// A key of another type where record "bad" goes: Redis refuses
			// the record's HSET with WRONGTYPE, and only that command.
			if err := c.Set(ctx, prefix+":bad", "a string", 0).Err(); err != nil {
				t.Fatal(err)
			}
			proxy := destinationtest.NewProxy(t, "127.0.0.1:6379")
			url := func(pw string) string { return fmt.Sprintf("redis://%s:%s@%s/0", user, pw, proxy.Addr()) }
			wrong := "wr0ng-" + prefix
			return destinationtest.Emulator{
				Settings:       connector.Settings{"url": url(password), "key_prefix": prefix},
				BadCredentials: connector.Settings{"url": url(wrong), "key_prefix": prefix},
				BadSecret:      wrong,
				Refusal:        "WRONGPASS",
				FailNext:       func(statuses ...int) { proxy.Cut(len(statuses)) },
				Injected:       proxy.Failures,
				Held: func() map[string]bool {
					keys, err := c.Keys(ctx, prefix+":*").Result()
					if err != nil {
						t.Fatalf("read keys back: %v", err)
					}
					held := map[string]bool{}
					for _, k := range keys {
						if k != prefix+":bad" {
							held[strings.TrimPrefix(k, prefix+":")] = true
						}
					}
					return held
				},
			}
		},
		Target: connector.Target{Fields: []string{"email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i)) },
		Bad:    func(int) connector.Record { return rec("bad") },
		ID:     id,
		Skip: map[string]string{
			"429 storm":       "redis: the protocol has no throttling answer; a busy server makes commands wait (the 5xx scenario breaks and refuses connections)",
			"oversized batch": "redis: a MULTI/EXEC transaction has no size limit short of a 512 MB value, so no batch is refused for its size",
		},
	})
}
