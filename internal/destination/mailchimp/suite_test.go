package mailchimp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/mailchimp"
	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
)

func TestAcceptanceSuite(t *testing.T) {
	email := func(i int) string { return fmt.Sprintf("u%d@example.com", i) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email_address", Value: key}, {Name: "FNAME", Value: "Ada"}}}
	}
	var list string
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: mailchimp.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := mailchimptest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			list = s.ListID()
			bad := s.APIKey()
			bad = "0000000000000000" + bad[strings.LastIndex(bad, "-"):]
			return destinationtest.Emulator{
				Settings:       connector.Settings{"api_key": s.APIKey(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"api_key": bad, "base_url": s.URL()},
				FailNext:       s.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(s.Active(list)) },
			}
		},
		Target: connector.Target{Object: "a1b2c3d4e5", Identifier: []string{"email_address"}, Fields: []string{"email_address", "FNAME"}, PrimaryKey: []string{"email_address"}},
		Record: func(i int) connector.Record { return rec(email(i)) },
		Bad:    func(i int) connector.Record { return rec(fmt.Sprintf("not-an-email-%d", i)) },
		ID:     email,
	})
}
