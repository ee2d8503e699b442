package braze

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

type userAlias struct {
	Name  string `json:"alias_name"`
	Label string `json:"alias_label"`
}

// minorError is an element of a response's errors: for /users/track, an
// object Braze refused, named by array and index.
type minorError struct {
	Type       string `json:"type"`
	InputArray string `json:"input_array"`
	Index      *int   `json:"index"`
}

func (e minorError) describe() string {
	if e.InputArray == "" {
		return e.Type
	}
	return fmt.Sprintf("%s (%s)", e.Type, e.InputArray)
}

// response is Braze's answer: message "success" or the fatal error, with
// the non-fatal errors.
type response struct {
	Message             string       `json:"message"`
	AttributesProcessed int          `json:"attributes_processed"`
	Deleted             int          `json:"deleted"`
	Errors              []minorError `json:"errors"`
}

const maxResponse = 8 << 20

// api is the REST API as the destination and the catalog call it: one
// HTTP client, the workspace's REST endpoint and the key.
type api struct {
	client *http.Client
	base   string
	key    string
	now    func() time.Time // reads X-RateLimit-Reset against it
}

// newAPI checks the connection settings (api_key, base_url, timeout) and
// builds the client; log may be nil.
func newAPI(settings connector.Settings, log connector.RequestLog) (*api, error) {
	key := settings.String("api_key")
	if key == "" {
		return nil, fmt.Errorf("braze: api_key is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("braze: base_url %q: want the workspace's REST endpoint, an http or https URL with a host", base)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("braze: timeout must not be negative")
	}
	return &api{client: httplog.NewClient(settings.Duration("timeout"), log), base: base, key: key, now: time.Now}, nil
}

// post sends one request to a REST endpoint and decodes a 2xx answer. A
// non-2xx answer becomes a *connector.RequestError: 401/403 stop the run,
// 429 and 5xx are retried after Braze's rate-limit headers say.
func (d *api) post(ctx context.Context, path string, body any) (*response, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("braze: encode %s request: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("braze: build %s request: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riptide-braze")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("braze: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("braze: read %s response: %w", path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var out response
		if len(bytes.TrimSpace(data)) == 0 {
			return &out, nil
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("braze: decode %s response (status %d): %w", path, resp.StatusCode, err)
		}
		if out.Message != "" && out.Message != "success" {
			// A fatal error answered with a 2xx: nothing was processed.
			return nil, &connector.RequestError{Status: resp.StatusCode, Message: out.Message}
		}
		return &out, nil
	}
	return nil, d.requestError(resp, data)
}

func (d *api) requestError(resp *http.Response, data []byte) *connector.RequestError {
	msg := strings.TrimSpace(string(data))
	var e response
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		msg = e.Message
		for _, m := range e.Errors {
			if m.Index != nil {
				msg += fmt.Sprintf("; %s at %s[%d]", m.Type, m.InputArray, *m.Index)
			} else {
				msg += "; " + m.describe()
			}
		}
	}
	return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), d.retryAfter(resp.Header))
}

// retryAfter reads how long Braze asks to wait: X-RateLimit-Retry-After or
// Retry-After in seconds, else the time until X-RateLimit-Reset (epoch
// seconds) when the window's requests are spent.
func (d *api) retryAfter(h http.Header) time.Duration {
	for _, name := range []string{"X-RateLimit-Retry-After", "Retry-After"} {
		if s, err := strconv.Atoi(h.Get(name)); err == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			if wait := time.Unix(reset, 0).Sub(d.now()); wait > 0 {
				return wait
			}
		}
	}
	return 0
}
