package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

// maxResponse bounds a response body; it is large enough for the failed
// results of a bulk job, and a longer body is an error rather than
// silently truncated (a cut failedResults CSV would pass failed rows).
const maxResponse = 32 << 20

// apiError is an element of Salesforce's error arrays: errorCode in
// request errors, statusCode in collection results.
type apiError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (e apiError) describe() string {
	code := first(e.ErrorCode, e.StatusCode)
	s := e.Message
	if code != "" {
		s = code + ": " + s
	}
	if len(e.Fields) > 0 {
		s += " (fields: " + strings.Join(e.Fields, ", ") + ")"
	}
	return s
}

// client is the org's API: the OAuth session (signed in on first use,
// renewed when Salesforce calls it invalid) and the daily allocations the
// responses report. A sync's Destination and the Catalog share it.
type client struct {
	hc       *http.Client
	loginURL string
	instance string // the instance_url/base_url setting; "" takes the token's
	version  string
	clientID string
	secret   string
	refresh  string

	mu    sync.Mutex
	token string // current access token; "" before the first call
	base  string // instance URL data calls go to

	quota quota
}

// newClient reads the connection settings: credentials, URLs, API
// version and timeout.
func newClient(settings connector.Settings, requests connector.RequestLog) (*client, error) {
	c := &client{
		clientID: settings.String("client_id"),
		secret:   settings.String("client_secret"),
		refresh:  settings.String("refresh_token"),
		version:  settings.String("api_version"),
	}
	if c.clientID == "" || c.secret == "" {
		return nil, fmt.Errorf("salesforce: client_id and client_secret are required")
	}
	base := settings.String("base_url")
	c.loginURL = first(settings.String("login_url"), base, defaultLoginURL)
	c.instance = first(settings.String("instance_url"), base)
	for name, u := range map[string]string{"login_url": c.loginURL, "instance_url": c.instance} {
		if err := checkURL(u); u != "" && err != nil {
			return nil, fmt.Errorf("salesforce: %s %q: %w", name, u, err)
		}
	}
	c.loginURL, c.instance = strings.TrimRight(c.loginURL, "/"), strings.TrimRight(c.instance, "/")
	if !apiVersion.MatchString(c.version) {
		return nil, fmt.Errorf("salesforce: api_version %q: want a version such as 62.0", c.version)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("salesforce: timeout must not be negative")
	}
	c.hc = &http.Client{
		Transport:     httplog.Wrap(http.DefaultTransport, requests),
		Timeout:       settings.Duration("timeout"),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.quota.bulkRemaining = -1
	return c, nil
}

// session returns the access token and instance URL, signing in on first
// use.
func (d *client) session(ctx context.Context) (token, base string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.token == "" {
		if err := d.signIn(ctx); err != nil {
			return "", "", err
		}
	}
	return d.token, d.base, nil
}

// renew replaces an access token Salesforce called invalid, unless a
// concurrent Write already did.
func (d *client) renew(ctx context.Context, stale string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.token != stale {
		return nil
	}
	return d.signIn(ctx)
}

// signIn asks the token endpoint for an access token; d.mu is held.
func (d *client) signIn(ctx context.Context) error {
	form := url.Values{"client_id": {d.clientID}, "client_secret": {d.secret}}
	if d.refresh != "" {
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", d.refresh)
	} else {
		form.Set("grant_type", "client_credentials")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.loginURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("salesforce: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("salesforce: request access token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("salesforce: read token response: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &tok)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return connector.ClassifyHTTP(resp.StatusCode, data, retryAfter(resp.Header))
	}
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		// invalid_grant, invalid_client…: the credentials are wrong or
		// revoked, which no retry mends.
		msg := strings.TrimSpace(tok.Error + ": " + tok.Description)
		if tok.Error == "" {
			msg = strings.TrimSpace(string(data))
		}
		return &connector.RequestError{Status: resp.StatusCode, Auth: true, Message: "salesforce token request refused: " + msg}
	}
	base := first(d.instance, strings.TrimRight(tok.InstanceURL, "/"))
	if err := checkURL(base); err != nil {
		return fmt.Errorf("salesforce: instance_url %q of the token response: %w", base, err)
	}
	d.token, d.base = tok.AccessToken, base
	return nil
}

// call sends one JSON data request to /services/data/vXX.X/{path} and
// decodes a 2xx answer into out.
func (d *client) call(ctx context.Context, method, path string, body, out any) error {
	var buf []byte
	if body != nil {
		var err error
		if buf, err = json.Marshal(body); err != nil {
			return fmt.Errorf("salesforce: encode %s %s: %w", method, path, err)
		}
	}
	data, err := d.callRaw(ctx, method, path, "application/json", buf)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("salesforce: decode %s %s response: %w", method, path, err)
	}
	return nil
}

// callRaw sends one data request with a body of contentType (JSON, or the
// CSV of a Bulk API 2.0 upload) and returns a 2xx answer's body. A 401
// INVALID_SESSION_ID renews the access token once and repeats the call;
// other failures become *connector.RequestError.
func (d *client) callRaw(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if err := d.quota.stopped(); err != nil {
			return nil, err
		}
		token, base, err := d.session(ctx)
		if err != nil {
			return nil, err
		}
		status, data, hdr, err := d.send(ctx, method, base+"/services/data/v"+d.version+"/"+path, token, contentType, body)
		if err != nil {
			return nil, err
		}
		d.quota.observe(hdr)
		if status >= 200 && status < 300 {
			return data, nil
		}
		if isDailyLimit(status, data) {
			d.quota.markReached()
			return nil, d.quota.limitError()
		}
		re := requestError(status, data, hdr)
		if status == http.StatusUnauthorized && attempt == 0 {
			if err := d.renew(ctx, token); err != nil {
				return nil, err
			}
			continue
		}
		return nil, re
	}
}

func (d *client) send(ctx context.Context, method, u, token, contentType string, body []byte) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("salesforce: build %s request: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("salesforce: %s %s: %w", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("salesforce: read %s response: %w", method, err)
	}
	if len(data) > maxResponse {
		return 0, nil, nil, fmt.Errorf("salesforce: %s response is longer than %d bytes", method, maxResponse)
	}
	return resp.StatusCode, data, resp.Header, nil
}

// requestError classifies a refused request: REQUEST_LIMIT_EXCEEDED
// comes as 403 (or 429) but is a quota; the daily one never gets here
// (callRaw stops the run), the others (concurrent long requests) pass and
// are retried; 401 and other 403s stop the run; 5xx are retried; other
// 4xx are the records' fault.
func requestError(status int, data []byte, h http.Header) *connector.RequestError {
	var errs []apiError
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &errs) == nil && len(errs) > 0 {
		parts := make([]string, len(errs))
		for i, e := range errs {
			parts[i] = e.describe()
		}
		msg = strings.Join(parts, "; ")
	}
	re := connector.ClassifyHTTP(status, []byte(msg), retryAfter(h))
	if len(errs) > 0 && errs[0].ErrorCode == "REQUEST_LIMIT_EXCEEDED" {
		re.Auth, re.Retryable = false, true
	}
	return re
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, time.Now())
}
