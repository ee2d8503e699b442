package mailchimp

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
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

// memberError is an element of a batch answer's errors: the refused member
// by email address, with Mailchimp's message and code.
type memberError struct {
	EmailAddress string `json:"email_address"`
	Error        string `json:"error"`
	ErrorCode    string `json:"error_code"`
}

func (e memberError) describe() string {
	if e.ErrorCode != "" {
		return e.Error + " (" + e.ErrorCode + ")"
	}
	return e.Error
}

// batchAnswer is the part of a batch subscribe answer the destination
// reads; new_members and updated_members are not needed to tell outcomes.
type batchAnswer struct {
	Errors       []memberError `json:"errors"`
	TotalCreated int           `json:"total_created"`
	TotalUpdated int           `json:"total_updated"`
	ErrorCount   int           `json:"error_count"`
}

// problem is Mailchimp's error body (RFC 7807 problem details).
type problem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

const maxResponse = 8 << 20

// SubscriberHash is the id of a member in API paths: the MD5 of the
// lowercased email address, in hex.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

// batchSubscribe posts members to /3.0/lists/{list_id} with
// update_existing and returns the member errors of the answer. A non-2xx
// answer becomes a *connector.RequestError.
func (d *Destination) batchSubscribe(ctx context.Context, members []json.RawMessage) (*batchAnswer, error) {
	buf, err := json.Marshal(map[string]any{"members": members, "update_existing": true})
	if err != nil {
		return nil, fmt.Errorf("mailchimp: encode batch subscribe request: %w", err)
	}
	path := "/3.0/lists/" + url.PathEscape(d.list)
	status, data, h, err := d.do(ctx, http.MethodPost, path, buf)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, d.requestError(status, data, h)
	}
	var out batchAnswer
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("mailchimp: decode batch subscribe response (status %d): %w", status, err)
	}
	if out.ErrorCount > 0 && len(out.Errors) == 0 {
		// Refusals without saying which: take nothing as delivered.
		out.Errors = []memberError{{Error: fmt.Sprintf("mailchimp counted %d errors without naming the members", out.ErrorCount)}}
	}
	return &out, nil
}

// archive archives one member. It returns the
// *connector.RequestError of a refusal; a 404 (no such member) is not an
// error: the member is already gone.
func (d *Destination) archive(ctx context.Context, email string) error {
	path := "/3.0/lists/" + url.PathEscape(d.list) + "/members/" + SubscriberHash(email)
	status, data, h, err := d.do(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 || status == http.StatusNotFound {
		return nil
	}
	return d.requestError(status, data, h)
}

// api is the Marketing API as both the destination and the catalog call
// it: one HTTP client, the API root and the key.
type api struct {
	client *http.Client
	base   string
	key    string
	now    func() time.Time // reads an HTTP-date Retry-After against it
}

// newAPI checks the connection settings (api_key, base_url, timeout) and
// builds the client; log may be nil.
func newAPI(settings connector.Settings, log connector.RequestLog) (*api, error) {
	key := settings.String("api_key")
	if key == "" {
		return nil, fmt.Errorf("mailchimp: api_key is required")
	}
	base := strings.TrimRight(settings.String("base_url"), "/")
	if base == "" {
		dc, err := DataCenter(key)
		if err != nil {
			return nil, err
		}
		base = "https://" + dc + ".api.mailchimp.com"
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mailchimp: base_url %q: want the API root, an http or https URL with a host", base)
	}
	if settings.Duration("timeout") < 0 {
		return nil, fmt.Errorf("mailchimp: timeout must not be negative")
	}
	return &api{client: httplog.NewClient(settings.Duration("timeout"), log), base: base, key: key, now: time.Now}, nil
}

// getJSON GETs path and decodes a 200 answer into out; what names the
// call in errors, and a refusal wraps its *connector.RequestError.
func (d *api) getJSON(ctx context.Context, path, what string, out any) error {
	status, data, h, err := d.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("mailchimp: %s: %w", what, d.requestError(status, data, h))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("mailchimp: decode %s: %w", what, err)
	}
	return nil
}

func (d *api) do(ctx context.Context, method, path string, body []byte) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("mailchimp: build %s request: %w", method, err)
	}
	// Mailchimp takes any user name; the key is the password.
	req.SetBasicAuth("riptide", d.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "riptide-mailchimp")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("mailchimp: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("mailchimp: read %s %s response: %w", method, path, err)
	}
	return resp.StatusCode, data, resp.Header, nil
}

// requestError classifies a refused call: 401/403 stop the run, 429 and
// 5xx are retried (after Retry-After when given), other 4xx are not.
func (d *api) requestError(status int, data []byte, h http.Header) *connector.RequestError {
	msg := strings.TrimSpace(string(data))
	var p problem
	if json.Unmarshal(data, &p) == nil && (p.Title != "" || p.Detail != "") {
		parts := []string{strings.TrimSpace(p.Title + ": " + p.Detail)}
		for _, e := range p.Errors {
			parts = append(parts, e.Field+": "+e.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	return connector.ClassifyHTTP(status, []byte(msg), d.retryAfter(h))
}

// retryAfter reads Retry-After: seconds or an HTTP date. Mailchimp does
// not document the header; an emulator or proxy may send it.
func (d *api) retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, d.now())
}
