package iterable_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/iterable"
	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
)

func TestAcceptanceSuite(t *testing.T) {
	email := func(i int) string { return fmt.Sprintf("u%d@example.com", i) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: key}, {Name: "plan", Value: "pro"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: iterable.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := iterabletest.New()
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
		Target: connector.Target{Identifier: []string{"email"}, Fields: []string{"email", "plan"}, PrimaryKey: []string{"email"}},
		Record: func(i int) connector.Record { return rec(email(i)) },
		Bad:    func(i int) connector.Record { return rec(fmt.Sprintf("not-an-email-%d", i)) },
		ID:     email,
	})
}
