package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
	"github.com/riptide-data/riptide/internal/value"
)

const (
	// maxResponse bounds the response body read; results for a large
	// batch are tens of kilobytes.
	maxResponse = 8 << 20
	// maxPooled keeps unusually large bodies from staying in the pool.
	maxPooled = 16 << 20
	// maxMessage bounds a per-record message taken from a response.
	maxMessage = 500
)

// pooledBody is a request body that returns its buffer to the pool when
// the transport closes it, which it does once it has finished sending —
// possibly after Client.Do has returned.
type pooledBody struct {
	bytes.Reader
	buf  *[]byte
	pool *sync.Pool
	once sync.Once
}

func (b *pooledBody) Close() error {
	b.once.Do(func() {
		if cap(*b.buf) <= maxPooled {
			*b.buf = (*b.buf)[:0]
			b.pool.Put(b.buf)
		}
	})
	return nil
}

// Sign returns the X-Riptide-Signature value for a body:
// "sha256=" and the hex HMAC-SHA256 of the body with the secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Write posts one batch and reports its outcome: nil when every record was
// accepted, *connector.RowErrors for the records the response's results
// refuse, *connector.RequestError for an error status, and a plain error
// for a transport failure or timeout.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	bufp, _ := d.bodies.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	buf := d.encode((*bufp)[:0], b)
	*bufp = buf
	body := &pooledBody{buf: bufp, pool: &d.bodies}
	body.Reset(buf)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, nil)
	if err != nil {
		body.Close()
		return fmt.Errorf("build request for batch %d: %s", b.Seq, d.redactor.Error(err))
	}
	req.Body = body
	req.ContentLength = int64(len(buf))
	req.Header = d.header.Clone()
	req.Header.Set(HeaderIdempotencyKey, b.IdempotencyKey(d.runID))
	if d.secret != nil {
		req.Header.Set(HeaderSignature, Sign(d.secret, buf))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return d.transportError(b, err)
	}
	return d.outcome(b, resp)
}

// encode appends the batch's JSON body to buf: the envelope, then each
// record with its data in mapping order and its values in their exact
// canonical JSON (decimals as written).
func (d *Destination) encode(buf []byte, b *connector.Batch) []byte {
	buf = append(buf, d.prefix...)
	buf = strconv.AppendInt(buf, int64(b.Seq), 10)
	buf = append(buf, `,"records":[`...)
	for i := range b.Records {
		r := &b.Records[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"op":`...)
		switch r.Op {
		case connector.OpUpsert:
			buf = append(buf, `"upsert"`...)
		case connector.OpInsert:
			buf = append(buf, `"insert"`...)
		case connector.OpUpdate:
			buf = append(buf, `"update"`...)
		case connector.OpDelete:
			buf = append(buf, `"delete"`...)
		default:
			buf = value.AppendJSONString(buf, string(r.Op))
		}
		buf = append(buf, `,"key":`...)
		buf = value.AppendJSONString(buf, r.Key)
		if r.Op != connector.OpDelete {
			buf = append(buf, `,"data":{`...)
			for j := range r.Fields {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = value.AppendJSONString(buf, r.Fields[j].Name)
				buf = append(buf, ':')
				buf = value.AppendJSON(buf, r.Fields[j].Value)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

// transportError is a failure to get a response. It unwraps to the
// transport's error (so a timeout is still context.DeadlineExceeded) but
// its message is redacted.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

func (d *Destination) transportError(b *connector.Batch, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // its message repeats the URL, which we show masked
	}
	return &transportError{
		msg: fmt.Sprintf("post batch %d to %s: %s", b.Seq, d.shownURL, d.redactor.Error(cause)),
		err: err,
	}
}

// outcome reads and classifies a response, closing its body.
func (d *Destination) outcome(b *connector.Batch, resp *http.Response) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	// Drain what is left, within reason, so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()

	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		if err != nil {
			// The records may or may not have landed; resending is safe
			// with the idempotency key.
			return d.transportError(b, fmt.Errorf("read response: %w", err))
		}
		return d.results(b, data)
	case status >= 300 && status < 400:
		return &connector.RequestError{
			Status:  status,
			Message: d.redactor.String(fmt.Sprintf("redirect to %q not followed; set url to the final address", resp.Header.Get("Location"))),
		}
	}
	re := connector.ClassifyHTTP(status, data, httplog.RetryAfter(resp.Header, time.Now()))
	re.Message = d.redactor.String(re.Message)
	return re
}

// response is the part of a 2xx body the protocol defines.
type response struct {
	Results []struct {
		Key   json.RawMessage `json:"key"`
		OK    *bool           `json:"ok"`
		Error string          `json:"error"`
	} `json:"results"`
}

// results turns a 2xx body into per-record outcomes. A record fails when
// its entry has "ok": false, or no "ok" and an "error"; records without an
// entry, and everything when the body is not a JSON object with
// "results", succeeded — a 2xx means success unless the body says
// otherwise.
func (d *Destination) results(b *connector.Batch, data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !bytes.Contains(data, []byte(`"results"`)) {
		return nil
	}
	var resp response
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil
	}
	var index map[string][]int
	var failed map[int]string
	for _, r := range resp.Results {
		if r.OK != nil && *r.OK || r.OK == nil && r.Error == "" {
			continue
		}
		if index == nil {
			index = make(map[string][]int, len(b.Records))
			for i := range b.Records {
				index[b.Records[i].Key] = append(index[b.Records[i].Key], i)
			}
			failed = map[int]string{}
		}
		msg := strings.TrimSpace(r.Error)
		if msg == "" {
			msg = "refused by the destination"
		}
		if len(msg) > maxMessage {
			msg = msg[:maxMessage] + "…"
		}
		msg = d.redactor.String(msg)
		for _, i := range index[keyText(r.Key)] {
			failed[i] = msg
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &connector.RowErrors{Failed: failed}
}

// keyText reads a result's key, which receivers may echo as a JSON string
// or, for numeric keys, as a number.
func keyText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}
