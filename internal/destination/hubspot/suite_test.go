package hubspot_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/hubspot"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

func TestAcceptanceSuite(t *testing.T) {
	email := func(i int) string { return fmt.Sprintf("u%d@example.com", i) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: key}, {Name: "firstname", Value: "Ada"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: hubspot.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			hs, err := hubspottest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hs.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"access_token": hs.Token(), "base_url": hs.URL()},
				BadCredentials: connector.Settings{"access_token": "pat-wrong", "base_url": hs.URL()},
				FailNext:       hs.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(hs.Records("contacts", "email")) },
			}
		},
		Target: connector.Target{Object: "contacts", Identifier: []string{"email"}, Fields: []string{"email", "firstname"}, PrimaryKey: []string{"email"}},
		Record: func(i int) connector.Record { return rec(email(i)) },
		Bad:    func(i int) connector.Record { return rec(fmt.Sprintf("not-an-email-%d", i)) },
		ID:     email,
	})
}
