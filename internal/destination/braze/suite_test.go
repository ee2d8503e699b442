package braze_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/braze"
	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("user-%d", i) }
	rec := func(key, email string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "external_id", Value: key}, {Name: "email", Value: email}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: braze.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := brazetest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"api_key": s.APIKey(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"api_key": "wrong-key", "base_url": s.URL()},
				FailNext:       s.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(s.Users()) },
			}
		},
		Target: connector.Target{Object: "users", Identifier: []string{"external_id"}, Fields: []string{"external_id", "email"}, PrimaryKey: []string{"external_id"}},
		Record: func(i int) connector.Record { return rec(id(i), fmt.Sprintf("u%d@example.com", i)) },
		Bad:    func(i int) connector.Record { return rec(id(i), "not-an-email") },
		ID:     id,
	})
}
