// Package salesforce is the Salesforce destination: it writes records to
// one sObject (Contact, Account, a custom object) through the REST API's
// sObject Collections (upsert by external ID, create, delete) or, for
// large batches, Bulk API 2.0 ingest jobs, signing in
// with an OAuth 2.0 connected app (refresh_token or client_credentials
// grant). The delivery layer batches (200 records), rate-limits and
// retries; this package maps records to collection requests and
// Salesforce's per-record results to per-row outcomes.
package salesforce

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

const (
	maxRecords      = 200 // documented per sObject Collections request
	defaultLoginURL = "https://login.salesforce.com"
)

// Plugin returns the Salesforce destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: New, Catalog: NewCatalog}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "salesforce",
		Summary: "Upsert by external ID, insert and delete Salesforce sObject records through sObject Collections or Bulk API 2.0 (OAuth 2.0)",
		Objects: []connector.Object{
			{Name: "<SObject API name>", Identifiers: []string{"<external ID field>"}, Doc: "Contact, Account, Custom__c…; identifier: a field marked External ID, such as Riptide_Id__c, required except in insert mode."},
		},
		Fields: []connector.Field{
			{Name: "client_id", Kind: connector.KindString, Required: true, Doc: "The connected app's consumer key."},
			{Name: "client_secret", Kind: connector.KindString, Required: true, Secret: true, Doc: "The connected app's consumer secret."},
			{Name: "refresh_token", Kind: connector.KindString, Secret: true, Doc: "A refresh token of the integration user (grant_type=refresh_token); empty uses the client credentials flow (grant_type=client_credentials, with the app's run-as user)."},
			{Name: "login_url", Kind: connector.KindString, Doc: "Where tokens are requested (POST /services/oauth2/token): https://login.salesforce.com (the default), https://test.salesforce.com for sandboxes, or the org's My Domain URL (required by the client credentials flow)."},
			{Name: "instance_url", Kind: connector.KindString, Doc: "The URL data calls go to, overriding the instance_url of the token response."},
			{Name: "base_url", Kind: connector.KindString, Doc: "One URL for both login_url and instance_url when they are not set: a proxy, or an emulator (riptide's salesforcetest)."},
			{Name: "api_version", Kind: connector.KindString, Default: "62.0", Doc: "The REST API version (46.0 or later: sObject Collections upsert needs it)."},
			{Name: "requests_per_day", Kind: connector.KindInt, Default: 0, Doc: "The org's API request allocation per rolling 24 hours (Setup → Company Information; it depends on edition and licenses); 0 declares none. Either way the usage Salesforce reports (Sforce-Limit-Info, /limits) is tracked and REQUEST_LIMIT_EXCEEDED for the daily limit ends the run's sending."},
			{Name: "api", Kind: connector.KindString, Default: apiAuto, Doc: "How batches are written: collections (sObject Collections, at most 200 records per batch), bulk (each batch's upserts, inserts and deletes become one Bulk API 2.0 ingest job each), or auto (collections while batch_size is 200 or less; above it, bulk for batches of bulk_threshold records or more and collections for smaller ones, such as a run's last batch)."},
			{Name: "batch_size", Kind: connector.KindInt, Default: maxRecords, Doc: "Records per batch (the engine's batch size for the whole sync): at most 200 with api collections, and with api auto batches of bulk_threshold or more go through Bulk API 2.0, so raising it above 200 is what enables bulk in auto."},
			{Name: "bulk_threshold", Kind: connector.KindInt, Default: maxRecords + 1, Doc: "With api auto and batch_size above 200, batches of this many records or more are written through Bulk API 2.0; 2 to 201, since smaller batches go through collections, which take 200 records at most."},
			{Name: "bulk_poll_interval", Kind: connector.KindDuration, Default: 2 * time.Second, Doc: "First wait between status polls of a Bulk API 2.0 job; each later wait is half as long again, up to 30s."},
			{Name: "concurrency", Kind: connector.KindInt, Default: 4, Doc: "Requests in flight at once."},
			{Name: "timeout", Kind: connector.KindDuration, Default: 60 * time.Second, Doc: "Time allowed for one request; a request that runs out is retried."},
		},
		Limits: connector.Limits{BatchSize: maxRecords, Concurrency: 4},
		Modes:  []string{"upsert", "insert", "mirror"},
	}
}

var (
	apiName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	apiVersion = regexp.MustCompile(`^\d+\.\d$`)
)

// Destination writes one sync's run to one sObject.
type Destination struct {
	*client
	object     string
	identifier string
	windows    []connector.RateWindow

	api           string // apiAuto, apiCollections or apiBulk
	bulkThreshold int
	batchSize     int // the batch_size setting
	bulkPoll      time.Duration
}

// New builds the destination for one sync's run from validated settings.
func New(_ context.Context, settings connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	return newDestination(settings, target)
}

func newDestination(settings connector.Settings, target connector.Target) (*Destination, error) {
	c, err := newClient(settings, target.Requests)
	if err != nil {
		return nil, err
	}
	d := &Destination{client: c, object: target.Object}
	if !apiName.MatchString(d.object) {
		return nil, fmt.Errorf("salesforce: sync %s: object must be an sObject API name (Contact, Account, Custom__c), not %q", target.Sync, d.object)
	}
	if target.Mode != "insert" {
		if len(target.Identifier) != 1 || !apiName.MatchString(target.Identifier[0]) {
			return nil, fmt.Errorf("salesforce: sync %s: identifier must name one external ID field of %s (for example Ext_Id__c)", target.Sync, d.object)
		}
		d.identifier = target.Identifier[0]
		if len(target.Fields) > 0 && !contains(target.Fields, d.identifier) {
			return nil, fmt.Errorf("salesforce: sync %s: the mapping must set the external ID field %s", target.Sync, d.identifier)
		}
	}
	if perDay := settings.Int("requests_per_day"); perDay < 0 {
		return nil, fmt.Errorf("salesforce: requests_per_day must not be negative")
	} else if perDay > 0 {
		d.windows = []connector.RateWindow{{Requests: perDay, Per: 24 * time.Hour}}
	}
	d.api, d.bulkThreshold, d.bulkPoll = settings.String("api"), settings.Int("bulk_threshold"), settings.Duration("bulk_poll_interval")
	d.batchSize = settings.Int("batch_size")
	switch n := d.batchSize; {
	case d.api != apiAuto && d.api != apiCollections && d.api != apiBulk:
		return nil, fmt.Errorf("salesforce: api must be auto, collections or bulk, not %q", d.api)
	case n < 0 || (n > maxRecords && d.api == apiCollections):
		return nil, fmt.Errorf("salesforce: batch_size %d: sObject Collections take 1 to %d records (api bulk or auto allow more)", n, maxRecords)
	case d.bulkThreshold < 2 || d.bulkThreshold > maxRecords+1:
		return nil, fmt.Errorf("salesforce: bulk_threshold must be 2 to %d, not %d", maxRecords+1, d.bulkThreshold)
	case d.bulkPoll <= 0:
		return nil, fmt.Errorf("salesforce: bulk_poll_interval must be positive")
	}
	return d, nil
}

func checkURL(s string) error {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http or https URL with a host")
	}
	return nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// RateWindows is the org's daily allocation when the settings state it;
// the delivery layer keeps it.
func (d *Destination) RateWindows() []connector.RateWindow { return d.windows }

// Close releases idle connections.
func (d *Destination) Close(context.Context) error {
	d.hc.CloseIdleConnections()
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
