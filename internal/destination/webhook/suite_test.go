package webhook_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/webhook"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("%d", i+1) }
	rec := func(key, bio string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "bio", Value: bio}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: webhook.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s := webhooktest.New(webhooktest.WithMaxBody(64 << 10))
			t.Cleanup(s.Close)
			s.RequireBearer("good-token")
			s.FailKey("bad", "refused by the receiver")
			return destinationtest.Emulator{
				Settings:       connector.Settings{"url": s.URL(), "bearer_token": "good-token"},
				BadCredentials: connector.Settings{"url": s.URL(), "bearer_token": "wrong-token"},
				FailNext: func(statuses ...int) {
					for _, st := range statuses {
						s.FailNext(1, webhooktest.Failure{Status: st})
					}
				},
				Held: func() map[string]bool { return destinationtest.Keys(s.Latest()) },
			}
		},
		Target: connector.Target{Fields: []string{"email", "bio"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i), "hi") },
		Bad:    func(int) connector.Record { return rec("bad", "hi") },
		ID:     id,
		// The receiver takes bodies up to 64 KiB (a proxy's limit) and
		// answers 413 beyond.
		Oversized: func() []connector.Record {
			recs := make([]connector.Record, 100)
			for i := range recs {
				recs[i] = rec(id(i), strings.Repeat("y", 1<<10))
			}
			return recs
		},
	})
}
