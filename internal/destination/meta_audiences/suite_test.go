package metaaudiences_test

import (
	"fmt"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
	metaaudiences "github.com/riptide-data/riptide/internal/destination/meta_audiences"
	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("crm-%d", i) }
	rec := func(key, madid string) connector.Record {
		fields := []connector.FieldValue{{Name: "EXTERN_ID", Value: key}, {Name: "EMAIL", Value: "U" + key + "@Example.com "}}
		if madid != "" {
			fields = append(fields, connector.FieldValue{Name: "MADID", Value: madid})
		}
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key}, Fields: fields}
	}
	var audience string
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: metaaudiences.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := metaaudiencestest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			audience = s.Audience()
			return destinationtest.Emulator{
				Settings:       connector.Settings{"access_token": s.Token(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"access_token": "EAAwrong", "base_url": s.URL()},
				// Graph API errors: 17 is throttling (HTTP 400), 1 an
				// unknown error (HTTP 500).
				FailNext: func(statuses ...int) {
					for _, st := range statuses {
						if st == 429 {
							s.FailNext(17)
						} else {
							s.FailNext(1)
						}
					}
				},
				Held: func() map[string]bool {
					held := map[string]bool{}
					for _, m := range s.Members(audience) {
						held[m["EXTERN_ID"]] = true
					}
					return held
				},
			}
		},
		Target: connector.Target{Object: "23850000000000001", Identifier: []string{"EXTERN_ID"},
			Fields: []string{"EXTERN_ID", "EMAIL", "MADID"}, PrimaryKey: []string{"EXTERN_ID"}},
		Record: func(i int) connector.Record { return rec(id(i), "") },
		Bad:    func(i int) connector.Record { return rec(id(i), "not-a-madid") },
		ID:     id,
	})
}
