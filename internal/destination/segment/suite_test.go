package segment_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/segment"
	"github.com/riptide-data/riptide/internal/destination/segment/segmenttest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("user-%d", i) }
	rec := func(key, bio string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "plan", Value: "pro"}, {Name: "bio", Value: bio}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: segment.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := segmenttest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"write_key": s.WriteKey(), "base_url": s.URL(), "delete_trait": "deleted"},
				BadCredentials: connector.Settings{"write_key": "wrong-key", "base_url": s.URL(), "delete_trait": "deleted"},
				FailNext:       s.FailNext,
				// Segment's tracking API deletes nothing: a mirror "delete"
				// marks the profile with the delete trait.
				Held: func() map[string]bool {
					held := map[string]bool{}
					for user, traits := range s.Profiles() {
						if traits["deleted"] != true {
							held[user] = true
						}
					}
					return held
				},
			}
		},
		Target: connector.Target{Fields: []string{"plan", "bio"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i), "hi") },
		Bad:    func(i int) connector.Record { return rec(id(i), strings.Repeat("x", 40<<10)) }, // over 32 KB
		ID:     id,
		// Segment limits a batch to 500 KB, not to a number of messages.
		Oversized: func() []connector.Record {
			recs := make([]connector.Record, 40)
			for i := range recs {
				recs[i] = rec(id(i), strings.Repeat("y", 20<<10))
			}
			return recs
		},
	})
}
