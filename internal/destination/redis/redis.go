// Package redis is the Redis destination: each record becomes one key,
// <key_prefix>:<primary key>, holding a hash of the mapped fields (or, with
// format json, a string holding the fields as a JSON object). Deletes
// remove the key. Each batch is one MULTI/EXEC transaction, so a batch
// lands whole or, for the commands Redis refuses, record by record.
package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// Formats of the stored value.
const (
	FormatHash = "hash"
	FormatJSON = "json"
)

// Plugin returns the redis destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "redis",
		Summary: "Write each record as a Redis hash (or JSON string) under <prefix>:<key>; deletes remove the key",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Default: "redis://127.0.0.1:6379/0", Doc: "Server URL, redis://[user:password@]host:port/db or rediss:// for TLS. Put a password in through ${VAR}; it is masked in every message."},
			{Name: "key_prefix", Kind: connector.KindString, Doc: "Key prefix used when a sync sets no object; keys are <prefix><separator><primary key>."},
			{Name: "separator", Kind: connector.KindString, Default: ":", Doc: "Placed between the prefix and the primary key."},
			{Name: "format", Kind: connector.KindString, Default: FormatHash, Enum: []string{FormatHash, FormatJSON}, Doc: "hash: HSET one hash field per mapped field (values as text); json: SET the key to the mapped fields as a JSON object."},
			{Name: "ttl", Kind: connector.KindDuration, Default: time.Duration(0), Doc: "Expire each written key after this long; 0 keeps keys forever."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 10 * time.Second, Doc: "Time allowed to read or write one batch's transaction; a batch that runs out is retried."},
		},
		Limits: connector.Limits{BatchSize: 1000, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination writes one sync's records to Redis.
type Destination struct {
	client   *goredis.Client
	prefix   string // with the separator
	json     bool
	ttl      time.Duration
	redactor *redact.Redactor
}

// New builds the destination for one sync's run from validated settings.
// The sync's object, or else key_prefix, is the key prefix.
func New(ctx context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	raw := settings.String("url")
	red := redact.New([]string{redact.URLPassword(raw)})
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis: url %s: %s", red.String(raw), red.Error(err))
	}
	prefix := target.Object
	if prefix == "" {
		prefix = settings.String("key_prefix")
	}
	if prefix == "" {
		return nil, fmt.Errorf("redis: no key prefix: set the sync's object or the destination's key_prefix")
	}
	format := settings.String("format")
	if format == "" {
		format = FormatHash
	}
	if format != FormatHash && format != FormatJSON {
		return nil, fmt.Errorf("redis: format must be %s or %s, not %q", FormatHash, FormatJSON, format)
	}
	if settings.Duration("ttl") < 0 {
		return nil, fmt.Errorf("redis: ttl must not be negative")
	}
	if t := settings.Duration("timeout"); t > 0 {
		opts.ReadTimeout, opts.WriteTimeout = t, t
	}
	// Delivery owns retries: a failed transaction goes back to it rather
	// than being replayed by the client, which could apply it twice.
	opts.MaxRetries = -1
	client := goredis.NewClient(opts)
	// Fail at the start of the run, with a clear message, rather than on
	// every batch.
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: connect to %s: %s", opts.Addr, red.Error(err))
	}
	return &Destination{
		client:   client,
		prefix:   prefix + settings.String("separator"),
		json:     format == FormatJSON,
		ttl:      settings.Duration("ttl"),
		redactor: red,
	}, nil
}

// Key returns the Redis key of a record's primary key.
func (d *Destination) Key(primaryKey string) string { return d.prefix + primaryKey }

// Close closes the connection pool.
func (d *Destination) Close(context.Context) error {
	if err := d.client.Close(); err != nil {
		return fmt.Errorf("redis: close: %s", d.redactor.Error(err))
	}
	return nil
}

// authFailure reports whether a server error means our credentials or
// permissions are wrong, which retrying cannot fix.
func authFailure(msg string) bool {
	for _, p := range []string{"NOAUTH", "WRONGPASS", "NOPERM"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
