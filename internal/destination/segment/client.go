package segment

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

const maxResponse = 1 << 20

// post sends one batch body to /v1/batch. A 2xx answer means Segment took
// the batch. A non-2xx answer becomes a *connector.RequestError: 401/403
// stop the run, 429 and 5xx are retried after Retry-After or
// X-RateLimit-Reset, and 400 (a malformed or oversized request) makes the
// delivery layer split the batch.
func (d *Destination) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("segment: build batch request: %w", err)
	}
	// Basic auth: the write key is the user name, the password is empty.
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(d.writeKey+":")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riptide-segment")
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("segment: post batch: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("segment: read batch response: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return d.requestError(resp, data)
}

func (d *Destination) requestError(resp *http.Response, data []byte) *connector.RequestError {
	msg := strings.TrimSpace(string(data))
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil {
		if e.Message != "" {
			msg = e.Message
		} else if e.Error != "" {
			msg = e.Error
		}
	}
	return connector.ClassifyHTTP(resp.StatusCode, []byte(msg), d.retryAfter(resp.Header))
}

// retryAfter reads Retry-After (seconds) or, as Segment's own clients do,
// X-RateLimit-Reset: the time the limit resets, in Unix milliseconds.
func (d *Destination) retryAfter(h http.Header) time.Duration {
	if wait := httplog.RetryAfter(h, d.now()); wait > 0 {
		return wait
	}
	if ms, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && ms > 0 {
		if wait := time.UnixMilli(ms).Sub(d.now()); wait > 0 {
			return wait
		}
	}
	return 0
}
