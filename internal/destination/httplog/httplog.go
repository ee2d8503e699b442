// Package httplog records the HTTP requests of a destination into the
// run's request log (connector.RequestLog): method, URL, status, latency
// and the start of both bodies. HTTP destinations wrap their transport
// with it; the engine stores, caps and redacts what it receives.
package httplog

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// DefaultMaxBody is how much of each body is kept.
const DefaultMaxBody = 8 << 10

// Transport is an http.RoundTripper that logs each request.
type Transport struct {
	Base    http.RoundTripper
	Log     connector.RequestLog
	MaxBody int // 0: DefaultMaxBody
}

// Wrap returns base wrapped in a logging Transport, or base itself when
// there is no log.
func Wrap(base http.RoundTripper, log connector.RequestLog) http.RoundTripper {
	if log == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{Base: base, Log: log}
}

func (t *Transport) max() int {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return DefaultMaxBody
}

// RoundTrip sends the request and logs it once the response body is read
// to its end or closed, so that streaming responses are not held back.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Log.Full() {
		return t.Base.RoundTrip(req)
	}
	entry := connector.Request{At: time.Now().UTC(), Method: req.Method, URL: cleanURL(req)}
	var sent *capture
	if req.Body != nil && req.Body != http.NoBody {
		// The request body is captured as the transport sends it: a
		// RoundTripper must not consume or rewind its caller's body.
		sent = &capture{rc: req.Body, max: t.max()}
		clone := req.Clone(req.Context())
		clone.Body = sent
		req = clone
	}
	start := time.Now()
	resp, err := t.Base.RoundTrip(req)
	entry.Latency = time.Since(start)
	if sent != nil {
		entry.RequestBody = sent.String()
	}
	if err != nil {
		entry.Error = err.Error()
		t.Log.LogRequest(entry)
		return nil, err
	}
	entry.Status = resp.StatusCode
	resp.Body = &loggedBody{rc: resp.Body, max: t.max(), done: func(body string) {
		entry.ResponseBody = body
		t.Log.LogRequest(entry)
	}}
	return resp, nil
}

func cleanURL(req *http.Request) string {
	u := *req.URL
	u.User = nil
	return u.String()
}

// capture keeps the start of a request body as it is read.
type capture struct {
	rc  io.ReadCloser
	max int
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.mu.Lock()
	if room := c.max - c.buf.Len(); room > 0 && n > 0 {
		c.buf.Write(p[:min(n, room)])
	}
	c.mu.Unlock()
	return n, err
}

func (c *capture) Close() error { return c.rc.Close() }

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// loggedBody keeps the start of a response body and reports it once.
type loggedBody struct {
	rc   io.ReadCloser
	max  int
	buf  bytes.Buffer
	once sync.Once
	done func(string)
}

func (b *loggedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if room := b.max - b.buf.Len(); room > 0 && n > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	if err == io.EOF {
		b.report()
	}
	return n, err
}

func (b *loggedBody) Close() error {
	b.report()
	return b.rc.Close()
}

func (b *loggedBody) report() { b.once.Do(func() { b.done(b.buf.String()) }) }

// NewClient is the HTTP client of an API destination: requests go to the
// run's request log (when log is set), each gives up after timeout (0: no
// limit), and redirects are not followed — a redirected POST would be
// replayed without its body; the redirect is reported instead.
func NewClient(timeout time.Duration, log connector.RequestLog) *http.Client {
	return &http.Client{
		Transport:     Wrap(http.DefaultTransport, log),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent, malformed or in the past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Far beyond what delivery waits anyway; the bound avoids overflow.
		return time.Duration(min(secs, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
