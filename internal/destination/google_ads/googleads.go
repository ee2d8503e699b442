// Package googleads is the Google Ads Customer Match destination: it adds
// people to and removes them from a CUSTOMER_MATCH_USER_LIST through the
// REST interface of OfflineUserDataJobService. Each Write is one job:
// offlineUserDataJobs:create for the sync's user list, one :addOperations
// call with partial failure enabled (create operations for added and
// changed rows, remove operations for rows gone from a mirror sync), then
// :run. Identifiers are normalised and SHA-256 hashed per Google's Customer
// Match rules before they leave the process. The delivery layer batches
// (10,000 rows, Google's recommended request size) and retries; this
// package maps rows to operations and Google's answers to row outcomes.
package googleads

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

// Documented limits and defaults of the Google Ads API.
const (
	// MaxOperations is the rows one Write sends: Google recommends up to
	// 10,000 identifiers per AddOfflineUserDataJobOperations call.
	MaxOperations = 10000
	// MaxIdentifiers is the most user identifiers one
	// AddOfflineUserDataJobOperations request may carry across its
	// operations (TOO_MANY_USER_IDENTIFIERS beyond).
	MaxIdentifiers = 100000
	DefaultVersion = "v26"
	DefaultBaseURL = "https://googleads.googleapis.com"
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// DefaultConcurrency keeps jobs on one list few: Google processes a
	// list's jobs one after the other (CONCURRENT_MODIFICATION otherwise).
	DefaultConcurrency = 2
)

// Plugin returns the Google Ads Customer Match destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "google_ads",
		Summary: "Add people to and remove them from a Google Ads Customer Match user list with offline user data jobs of normalised, SHA-256-hashed identifiers",
		Objects: []connector.Object{
			{Name: "<user list resource name>", Identifiers: slices.Clone(keyFields), Doc: "customers/{customer_id}/userLists/{id} of the customer_id account; identifier: the field the model's primary key holds, required for mirror."},
		},
		Fields: []connector.Field{
			{Name: "client_id", Kind: connector.KindString, Required: true, Doc: "OAuth 2.0 client ID of the Google Cloud project allowed to call the Google Ads API."},
			{Name: "client_secret", Kind: connector.KindString, Required: true, Secret: true, Doc: "OAuth 2.0 client secret of that client."},
			{Name: "refresh_token", Kind: connector.KindString, Required: true, Secret: true, Doc: "OAuth 2.0 refresh token of a user with access to the account (scope adwords); exchanged for short-lived access tokens."},
			{Name: "developer_token", Kind: connector.KindString, Required: true, Secret: true, Doc: "Google Ads API developer token, sent in the developer-token header."},
			{Name: "customer_id", Kind: connector.KindString, Required: true, Doc: "The Google Ads account (10 digits, dashes allowed) that owns the user list."},
			{Name: "login_customer_id", Kind: connector.KindString, Doc: "The manager account (10 digits) the user reaches the customer through, sent in the login-customer-id header; empty when the user has direct access."},
			{Name: "base_url", Kind: connector.KindString, Default: DefaultBaseURL, Doc: "The Google Ads API root. Set it for an emulator (riptide's googleadstest) or a proxy."},
			{Name: "token_url", Kind: connector.KindString, Default: DefaultTokenURL, Doc: "The OAuth 2.0 token endpoint the refresh token is exchanged at."},
			{Name: "api_version", Kind: connector.KindString, Default: DefaultVersion, Doc: "The Google Ads API version in the path, like v26."},
			{Name: "concurrency", Kind: connector.KindInt, Default: DefaultConcurrency, Doc: "Jobs in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 120 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{
			BatchSize:   MaxOperations,
			Concurrency: DefaultConcurrency,
		},
		// Not update: adding a member twice changes nothing, and there is
		// no call that only touches existing members.
		Modes: []string{"upsert", "mirror"},
	}
}

var (
	versionRE  = regexp.MustCompile(`^v[0-9]+$`)
	userListRE = regexp.MustCompile(`^customers/([0-9]{10})/userLists/[0-9]+$`)
)

// client is the Google Ads API client the destination and the catalog
// share: OAuth refresh, the developer-token and login-customer-id headers,
// and google.rpc error classification.
type client struct {
	api       *http.Client // logged in the run's request log
	auth      *http.Client // not logged: the token exchange carries secrets
	base      string
	version   string
	tokenURL  string
	customer  string
	login     string
	clientID  string
	secret    string
	refresh   string
	developer string
	now       func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Destination writes one sync's run to a Customer Match user list.
type Destination struct {
	*client
	userList string
	fields   []string
	removeBy string // mapping field the model's primary key holds (mirror)
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func checkURL(name, raw, def string) (string, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("google_ads: %s %q: want an http or https URL with a host", name, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func digits(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "-", "") }

// newClient reads the settings every API call needs: credentials, the
// account, the endpoints and the version.
func newClient(settings connector.Settings, log connector.RequestLog) (*client, error) {
	c := &client{
		clientID:  settings.String("client_id"),
		secret:    settings.String("client_secret"),
		refresh:   settings.String("refresh_token"),
		developer: settings.String("developer_token"),
		customer:  digits(settings.String("customer_id")),
		login:     digits(settings.String("login_customer_id")),
		version:   settings.String("api_version"),
		now:       time.Now,
	}
	if c.clientID == "" || c.secret == "" || c.refresh == "" || c.developer == "" {
		return nil, fmt.Errorf("google_ads: client_id, client_secret, refresh_token and developer_token are required")
	}
	if len(c.customer) != 10 || strings.Trim(c.customer, "0123456789") != "" {
		return nil, fmt.Errorf("google_ads: customer_id %q: want the 10-digit account id", settings.String("customer_id"))
	}
	if c.login != "" && (len(c.login) != 10 || strings.Trim(c.login, "0123456789") != "") {
		return nil, fmt.Errorf("google_ads: login_customer_id %q: want a 10-digit manager account id", settings.String("login_customer_id"))
	}
	var err error
	if c.base, err = checkURL("base_url", settings.String("base_url"), DefaultBaseURL); err != nil {
		return nil, err
	}
	if c.tokenURL, err = checkURL("token_url", settings.String("token_url"), DefaultTokenURL); err != nil {
		return nil, err
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if !versionRE.MatchString(c.version) {
		return nil, fmt.Errorf("google_ads: api_version %q: want a version like %s", c.version, DefaultVersion)
	}
	if settings.Int("concurrency") < 0 || settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("google_ads: concurrency and timeout must not be negative")
	}
	c.api = httplog.NewClient(settings.Duration("timeout"), log)
	c.auth = httplog.NewClient(settings.Duration("timeout"), nil)
	return c, nil
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	c, err := newClient(settings, target.Requests)
	if err != nil {
		return nil, err
	}
	d := &Destination{client: c}
	m := userListRE.FindStringSubmatch(target.Object)
	if m == nil {
		return nil, fmt.Errorf("google_ads: sync %s: object must be a user list resource name like customers/1234567890/userLists/111, not %q", target.Sync, target.Object)
	}
	if m[1] != d.customer {
		return nil, fmt.Errorf("google_ads: sync %s: user list %s belongs to customer %s, not customer_id %s", target.Sync, target.Object, m[1], d.customer)
	}
	d.userList = target.Object
	if target.Mode == "update" {
		return nil, fmt.Errorf("google_ads: sync %s: mode update is not supported; use upsert or mirror", target.Sync)
	}
	for _, f := range target.Fields {
		if !slices.Contains(Fields, f) {
			return nil, fmt.Errorf("google_ads: sync %s: mapping field %q is not a Customer Match field (want one of %s)", target.Sync, f, strings.Join(Fields, ", "))
		}
	}
	d.fields = target.Fields
	switch {
	case len(target.Identifier) == 1 && slices.Contains(keyFields, target.Identifier[0]):
		d.removeBy = target.Identifier[0]
	case len(target.Identifier) == 0 && target.Mode != "mirror":
	default:
		return nil, fmt.Errorf("google_ads: sync %s: identifier must be the field the model's primary key holds, one of %s, not %v", target.Sync, strings.Join(keyFields, ", "), target.Identifier)
	}
	return d, nil
}

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.closeIdle()
	return nil
}

func (c *client) closeIdle() {
	c.api.CloseIdleConnections()
	c.auth.CloseIdleConnections()
}
