package intercom

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

const maxResponse = 8 << 20

// errorList is Intercom's error body: {"type":"error.list","errors":[...]}.
type errorList struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

// api is the REST API as the destination and the catalog call it: one
// HTTP client, the API root and the access token.
type api struct {
	client *http.Client
	base   string
	token  string
	now    func() time.Time // reads X-RateLimit-Reset against it
}

// newAPI checks the connection settings (access_token, base_url, timeout)
// and builds the client; log may be nil.
func newAPI(settings connector.Settings, log connector.RequestLog) (*api, error) {
	token := settings.String("access_token")
	if token == "" {
		return nil, fmt.Errorf("intercom: access_token is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("intercom: base_url %q: want the API root, an http or https URL with a host", base)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("intercom: timeout must not be negative")
	}
	return &api{client: httplog.NewClient(settings.Duration("timeout"), log), base: base, token: token, now: time.Now}, nil
}

// call sends one API request with the Bearer token and the pinned
// Intercom-Version, and decodes a 2xx answer into out (when not nil). A
// non-2xx answer becomes a *connector.RequestError: 401/403 stop the run,
// 429 and 5xx are retried after the window's reset, other 4xx are not
// retried.
func (d *api) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("intercom: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return fmt.Errorf("intercom: build %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Intercom-Version", APIVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "riptide-intercom")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("intercom: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("intercom: read %s %s response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return d.requestError(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("intercom: decode %s %s response (status %d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

func (d *api) requestError(resp *http.Response, data []byte) *connector.RequestError {
	msg := strings.TrimSpace(string(data))
	var e errorList
	if json.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
		parts := make([]string, 0, len(e.Errors))
		for _, x := range e.Errors {
			p := x.Message
			if x.Code != "" {
				p = x.Code + ": " + p
			}
			parts = append(parts, p)
		}
		msg = strings.Join(parts, "; ")
	}
	return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), d.retryAfter(resp.Header))
}

// retryAfter is the wait before a refused request may go again:
// Retry-After when given, else the time until X-RateLimit-Reset (Unix
// seconds), when Intercom's window refills.
func (d *api) retryAfter(h http.Header) time.Duration {
	if wait := httplog.RetryAfter(h, d.now()); wait > 0 {
		return wait
	}
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 {
		if wait := time.Unix(s, 0).Sub(d.now()); wait > 0 {
			return wait
		}
	}
	return 0
}
