// Package webhook is the generic HTTP destination: it POSTs each batch as
// one JSON document to a URL the user runs, signed with HMAC-SHA256 when a
// signing secret is set, and reads per-record results from the response.
// The payload is Riptide's own (see README.md); any service that can
// receive JSON can be a destination.
package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/value"
)

// Header names of the protocol.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderSignature      = "X-Riptide-Signature"
)

// Plugin returns the webhook destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "webhook",
		Summary: "POST each batch of records as JSON to an HTTP endpoint",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true, Doc: "The endpoint every batch is POSTed to (http or https)."},
			{Name: "batch_size", Kind: connector.KindInt, Default: 100, Doc: "Records per request."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 4, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 30 * time.Second, Doc: "Time allowed for one request, response included; a request that runs out is retried. 0 for no limit."},
			{Name: "signing_secret", Kind: connector.KindString, Secret: true, Doc: "Signs each body: X-Riptide-Signature: sha256=<hex HMAC-SHA256 of the body>."},
			{Name: "headers", Kind: connector.KindStringMap, Doc: "Extra headers sent with every request."},
			{Name: "bearer_token", Kind: connector.KindString, Secret: true, Doc: "Sent as Authorization: Bearer <token>."},
			{Name: "basic_auth_user", Kind: connector.KindString, Doc: "User for HTTP basic authentication."},
			{Name: "basic_auth_password", Kind: connector.KindString, Secret: true, Doc: "Password for HTTP basic authentication."},
			{Name: "rate_limit", Kind: connector.KindFloat, Default: 0.0, Doc: "Requests per second at most; 0 for no limit."},
		},
		Limits: connector.Limits{BatchSize: 100, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

// Destination posts batches of one sync's run to a webhook URL.
type Destination struct {
	url       string
	shownURL  string // url with any password masked, for messages
	client    *http.Client
	transport *http.Transport
	secret    []byte
	header    http.Header // custom headers and authorization, cloned per request
	redactor  *redact.Redactor
	runID     string
	// prefix is the body up to the batch number, the same for every batch
	// of the run.
	prefix []byte
	// bodies holds request body buffers: a 1000-record batch is hundreds
	// of kilobytes, and growing a fresh buffer for each would dominate the
	// encoding cost.
	bodies sync.Pool
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	raw := settings.String("url")
	secret := settings.String("signing_secret")
	bearer := settings.String("bearer_token")
	user, password := settings.String("basic_auth_user"), settings.String("basic_auth_password")
	red := redact.New([]string{secret, bearer, password, redact.URLPassword(raw)})
	shown := red.String(raw)

	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook: url %s: %s", shown, red.Error(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("webhook: url %s: want an http or https URL with a host", shown)
	}
	if bearer != "" && (user != "" || password != "") {
		return nil, fmt.Errorf("webhook: set bearer_token or basic_auth_user, not both")
	}
	if password != "" && user == "" {
		return nil, fmt.Errorf("webhook: basic_auth_password needs basic_auth_user")
	}
	switch {
	case settings.Int("batch_size") < 1:
		return nil, fmt.Errorf("webhook: batch_size must be at least 1, not %d", settings.Int("batch_size"))
	case settings.Int("concurrency") < 1:
		return nil, fmt.Errorf("webhook: concurrency must be at least 1, not %d", settings.Int("concurrency"))
	case settings.Duration("timeout") < 0:
		return nil, fmt.Errorf("webhook: timeout must not be negative")
	case settings.Float("rate_limit") < 0:
		return nil, fmt.Errorf("webhook: rate_limit must not be negative")
	}

	header := http.Header{}
	header.Set("User-Agent", "riptide-webhook") // custom headers may replace it
	names := make([]string, 0, len(settings.StringMap("headers")))
	for name := range settings.StringMap("headers") {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		header.Set(name, settings.StringMap("headers")[name])
	}
	switch {
	case bearer != "":
		header.Set("Authorization", "Bearer "+bearer)
	case user != "":
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	}
	header.Set("Content-Type", "application/json")

	conc := max(settings.Int("concurrency"), 1)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every worker keeps its connection between batches, with room for the
	// halves of split batches.
	tr.MaxIdleConns = 2 * conc
	tr.MaxIdleConnsPerHost = 2 * conc
	tr.IdleConnTimeout = 90 * time.Second
	client := &http.Client{
		Transport: httplog.Wrap(tr, target.Requests),
		Timeout:   settings.Duration("timeout"),
		// A redirected POST would be replayed as a GET without the batch;
		// report the redirect instead of following it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	prefix := []byte(`{"sync":`)
	prefix = value.AppendJSONString(prefix, target.Sync)
	prefix = append(prefix, `,"run_id":`...)
	prefix = value.AppendJSONString(prefix, target.RunID)
	prefix = append(prefix, `,"batch":`...)

	d := &Destination{
		url:       raw,
		shownURL:  shown,
		client:    client,
		transport: tr,
		header:    header,
		redactor:  red,
		runID:     target.RunID,
		prefix:    prefix,
	}
	if secret != "" {
		d.secret = []byte(secret)
	}
	return d, nil
}

// Close releases the destination's idle connections.
func (d *Destination) Close(context.Context) error {
	d.transport.CloseIdleConnections()
	return nil
}
