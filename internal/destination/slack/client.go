package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

const maxResponse = 1 << 20

// slackError is Slack refusing one message with an error code that
// retrying cannot fix and that concerns the message, not the run
// (channel_not_found, not_in_channel, is_archived, msg_too_long, …).
type slackError struct {
	Code   string
	Detail string
}

func (e *slackError) Error() string {
	if e.Detail != "" {
		return "slack: " + e.Code + " (" + e.Detail + ")"
	}
	return "slack: " + e.Code
}

// Error codes that mean the token cannot post at all: the run stops.
var authCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "token_expired": true, "no_permission": true,
	"missing_scope": true, "not_allowed_token_type": true,
}

// Error codes of a transient fault on Slack's side: the request is retried.
var retryCodes = map[string]bool{
	"ratelimited": true, "rate_limited": true, "fatal_error": true,
	"internal_error": true, "service_unavailable": true, "request_timeout": true,
}

type response struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Needed   string `json:"needed"`
	Provided string `json:"provided"`
	Warning  string `json:"warning"`
	// scopes are the token's OAuth scopes, from the X-OAuth-Scopes header
	// Slack sends with every Web API answer.
	scopes string
}

func (r *response) result() *response { return r }

// api is the Web API client the destination and the catalog share: the
// base URL, the bot token and the HTTP client.
type api struct {
	client *http.Client
	base   string
	token  string
}

// newAPI reads the settings every Web API call needs.
func newAPI(settings connector.Settings, log connector.RequestLog) (*api, error) {
	token := settings.String("token")
	if token == "" {
		return nil, fmt.Errorf("slack: token is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slack: base_url %q: want an http or https URL with a host", base)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("slack: timeout must not be negative")
	}
	return &api{client: httplog.NewClient(settings.Duration("timeout"), log), base: base, token: token}, nil
}

// call sends one Web API method with a JSON or form body and decodes
// Slack's answer into out (which embeds response). Slack answers most
// outcomes with HTTP 200 and {"ok": …}: ok is success; an auth error code
// becomes a RequestError with Auth set; ratelimited and server faults
// become retryable RequestErrors (with Retry-After when given); any other
// code is a *slackError. A non-2xx status (429 with Retry-After, 5xx) is
// classified as for any HTTP API.
func (a *api) call(ctx context.Context, method, contentType string, body []byte, out interface{ result() *response }) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("slack: build %s request: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "riptide-slack")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("slack: post %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("slack: read %s response: %w", method, err)
	}
	wait := retryAfter(resp.Header)
	jsonErr := json.Unmarshal(data, out)
	r := out.result()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(data))
		if jsonErr == nil && r.Error != "" {
			msg = r.Error
		}
		return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), wait)
	}
	if jsonErr != nil {
		// A 200 that is not Slack's JSON (a proxy's page): retrying may
		// reach Slack itself.
		return &connector.RequestError{Status: resp.StatusCode, Retryable: true, Message: fmt.Sprintf("slack: %s answered %d with a body that is not JSON: %.200s", method, resp.StatusCode, data)}
	}
	r.scopes = resp.Header.Get("X-OAuth-Scopes")
	if r.OK {
		return nil
	}
	return classify(resp.StatusCode, *r, wait)
}

// post sends one chat.postMessage call.
func (d *Destination) post(ctx context.Context, body []byte) error {
	var r response
	return d.call(ctx, "chat.postMessage", "application/json; charset=utf-8", body, &r)
}

func classify(status int, r response, wait time.Duration) error {
	code := r.Error
	if code == "" {
		code = "unknown_error"
	}
	switch {
	case authCodes[code]:
		msg := "slack: " + code
		if r.Needed != "" {
			msg += " (needed " + r.Needed + ", provided " + r.Provided + ")"
		}
		return &connector.RequestError{Status: status, Auth: true, Message: msg}
	case retryCodes[code]:
		return &connector.RequestError{Status: status, Retryable: true, RetryAfter: wait, Message: "slack: " + code}
	}
	return &slackError{Code: code, Detail: r.Warning}
}

// retryAfter reads Retry-After, which Slack sends in seconds with a 429.
func retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, time.Now())
}
