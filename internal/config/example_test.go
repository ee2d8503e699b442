package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
)

// specs declares one source and one destination type, as the built-in
// registry does for the real connectors.
func specs() config.Specs {
	duckdb := connector.Spec{Type: "duckdb", Fields: []connector.Field{
		{Name: "path", Kind: connector.KindString, Default: ":memory:"},
	}}
	webhook := connector.Spec{Type: "webhook", Fields: []connector.Field{
		{Name: "url", Kind: connector.KindString, Required: true},
		{Name: "batch_size", Kind: connector.KindInt, Default: 100},
		{Name: "signing_secret", Kind: connector.KindString, Secret: true},
	}}
	return config.Specs{
		Source:           func(t string) (connector.Spec, bool) { return duckdb, t == "duckdb" },
		Destination:      func(t string) (connector.Spec, bool) { return webhook, t == "webhook" },
		SourceTypes:      []string{"duckdb"},
		DestinationTypes: []string{"webhook"},
	}
}

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "riptide-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(`
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
destinations:
  crm_hook:
    type: webhook
    url: http://127.0.0.1:9000/ingest
    signing_secret: ${HOOK_SECRET}
models:
  active_users:
    source: warehouse
    primary_key: id
    sql: select id, email, plan from users where active
syncs:
  users_to_crm:
    model: active_users
    destination: crm_hook
    mode: mirror
    mapping: {email: email, plan_name: plan}
    schedule: every 15m
`), 0o644)

	env := func(name string) (string, bool) {
		if name == "HOOK_SECRET" {
			return "s3cret-signing-key", true
		}
		return "", false
	}
	p, err := config.Load(dir, specs(), config.WithLookupEnv(env))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Syncs["users_to_crm"]
	d := p.Destinations[s.Destination]
	fmt.Println(s.Mode, s.Schedule, d.Settings.Int("batch_size"), len(s.Mapping))
	fmt.Println(p.Secrets)
	// Output:
	// mirror every 15m0s 100 2
	// [s3cret-signing-key]
}

func ExampleErrors() {
	dir, _ := os.MkdirTemp("", "riptide-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(`sources:
  warehouse: {type: duckdb}
destinations:
  crm_hook: {type: webhook, url: "http://127.0.0.1:9000/", batchsize: 10}
models:
  users: {source: warehouse, primary_key: id, sql: select 1 as id}
syncs:
  s: {model: user, destination: crm_hook, schedule: "*/15 * * *"}
`), 0o644)

	_, err := config.Load(dir, specs())
	var errs *config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs.List {
			fmt.Println(e)
		}
	}
	// Output:
	// riptide.yaml:4:60: destinations.crm_hook: unknown setting "batchsize" for webhook destinations (did you mean "batch_size"?)
	// riptide.yaml:8:14: syncs.s.model: model "user" is not defined (did you mean "users"?)
	// riptide.yaml:8:53: syncs.s.schedule: invalid cron expression "*/15 * * *": expected exactly 5 fields, found 4: [*/15 * * *] (write a five-field cron expression, "every 10m", "stream" or "manual")
}
