// Package metaaudiences is the Meta (Facebook) Custom Audiences
// destination: it adds people to a customer-list Custom Audience with
// POST /{api_version}/{audience_id}/users and removes them (mirror) with
// DELETE on the same edge, sending the multi-key payload
// {"schema":[…],"data":[[…],…]} of normalised, SHA-256-hashed
// identifiers. The access token travels in the form body, never in the
// URL, so the request log cannot show it. The delivery layer batches
// (10,000 rows per call, Meta's limit) and retries; this package maps
// records to payload rows and Meta's answers to per-row outcomes.
package metaaudiences

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
	"github.com/riptide-data/riptide/internal/redact"
)

// Documented limits and defaults of the Marketing API.
const (
	// MaxRows is the most rows one users call takes.
	MaxRows = 10000
	// DefaultVersion is the Graph API version used unless api_version
	// says otherwise.
	DefaultVersion = "v24.0"
	DefaultBaseURL = "https://graph.facebook.com"
	// DefaultConcurrency keeps calls on one audience few: Meta processes
	// an audience's uploads in order and throttles by business use case.
	DefaultConcurrency = 4
)

// Plugin returns the Meta Custom Audiences destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "meta_audiences",
		Summary: "Add people to and remove them from a Meta (Facebook) customer-list Custom Audience with normalised, SHA-256-hashed identifiers",
		Objects: []connector.Object{
			{Name: "<audience id>", Identifiers: append([]string(nil), SchemaKeys...), Doc: "The numeric Custom Audience id; identifier: the schema key the model's primary key holds, required for mirror."},
		},
		Fields: []connector.Field{
			{Name: "access_token", Kind: connector.KindString, Required: true, Secret: true, Doc: "A Marketing API access token (system user token with ads_management) allowed to edit the audience; sent in the form body (the catalog's reads send it as a Bearer Authorization header), never in the URL."},
			{Name: "base_url", Kind: connector.KindString, Default: DefaultBaseURL, Doc: "The Graph API root. Set it for an emulator (riptide's metaaudiencestest) or a proxy."},
			{Name: "api_version", Kind: connector.KindString, Default: DefaultVersion, Doc: "The Graph API version in the path, like v24.0."},
			{Name: "ad_account_id", Kind: connector.KindString, Doc: "The ad account id, act_1234… or the bare number, whose custom audiences `riptide discover` and `validate --connect` list; writing does not need it. Without it the audiences are not listed."},
			{Name: "concurrency", Kind: connector.KindInt, Default: DefaultConcurrency, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 120 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   MaxRows,
			Concurrency: DefaultConcurrency,
		},
		// Not update: adding a person who is already a member changes
		// nothing and there is no call that only touches existing members.
		Modes: []string{"upsert", "mirror"},
	}
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// graph is the Graph API client the destination and the catalog share:
// the root, the version, the access token (kept out of URLs and masked in
// logs and errors) and Meta's error classification.
type graph struct {
	client  *http.Client
	base    string
	version string
	token   string
	red     *redact.Redactor
	now     func() time.Time
}

// newGraph reads the settings every Graph API call needs.
func newGraph(settings connector.Settings, log connector.RequestLog) (*graph, error) {
	token := settings.String("access_token")
	if token == "" {
		return nil, fmt.Errorf("meta_audiences: access_token is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("meta_audiences: base_url %q: want the Graph API root, an http or https URL with a host", base)
	}
	version := settings.String("api_version")
	if version == "" {
		version = DefaultVersion
	}
	if !versionRE.MatchString(version) {
		return nil, fmt.Errorf("meta_audiences: api_version %q: want a Graph API version like %s", version, DefaultVersion)
	}
	if settings.Int("concurrency") < 0 || settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("meta_audiences: concurrency and timeout must not be negative")
	}
	red := redact.New([]string{token})
	if log != nil {
		log = redactedLog{log, red}
	}
	return &graph{
		client:  httplog.NewClient(settings.Duration("timeout"), log),
		base:    base,
		version: version,
		token:   token,
		red:     red,
		now:     time.Now,
	}, nil
}

// Destination writes one sync's run to a Custom Audience.
type Destination struct {
	*graph
	audience string
	schema   []string // mapped schema keys, in mapping order
	removeBy string   // schema key the model's primary key holds (mirror)
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	g, err := newGraph(settings, target.Requests)
	if err != nil {
		return nil, err
	}
	if target.Object == "" || strings.Trim(target.Object, "0123456789") != "" {
		return nil, fmt.Errorf("meta_audiences: sync %s: object must be the numeric Custom Audience id, not %q", target.Sync, target.Object)
	}
	if target.Mode == "update" {
		return nil, fmt.Errorf("meta_audiences: sync %s: mode update is not supported; use upsert or mirror", target.Sync)
	}
	for _, f := range target.Fields {
		if !isSchemaKey(f) {
			return nil, fmt.Errorf("meta_audiences: sync %s: mapping field %q is not a Meta schema key (want one of %s)", target.Sync, f, strings.Join(SchemaKeys, ", "))
		}
	}
	var removeBy string
	switch {
	case len(target.Identifier) == 1 && isSchemaKey(target.Identifier[0]):
		removeBy = target.Identifier[0]
	case len(target.Identifier) == 0 && target.Mode != "mirror":
	default:
		return nil, fmt.Errorf("meta_audiences: sync %s: identifier must be one schema key, the one the model's primary key holds (e.g. EMAIL or EXTERN_ID), not %v", target.Sync, target.Identifier)
	}
	return &Destination{graph: g, audience: target.Object, schema: target.Fields, removeBy: removeBy}, nil
}

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.client.CloseIdleConnections()
	return nil
}

// redactedLog masks the access token in what reaches the run's request
// log: it rides in the form body, which the log captures.
type redactedLog struct {
	next connector.RequestLog
	red  *redact.Redactor
}

func (l redactedLog) LogRequest(r connector.Request) {
	if l.next == nil {
		return
	}
	r.URL = l.red.String(r.URL)
	r.RequestBody = l.red.String(r.RequestBody)
	r.ResponseBody = l.red.String(r.ResponseBody)
	r.Error = l.red.String(r.Error)
	l.next.LogRequest(r)
}

func (l redactedLog) Full() bool { return l.next == nil || l.next.Full() }
