// Package builtin is the one explicit list of the connectors that ship with
// Riptide. Adding a connector is one folder and one line here.
package builtin

import (
	"sort"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/braze"
	"github.com/riptide-data/riptide/internal/destination/customerio"
	"github.com/riptide-data/riptide/internal/destination/file"
	googleads "github.com/riptide-data/riptide/internal/destination/google_ads"
	"github.com/riptide-data/riptide/internal/destination/hubspot"
	"github.com/riptide-data/riptide/internal/destination/intercom"
	"github.com/riptide-data/riptide/internal/destination/iterable"
	"github.com/riptide-data/riptide/internal/destination/kafka"
	"github.com/riptide-data/riptide/internal/destination/mailchimp"
	metaaudiences "github.com/riptide-data/riptide/internal/destination/meta_audiences"
	"github.com/riptide-data/riptide/internal/destination/mysql"
	"github.com/riptide-data/riptide/internal/destination/nats"
	"github.com/riptide-data/riptide/internal/destination/postgres"
	"github.com/riptide-data/riptide/internal/destination/rabbitmq"
	"github.com/riptide-data/riptide/internal/destination/redis"
	"github.com/riptide-data/riptide/internal/destination/salesforce"
	"github.com/riptide-data/riptide/internal/destination/segment"
	"github.com/riptide-data/riptide/internal/destination/slack"
	"github.com/riptide-data/riptide/internal/destination/webhook"
	duckdbsource "github.com/riptide-data/riptide/internal/source/duckdb"
	mysqlsource "github.com/riptide-data/riptide/internal/source/mysql"
	postgressource "github.com/riptide-data/riptide/internal/source/postgres"
	sqlitesource "github.com/riptide-data/riptide/internal/source/sqlite"
)

// Sources returns the built-in source types.
func Sources() map[string]connector.SourcePlugin {
	return map[string]connector.SourcePlugin{
		"duckdb":   duckdbsource.Plugin(),
		"postgres": postgressource.Plugin(),
		"mysql":    mysqlsource.Plugin(),
		"sqlite":   sqlitesource.Plugin(),
	}
}

// Destinations returns the built-in destination types.
func Destinations() map[string]connector.DestinationPlugin {
	return map[string]connector.DestinationPlugin{
		"webhook":  webhook.Plugin(),
		"postgres": postgres.Plugin(),
		"mysql":    mysql.Plugin(),
		"file":     file.Plugin(),
		"hubspot":  hubspot.Plugin(),
		"redis":    redis.Plugin(),
		"kafka":    kafka.Plugin(),
		"nats":     nats.Plugin(),
		"rabbitmq": rabbitmq.Plugin(),
		"braze":    braze.Plugin(),
		"segment":  segment.Plugin(),
		"slack":    slack.Plugin(),

		"customerio":     customerio.Plugin(),
		"mailchimp":      mailchimp.Plugin(),
		"meta_audiences": metaaudiences.Plugin(),
		"iterable":       iterable.Plugin(),
		"intercom":       intercom.Plugin(),
		"salesforce":     salesforce.Plugin(),
		"google_ads":     googleads.Plugin(),
	}
}

// Specs returns the specs the config loader validates settings against.
func Specs() config.Specs {
	src, dst := Sources(), Destinations()
	return config.Specs{
		Source: func(t string) (connector.Spec, bool) {
			p, ok := src[t]
			return p.Spec, ok
		},
		Destination: func(t string) (connector.Spec, bool) {
			p, ok := dst[t]
			return p.Spec, ok
		},
		SourceTypes:      sortedKeys(src),
		DestinationTypes: sortedKeys(dst),
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
