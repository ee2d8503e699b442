package customerio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

// entryError is an element of a 207 answer's errors: the refused entry by
// batch_index, with the reason, the field and a message.
type entryError struct {
	BatchIndex *int   `json:"batch_index"`
	Reason     string `json:"reason"`
	Field      string `json:"field"`
	Message    string `json:"message"`
}

func (e entryError) describe() string {
	msg := e.Message
	if msg == "" {
		msg = e.Reason
	}
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	return msg
}

// answer is a Track API body: v2 errors, or v1's meta.error.
type answer struct {
	Errors []entryError `json:"errors"`
	Meta   struct {
		Error string `json:"error"`
	} `json:"meta"`
}

const maxResponse = 8 << 20

// batch posts entries to /api/v2/batch and returns the entry errors of a
// 207 answer. A non-2xx answer becomes a *connector.RequestError: 401/403
// stop the run, 429 and 5xx are retried after Retry-After, other 4xx are
// not retried (the engine splits the batch).
func (d *Destination) batch(ctx context.Context, entries []json.RawMessage) ([]entryError, error) {
	buf, err := json.Marshal(map[string]any{"batch": entries})
	if err != nil {
		return nil, fmt.Errorf("customerio: encode batch request: %w", err)
	}
	const path = "/api/v2/batch"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("customerio: build batch request: %w", err)
	}
	req.SetBasicAuth(d.siteID, d.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riptide-customerio")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("customerio: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("customerio: read batch response: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var out answer
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, nil
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("customerio: decode batch response (status %d): %w", resp.StatusCode, err)
		}
		if resp.StatusCode == http.StatusMultiStatus && len(out.Errors) == 0 {
			// Partial failure without saying which: take nothing as
			// delivered.
			out.Errors = []entryError{{Message: "customer.io answered 207 without naming the refused entries"}}
		}
		return out.Errors, nil
	}
	return nil, d.requestError(resp, data)
}

func (d *Destination) requestError(resp *http.Response, data []byte) *connector.RequestError {
	msg := strings.TrimSpace(string(data))
	var a answer
	if json.Unmarshal(data, &a) == nil {
		var parts []string
		if a.Meta.Error != "" {
			parts = append(parts, a.Meta.Error)
		}
		for _, e := range a.Errors {
			parts = append(parts, e.describe())
		}
		if len(parts) > 0 {
			msg = strings.Join(parts, "; ")
		}
	}
	return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), d.retryAfter(resp.Header))
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func (d *Destination) retryAfter(h http.Header) time.Duration {
	return httplog.RetryAfter(h, d.now())
}
