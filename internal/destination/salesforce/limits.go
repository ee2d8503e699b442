package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/riptide-data/riptide/internal/connector"
)

// recordsPerBulkBatch is how many records of an ingest job's data make
// one batch of the daily Bulk API allocation ("Understanding Bulk API 2.0
// Ingest": a separate batch for every 10,000 records; the empty parent
// batch does not count).
const recordsPerBulkBatch = 10_000

// quota is what a run knows of the org's daily allocations: the API
// requests of the rolling 24 hours as the last Sforce-Limit-Info header
// (or GET /limits) reported them, and the Bulk API batches /limits
// reported less those this run's jobs have used since.
type quota struct {
	mu   sync.Mutex
	used int
	max  int // 0: not known
	// bursts: the header reported api-bursts, so the org may go past max
	// and only Salesforce's refusal says the limit is reached.
	bursts bool
	// reached: Salesforce refused a request for the daily limit; no
	// later request of the run is sent.
	reached       bool
	bulkRemaining int // -1: not known

	// readMu is held while /limits is read, so concurrent Writes wait
	// for what it says before choosing how to write.
	readMu sync.Mutex
	read   bool
}

// observe reads a response's Sforce-Limit-Info header, which Salesforce
// sends on each REST API response: "api-usage=18/5000", possibly followed
// by "; api-bursts=1/750" and other fields.
func (q *quota) observe(h http.Header) {
	v := h.Get("Sforce-Limit-Info")
	if v == "" {
		return
	}
	used, max, bursts, ok := parseLimitInfo(v)
	if !ok {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used, q.max, q.bursts = used, max, bursts
}

func parseLimitInfo(v string) (used, max int, bursts, ok bool) {
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "api-usage":
			u, m, found := strings.Cut(val, "/")
			var err1, err2 error
			used, err1 = strconv.Atoi(u)
			max, err2 = strconv.Atoi(m)
			ok = found && err1 == nil && err2 == nil && max > 0
		case "api-bursts":
			bursts = true
		}
	}
	return used, max, bursts, ok
}

// usage formats what is known of the day's usage: "(N/M)".
func (q *quota) usage() string {
	if q.max == 0 {
		return "(usage not reported)"
	}
	return fmt.Sprintf("(%d/%d)", q.used, q.max)
}

// limitError is the error of a run that reached the daily limit. It is
// not an authentication failure and not worth retrying: Salesforce keeps
// refusing until the rolling day's usage falls, so the rows wait for a
// later run.
func (q *quota) limitError() *connector.RequestError {
	q.mu.Lock()
	defer q.mu.Unlock()
	return &connector.RequestError{Status: http.StatusForbidden, Quota: true,
		Message: "salesforce: daily API request limit reached " + q.usage() + "; nothing more is sent this run"}
}

// stopped returns the limit error once Salesforce has refused a request
// for the daily limit, so the rest of the run sends nothing.
func (q *quota) stopped() error {
	q.mu.Lock()
	reached := q.reached
	q.mu.Unlock()
	if reached {
		return q.limitError()
	}
	return nil
}

func (q *quota) markReached() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reached = true
}

// cover fails when the known remaining daily requests cannot cover need
// requests. Unknown usage, or an org allowed to burst past its limit,
// covers anything: Salesforce's refusal then stops the run.
func (q *quota) cover(need int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.max == 0 || q.bursts || q.max-q.used >= need {
		return nil
	}
	if q.used >= q.max {
		return &connector.RequestError{Status: http.StatusForbidden, Quota: true,
			Message: "salesforce: daily API request limit reached " + q.usage() + "; nothing more is sent this run"}
	}
	return &connector.RequestError{Status: http.StatusForbidden,
		Message: fmt.Sprintf("salesforce: daily API request limit: the batch needs at least %d requests and %d remain %s", need, q.max-q.used, q.usage())}
}

// bulkFits reports whether the known remaining Bulk API batches can take
// a write's jobs (true when unknown).
func (q *quota) bulkFits(batches int) (fits bool, remaining int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bulkRemaining < 0 || q.bulkRemaining >= batches, q.bulkRemaining
}

// spendBulk counts an ingest job of rows records against the remaining
// Bulk API batches.
func (q *quota) spendBulk(rows int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bulkRemaining >= 0 {
		q.bulkRemaining = max(0, q.bulkRemaining-bulkBatches(rows))
	}
}

func bulkBatches(rows int) int { return (rows + recordsPerBulkBatch - 1) / recordsPerBulkBatch }

// isDailyLimit reports whether a refusal is the org's daily API request
// limit: 403 REQUEST_LIMIT_EXCEEDED naming TotalRequests. The same code
// with other limits (ConcurrentPerOrgLongTxn…) is transient.
func isDailyLimit(status int, data []byte) bool {
	if status != http.StatusForbidden {
		return false
	}
	var errs []apiError
	if json.Unmarshal(data, &errs) != nil || len(errs) == 0 {
		return false
	}
	return errs[0].ErrorCode == "REQUEST_LIMIT_EXCEEDED" && strings.Contains(errs[0].Message, "TotalRequests")
}

// readLimits reads the org's limits (GET /services/data/vXX.X/limits)
// once per run: DailyApiRequests and DailyBulkApiBatches, each {Max,
// Remaining}. A run goes on without them when they cannot be read (the
// integration user may lack View Setup and Configuration, or the request
// failed transiently); only the daily limit itself, refused credentials
// or a cancelled run stop it.
func (d *client) readLimits(ctx context.Context) error {
	q := &d.quota
	q.readMu.Lock()
	defer q.readMu.Unlock()
	if q.read {
		return nil
	}
	var out map[string]struct {
		Max       int `json:"Max"`
		Remaining int `json:"Remaining"`
	}
	err := d.call(ctx, http.MethodGet, "limits", nil, &out)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case q.stopped() != nil, connector.IsAuth(err):
		// The run cannot go on: the writes would meet the same refusal.
		return err
	default:
		q.read = true
		slog.WarnContext(ctx, "salesforce: cannot read the org's limits; the run goes on without checking them", "error", err)
		return nil
	}
	q.read = true
	q.mu.Lock()
	defer q.mu.Unlock()
	if l, ok := out["DailyApiRequests"]; ok && l.Max > 0 {
		q.used, q.max = l.Max-l.Remaining, l.Max
	}
	if l, ok := out["DailyBulkApiBatches"]; ok && l.Max > 0 {
		q.bulkRemaining = l.Remaining
	}
	return nil
}
