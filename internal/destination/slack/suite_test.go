package slack_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/slack"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("signup-%d", i) }
	rec := func(key, text string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "text", Value: text}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: slack.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			// The suite's waits take no time, so the emulator's pacing is
			// off here; the slack tests check pacing against it.
			s, err := slacktest.New(slacktest.WithRateLimit(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"token": s.Token(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"token": "xoxb-wrong", "base_url": s.URL()},
				FailNext:       s.FailNextStatus,
				Held: func() map[string]bool {
					held := map[string]bool{}
					for _, m := range s.Messages() {
						held[strings.TrimPrefix(m.Text, "New signup: ")] = true
					}
					return held
				},
			}
		},
		Target:     connector.Target{Object: "#general", Fields: []string{"text"}, PrimaryKey: []string{"key"}},
		Record:     func(i int) connector.Record { return rec(id(i), "New signup: "+id(i)) },
		Bad:        func(i int) connector.Record { return rec(id(i), "") }, // Slack refuses an empty message
		ID:         id,
		NoMirror:   true, // messages are posted, never deleted
		NoOversize: true, // one message per request
	})
}
