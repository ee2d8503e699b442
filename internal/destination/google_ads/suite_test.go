package googleads_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	googleads "github.com/riptide-data/riptide/internal/destination/google_ads"
	"github.com/riptide-data/riptide/internal/destination/google_ads/googleadstest"
)

// emulatorSettings points the destination at an emulator.
func emulatorSettings(s *googleadstest.Server) connector.Settings {
	return connector.Settings{
		"client_id": googleadstest.ClientID, "client_secret": googleadstest.ClientSecret,
		"refresh_token": googleadstest.RefreshToken, "developer_token": googleadstest.DeveloperToken,
		"customer_id": "123-456-7890", "base_url": s.URL(), "token_url": s.TokenURL(),
	}
}

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("user%d@example.com", i) }
	rec := func(i int) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: id(i), KeyParts: []string{id(i)}, Fields: []connector.FieldValue{
			{Name: "email", Value: fmt.Sprintf(" User%d@Example.com", i)},
			{Name: "phone", Value: fmt.Sprintf("+1 (555) 01%05d", i)},
		}}
	}
	// The emulator holds hashes; the suite asks for identifiers.
	byHash := map[string]string{}
	for i := range 64 {
		byHash[googleads.Hash(id(i))] = id(i)
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: googleads.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := googleadstest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			bad := emulatorSettings(s)
			bad["refresh_token"] = "1//revoked"
			return destinationtest.Emulator{
				Settings:       emulatorSettings(s),
				BadCredentials: bad,
				FailNext:       s.FailNext,
				Held: func() map[string]bool {
					held := map[string]bool{}
					for _, m := range s.Members(s.UserList()) {
						if known, ok := byHash[m["hashedEmail"]]; ok {
							held[known] = true
						} else {
							held[m["hashedEmail"]] = true
						}
					}
					return held
				},
			}
		},
		Target: connector.Target{Object: "customers/1234567890/userLists/111", Identifier: []string{"email"},
			Fields: []string{"email", "phone", "hashed_email"}, PrimaryKey: []string{"email"}},
		Record: rec,
		// A pre-hashed value that is no SHA-256 digest: Google refuses the
		// operation, by index, in the partial failure.
		Bad: func(i int) connector.Record {
			return connector.Record{Op: connector.OpUpsert, Key: id(i), KeyParts: []string{id(i)}, Fields: []connector.FieldValue{
				{Name: "hashed_email", Value: "not-a-sha256-digest"},
			}}
		},
		ID: id,
		// Google's limit is identifiers per request, not rows: 50,001 rows
		// of two identifiers each are over 100,000.
		Oversized: func() []connector.Record {
			out := make([]connector.Record, googleads.MaxIdentifiers/2+1)
			for i := range out {
				out[i] = rec(i)
			}
			return out
		},
	})
}
