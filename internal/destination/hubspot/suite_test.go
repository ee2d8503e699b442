package hubspot_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/hubspot"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

func TestAcceptanceSuite(t *testing.T) {
	privateApp := func(hs *hubspottest.Server) (good, bad connector.Settings) {
		return connector.Settings{"access_token": hs.Token(), "base_url": hs.URL()},
			connector.Settings{"access_token": "pat-wrong", "base_url": hs.URL()}
	}
	// A public app with short-lived tokens, so runs cross refreshes.
	publicApp := func(hs *hubspottest.Server) (good, bad connector.Settings) {
		id, secret, refresh := hs.OAuthApp()
		good = connector.Settings{"client_id": id, "client_secret": secret, "refresh_token": refresh, "base_url": hs.URL()}
		bad = connector.Settings{"client_id": id, "client_secret": secret, "refresh_token": "wrong", "base_url": hs.URL()}
		return good, bad
	}
	for name, passed := range map[string]func(t *testing.T) []string{
		"private app": func(t *testing.T) []string { return acceptance(t, privateApp) },
		"public app":  func(t *testing.T) []string { return acceptance(t, publicApp, hubspottest.WithTokenTTL(2*time.Second)) },
	} {
		t.Run(name, func(t *testing.T) {
			if got := passed(t); !slices.Equal(got, destinationtest.Scenarios) {
				t.Errorf("scenarios passed: %q, want every one: %q", got, destinationtest.Scenarios)
			}
		})
	}
}

// acceptance runs the shared suite with one way of authenticating and
// returns the scenarios that passed.
func acceptance(t *testing.T, auth func(*hubspottest.Server) (good, bad connector.Settings), opts ...hubspottest.Option) []string {
	email := func(i int) string { return fmt.Sprintf("u%d@example.com", i) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: key}, {Name: "firstname", Value: "Ada"}}}
	}
	return destinationtest.Run(t, destinationtest.Harness{
		Plugin: hubspot.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			hs, err := hubspottest.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hs.Close() })
			good, bad := auth(hs)
			return destinationtest.Emulator{
				Settings:       good,
				BadCredentials: bad,
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
