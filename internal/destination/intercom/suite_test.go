package intercom_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/intercom"
	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("user-%d", i) }
	rec := func(key, email string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "external_id", Value: key}, {Name: "email", Value: email}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: intercom.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := intercomtest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"access_token": s.Token(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"access_token": "wrong-token", "base_url": s.URL()},
				FailNext:       s.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(s.Contacts()) },
			}
		},
		Target:     connector.Target{Identifier: []string{"external_id"}, Fields: []string{"external_id", "email"}, PrimaryKey: []string{"external_id"}},
		Record:     func(i int) connector.Record { return rec(id(i), fmt.Sprintf("u%d@example.com", i)) },
		Bad:        func(i int) connector.Record { return rec(id(i), "not-an-email") },
		ID:         id,
		NoOversize: true, // one contact per request: Intercom has no batch endpoint
	})
}
