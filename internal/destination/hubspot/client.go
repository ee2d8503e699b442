package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

// apiError is HubSpot's error body and the element of a 207's errors.
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	PolicyName    string              `json:"policyName"`
	Context       map[string][]string `json:"context"`
	Errors        []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *apiError) describe() string {
	var b strings.Builder
	if e.Category != "" {
		b.WriteString(e.Category + ": ")
	}
	b.WriteString(e.Message)
	for _, d := range e.Errors {
		if d.Message != "" && !strings.Contains(e.Message, d.Message) {
			b.WriteString("; " + d.Message)
		}
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlationId " + e.CorrelationID + ")")
	}
	return b.String()
}

type batchResponse struct {
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
	NumErrors int        `json:"numErrors"`
	Errors    []apiError `json:"errors"`
}

const maxResponse = 8 << 20

// post sends one batch request to /crm/v3/objects/{object}/batch/{action}
// and decodes a 2xx answer (nil for 204). A non-2xx answer becomes a
// *connector.RequestError: 401/403 stop the run, 429 and 5xx are retried
// after Retry-After or, for HubSpot's rolling limit, its interval.
func (d *Destination) post(ctx context.Context, action string, body any) (*batchResponse, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("hubspot: encode %s batch: %w", action, err)
	}
	u := d.base + "/crm/v3/objects/" + d.object + "/batch/" + action
	resp, data, err := d.call(ctx, http.MethodPost, u, buf, action+" "+d.object)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
			return nil, nil
		}
		var out batchResponse
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("hubspot: decode %s response (status %d): %w", action, resp.StatusCode, err)
		}
		return &out, nil
	}
	return nil, requestError(resp, data)
}

// client is the account's API: its base URL and credentials (a private
// app's token or a public app's OAuth). A sync's Destination and the
// Catalog share it.
type client struct {
	hc    *http.Client
	base  string
	token string    // private app
	oauth *oauthApp // public app
}

// newClient reads the connection settings: base_url, the credentials and
// the timeout.
func newClient(settings connector.Settings, requests connector.RequestLog) (*client, error) {
	base := strings.TrimRight(settings.String("base_url"), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hubspot: base_url %q: want an http or https URL with a host", base)
	}
	token := settings.String("access_token")
	app, err := oauthSettings(settings, base)
	if err != nil {
		return nil, err
	}
	if (token == "") == (app == nil) {
		return nil, fmt.Errorf("hubspot: set either access_token (private app) or client_id, client_secret and refresh_token (public app), not both and not neither")
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("hubspot: timeout must not be negative")
	}
	return &client{hc: httplog.NewClient(settings.Duration("timeout"), requests), base: base, token: token, oauth: app}, nil
}

// closeIdle releases idle connections.
func (d *client) closeIdle() {
	d.hc.CloseIdleConnections()
	if d.oauth != nil {
		d.oauth.client.CloseIdleConnections()
	}
}

// get sends a GET to path under the base URL and decodes a 200 answer
// into out; what names the call in errors.
func (d *client) get(ctx context.Context, path, what string, out any) error {
	resp, data, err := d.call(ctx, http.MethodGet, d.base+path, nil, what)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hubspot: %s: %w", what, requestError(resp, data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("hubspot: decode %s response: %w", what, err)
	}
	return nil
}

// call sends one API request with the current bearer token and returns
// the answer whatever its status. With a public app, a 401 for an expired
// token refreshes the token once and repeats the call.
func (d *client) call(ctx context.Context, method, u string, body []byte, what string) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		token := d.token
		if d.oauth != nil {
			var err error
			if token, err = d.oauth.current(ctx); err != nil {
				return nil, nil, err
			}
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, nil, fmt.Errorf("hubspot: build %s request: %w", what, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "riptide-hubspot")
		resp, err := d.hc.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("hubspot: %s: %w", what, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("hubspot: read %s response: %w", what, err)
		}
		if d.oauth != nil && attempt == 0 && expiredToken(resp.StatusCode, data) {
			if err := d.oauth.renew(ctx, token); err != nil {
				return nil, nil, err
			}
			continue
		}
		return resp, data, nil
	}
}

func requestError(resp *http.Response, data []byte) *connector.RequestError {
	var e apiError
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		msg = e.describe()
	}
	re := connector.ClassifyHTTP(resp.StatusCode, []byte(msg), retryAfter(resp.Header))
	if resp.StatusCode == http.StatusTooManyRequests && re.RetryAfter == 0 {
		switch e.PolicyName {
		case "DAILY":
			// The day's quota is spent: waiting the longest the delivery
			// layer allows gives each attempt its best chance.
			re.RetryAfter = time.Hour
		default:
			if ms, err := strconv.Atoi(resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
				re.RetryAfter = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return re
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, time.Now())
}
