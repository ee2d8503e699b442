package customerio_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/customerio"
	"github.com/riptide-data/riptide/internal/destination/customerio/customeriotest"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("user-%d", i) }
	rec := func(key, plan string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "id", Value: key}, {Name: "plan", Value: plan}}}
	}
	destinationtest.Run(t, destinationtest.Harness{
		Plugin: customerio.Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			s, err := customeriotest.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return destinationtest.Emulator{
				Settings:       connector.Settings{"site_id": s.SiteID(), "api_key": s.APIKey(), "base_url": s.URL()},
				BadCredentials: connector.Settings{"site_id": s.SiteID(), "api_key": "wrong-key", "base_url": s.URL()},
				FailNext:       s.FailNext,
				Held:           func() map[string]bool { return destinationtest.Keys(s.People()) },
			}
		},
		Target: connector.Target{Identifier: []string{"id"}, Fields: []string{"id", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i), "pro") },
		// Customer.io refuses attribute values over 1,000 bytes.
		Bad: func(i int) connector.Record { return rec(id(i), strings.Repeat("x", 1500)) },
		ID:  id,
		// Customer.io limits a batch to 500 KB, not to a number of entries.
		Oversized: func() []connector.Record {
			recs := make([]connector.Record, 600)
			for i := range recs {
				recs[i] = rec(id(i), strings.Repeat("y", 990))
			}
			return recs
		},
	})
}
