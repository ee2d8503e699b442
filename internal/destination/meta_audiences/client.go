package metaaudiences

import (
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

// usersAnswer is the answer of both users calls.
type usersAnswer struct {
	AudienceID          string            `json:"audience_id"`
	SessionID           string            `json:"session_id"`
	NumReceived         int               `json:"num_received"`
	NumInvalidEntries   int               `json:"num_invalid_entries"`
	InvalidEntrySamples map[string]string `json:"invalid_entry_samples"`
}

// graphError is the Graph API's error body.
type graphError struct {
	Error struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
		IsTransient  bool   `json:"is_transient"`
		FBTraceID    string `json:"fbtrace_id"`
	} `json:"error"`
}

const maxResponse = 8 << 20

// users sends a payload to the audience's users edge: POST adds, DELETE
// removes. A refused call becomes a *connector.RequestError.
func (d *Destination) users(ctx context.Context, method string, schema []string, data [][]string) (*usersAnswer, error) {
	payload, err := json.Marshal(map[string]any{"schema": schema, "data": data})
	if err != nil {
		return nil, fmt.Errorf("meta_audiences: encode users payload: %w", err)
	}
	// The token goes in the form body: in the URL it would reach proxies'
	// and the run's request logs.
	form := url.Values{"payload": {string(payload)}, "access_token": {d.token}}
	path := "/" + d.version + "/" + url.PathEscape(d.audience) + "/users"
	var ans usersAnswer
	if err := d.do(ctx, method, path, form, &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

// do sends one Graph API call and decodes its answer into out. A form
// (with the token in it) is the body of a POST or DELETE; a GET carries
// the token as a Bearer Authorization header instead, never in the URL.
// A refused call becomes a *connector.RequestError.
func (g *graph) do(ctx context.Context, method, path string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return fmt.Errorf("meta_audiences: build %s %s request: %w", method, path, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	req.Header.Set("User-Agent", "riptide-meta-audiences")
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("meta_audiences: %s %s: %s", method, path, g.red.String(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("meta_audiences: read %s %s response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return g.requestError(resp.StatusCode, data, resp.Header)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("meta_audiences: decode %s %s response (status %d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// throttleCodes are the Graph API's rate-limit codes: application (4),
// user (17), API (32), action-specific (613) and business use case
// (80000–80014, custom audiences 80003) limits.
func throttled(code int) bool {
	return code == 4 || code == 17 || code == 32 || code == 613 || code >= 80000 && code <= 80014
}

// requestError classifies a refused call by Meta's error code, which says
// more than the status: 190 (invalid token) stops the run, throttling
// codes, transient errors and 5xx are retried, anything else is the
// rows' fault.
func (g *graph) requestError(status int, body []byte, h http.Header) *connector.RequestError {
	var ge graphError
	if json.Unmarshal(body, &ge) != nil || ge.Error.Code == 0 && ge.Error.Message == "" {
		re := connector.ClassifyHTTP(status, []byte(g.red.String(string(body))), g.retryAfter(h))
		return re
	}
	e := ge.Error
	msg := fmt.Sprintf("%s (code %d", e.Message, e.Code)
	if e.ErrorSubcode != 0 {
		msg += fmt.Sprintf(", subcode %d", e.ErrorSubcode)
	}
	if e.FBTraceID != "" {
		msg += ", fbtrace_id " + e.FBTraceID
	}
	msg = g.red.String(msg + ")")
	re := &connector.RequestError{Status: status, Message: msg}
	switch {
	case e.Code == 190 || e.Code == 102 || e.Code == 10 || e.Code >= 200 && e.Code <= 299:
		// Invalid or expired token, or a missing permission.
		re.Auth = true
	case throttled(e.Code) || e.IsTransient || e.Code == 1 || e.Code == 2 || status >= 500:
		re.Retryable = true
		re.RetryAfter = g.retryAfter(h)
	}
	return re
}

// retryAfter reads the wait Meta states: Retry-After when present, else
// the largest estimated_time_to_regain_access (minutes) of the
// X-Business-Use-Case-Usage header.
func (g *graph) retryAfter(h http.Header) time.Duration {
	if wait := httplog.RetryAfter(h, g.now()); wait > 0 {
		return wait
	}
	var usage map[string][]struct {
		Minutes int `json:"estimated_time_to_regain_access"`
	}
	var wait time.Duration
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &usage) == nil {
		for _, list := range usage {
			for _, u := range list {
				wait = max(wait, time.Duration(u.Minutes)*time.Minute)
			}
		}
	}
	return wait
}
