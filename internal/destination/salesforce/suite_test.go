package salesforce_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	"github.com/riptide-data/riptide/internal/destination/salesforce"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("cust-%d", i) }
	rec := func(key, email string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "Ext_Id__c", Value: key}, {Name: "Email", Value: email}, {Name: "LastName", Value: "Doe"}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: salesforce.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := salesforcetest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			set := func(secret string) connector.Settings {
				return connector.Settings{"client_id": s.ClientID(), "client_secret": secret, "refresh_token": s.RefreshToken(), "base_url": s.URL()}
			}
			return destinationtest.Emulator{
				Settings:       set(s.ClientSecret()),
				BadCredentials: set("wrong-secret"),
				FailNext:       s.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(s.Records("Contact", "Ext_Id__c")) },
			}
		},
		Target: connector.Target{Object: "Contact", Identifier: []string{"Ext_Id__c"}, Fields: []string{"Ext_Id__c", "Email", "LastName"}, PrimaryKey: []string{"Ext_Id__c"}},
		Record: func(i int) connector.Record { return rec(id(i), fmt.Sprintf("c%d@example.com", i)) },
		Bad:    func(i int) connector.Record { return rec(id(i), "not-an-email") },
		ID:     id,
	})
}
