package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/engine"
)

// DestinationResult is a first full sync of a generated model into one
// destination.
type DestinationResult struct {
	Destination      string  `json:"destination"`
	Rows             int     `json:"rows"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	Succeeded        uint64  `json:"succeeded"`
	Failed           uint64  `json:"failed"`
}

// target is a destination under benchmark: its settings, and a cleanup.
type target struct {
	settings connector.Settings
	object   string
	mapping  []config.Mapping // nil: every column
	close    func()
}

// Destinations syncs rows into each named destination in turn: webhook
// (the emulator, no limits), kafka (an in-process kfake cluster), redis
// (the server on 127.0.0.1:6379, under a unique key prefix removed
// afterwards).
func Destinations(ctx context.Context, rows int, names []string) ([]DestinationResult, error) {
	dir, err := os.MkdirTemp("", "riptide-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generate(ctx, filepath.Join(dir, "bench.duckdb"), rows); err != nil {
		return nil, fmt.Errorf("generate model: %w", err)
	}
	var out []DestinationResult
	for _, name := range names {
		t, err := startTarget(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res, err := syncInto(ctx, dir, name, t)
		t.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, *res)
	}
	return out, nil
}

func startTarget(ctx context.Context, name string) (*target, error) {
	switch name {
	case "webhook":
		recv := webhooktest.New(webhooktest.Discard())
		return &target{settings: connector.Settings{"url": recv.URL(), "batch_size": 1000, "concurrency": 4}, close: recv.Close}, nil
	case "kafka":
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bench"))
		if err != nil {
			return nil, err
		}
		return &target{settings: connector.Settings{"brokers": c.ListenAddrs(), "topic": "bench"}, object: "bench", close: c.Close}, nil
	case "redis":
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		prefix := "riptide-bench-" + hex.EncodeToString(b)
		rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("redis on 127.0.0.1:6379: %w", err)
		}
		return &target{settings: connector.Settings{"key_prefix": prefix}, object: prefix, close: func() {
			removeKeys(context.Background(), rdb, prefix+":*")
			rdb.Close()
		}}, nil
	}
	return nil, fmt.Errorf("no benchmark target %q (webhook, kafka, redis)", name)
}

// removeKeys deletes the benchmark's keys, a scan page at a time.
func removeKeys(ctx context.Context, rdb *goredis.Client, match string) {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, match, 10000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// syncInto runs a first full sync of the generated model into one
// destination and times it.
func syncInto(ctx context.Context, dir, name string, t *target) (*DestinationResult, error) {
	spec := builtin.Destinations()[name].Spec
	dest := &config.Destination{Name: name, Type: name, Settings: spec.WithDefaults(t.settings)}
	runDir, err := os.MkdirTemp(dir, name+"-")
	if err != nil {
		return nil, err
	}
	if err := os.Link(filepath.Join(dir, "bench.duckdb"), filepath.Join(runDir, "bench.duckdb")); err != nil {
		return nil, err
	}
	pr, err := newProject(ctx, runDir, dest)
	if err != nil {
		return nil, err
	}
	defer pr.store.Close()
	s := pr.project.Syncs["bench"]
	s.Object = t.object
	if t.mapping != nil {
		s.Mapping, s.MapAll = t.mapping, false
	}
	quiesce()
	start := time.Now()
	results, err := pr.engine.Run(ctx, []string{"bench"}, engine.Options{})
	secs := time.Since(start).Seconds()
	if err != nil {
		return nil, err
	}
	r := results[0]
	if r.Err != nil {
		return nil, r.Err
	}
	c := r.Run.Counts
	return &DestinationResult{Destination: name, Rows: int(c.Rows), Seconds: secs,
		RecordsPerSecond: float64(c.Succeeded) / secs, Succeeded: c.Succeeded, Failed: c.Failed}, nil
}

// HubSpotResult is a sync into the HubSpot emulator enforcing HubSpot's
// private-app limits.
type HubSpotResult struct {
	Rows int `json:"rows"`
	// PerInterval requests are allowed per 10 s (HubSpot's rolling window).
	PerInterval int     `json:"requests_per_10s"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	// Utilisation is the requests made over the most the rolling limit
	// allows in the run's time.
	Utilisation float64 `json:"utilisation"`
	Throttled   int     `json:"throttled_429"`
	Succeeded   uint64  `json:"succeeded"`
	Failed      uint64  `json:"failed"`
	Contacts    int     `json:"contacts_held"`
}

// HubSpot syncs rows as contacts into the HubSpot emulator, which enforces
// perInterval requests per rolling 10 s, with the destination configured
// for the same limit.
func HubSpot(ctx context.Context, rows, perInterval int) (*HubSpotResult, error) {
	dir, err := os.MkdirTemp("", "riptide-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generate(ctx, filepath.Join(dir, "bench.duckdb"), rows); err != nil {
		return nil, fmt.Errorf("generate model: %w", err)
	}
	hs, err := hubspottest.New(hubspottest.WithLimits(hubspottest.Limits{PerInterval: perInterval, Interval: 10 * time.Second}))
	if err != nil {
		return nil, err
	}
	defer hs.Close()
	t := &target{
		settings: connector.Settings{"access_token": hs.Token(), "base_url": hs.URL(), "requests_per_10s": perInterval},
		object:   "contacts",
		mapping: []config.Mapping{
			{Field: "email", Column: "email"}, {Field: "firstname", Column: "first_name"},
			{Field: "lastname", Column: "last_name"}, {Field: "lifecyclestage", IsValue: true, Value: "customer"},
		},
		close: func() {},
	}
	res, err := syncInto(ctx, dir, "hubspot", t)
	if err != nil {
		return nil, err
	}
	// A rolling window of N per 10 s lets at most N·(⌊T/10⌋+1) requests
	// through in T seconds: N at once, then N more each 10 s.
	allowed := float64(perInterval) * (math.Floor(res.Seconds/10) + 1)
	return &HubSpotResult{
		Rows: rows, PerInterval: perInterval, Seconds: res.Seconds, Requests: hs.Requests(),
		Utilisation: float64(hs.Requests()) / allowed, Throttled: hs.Throttled(),
		Succeeded: res.Succeeded, Failed: res.Failed, Contacts: len(hs.Records("contacts", "email")),
	}, nil
}
