package iterable

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

// bulkAnswer is the answer of bulkUpdate and list subscribe/unsubscribe.
type bulkAnswer struct {
	SuccessCount  int                 `json:"successCount"`
	FailCount     int                 `json:"failCount"`
	FailedUpdates map[string][]string `json:"failedUpdates"`
	// Deprecated top-level lists Iterable still sends.
	InvalidEmails  []string `json:"invalidEmails"`
	InvalidUserIDs []string `json:"invalidUserIds"`
}

// named maps each failing identifier of the sync's kind to why it failed.
// failedUpdates keys end in Emails or UserIds (invalidEmails,
// notFoundUserIds, forgottenEmails, …); the prefix is the reason.
// With notFoundOK, the notFound lists are left out.
func (a *bulkAnswer) named(identifier string, notFoundOK bool) map[string]string {
	suffix := "Emails"
	if identifier == IDUserID {
		suffix = "UserIds"
	}
	out := map[string]string{}
	add := func(kind string, list []string) {
		reason, ok := strings.CutSuffix(kind, suffix)
		if !ok || (notFoundOK && reason == "notFound") {
			return
		}
		for _, id := range list {
			if _, seen := out[id]; !seen {
				out[id] = fmt.Sprintf("iterable refused %s %q: %s", identifier, id, reason)
			}
		}
	}
	for kind, list := range a.FailedUpdates {
		add(kind, list)
	}
	add("invalidEmails", a.InvalidEmails)
	add("invalidUserIds", a.InvalidUserIDs)
	return out
}

// message is Iterable's error body.
type message struct {
	Msg  string `json:"msg"`
	Code string `json:"code"`
}

const maxResponse = 8 << 20

// api is Iterable's REST API as the destination and the catalog call it:
// one HTTP client, the API root and the key.
type api struct {
	client *http.Client
	base   string
	key    string
	now    func() time.Time
}

// newAPI checks the connection settings (api_key, base_url, timeout) and
// builds the client; log may be nil.
func newAPI(settings connector.Settings, log connector.RequestLog) (*api, error) {
	key := settings.String("api_key")
	if key == "" {
		return nil, fmt.Errorf("iterable: api_key is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("iterable: base_url %q: want the API root, an http or https URL with a host", base)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("iterable: timeout must not be negative")
	}
	return &api{client: httplog.NewClient(settings.Duration("timeout"), log), base: base, key: key, now: time.Now}, nil
}

func (d *Destination) bulk(ctx context.Context, path string, body any) (*bulkAnswer, error) {
	var ans bulkAnswer
	if err := d.do(ctx, http.MethodPost, path, body, &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

// do sends one request and decodes a 2xx answer into out. A non-2xx
// answer becomes a *connector.RequestError: 401/403 stop the run, 429 and
// 5xx are retried after Retry-After, other 4xx are not retried.
func (d *api) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("iterable: encode %s request: %w", path, err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return fmt.Errorf("iterable: build %s request: %w", path, err)
	}
	req.Header.Set("Api-Key", d.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riptide-iterable")
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("iterable: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("iterable: read %s response: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(data))
		var m message
		if json.Unmarshal(data, &m) == nil && m.Msg != "" {
			msg = m.Msg
			if m.Code != "" {
				msg += " (" + m.Code + ")"
			}
		}
		return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), d.retryAfter(resp.Header))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("iterable: decode %s response (status %d): %w", path, resp.StatusCode, err)
		}
	}
	return nil
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func (d *api) retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, d.now())
}
