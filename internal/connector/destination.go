package connector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Op is what a record asks the destination to do.
type Op string

const (
	OpInsert Op = "insert"
	OpUpdate Op = "update"
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// FieldValue is one mapped field of a record, in mapping order.
type FieldValue struct {
	Name  string
	Value any // canonical value (package value)
}

// Record is one row as the destination receives it.
type Record struct {
	Op Op
	// Key is the model's primary key as text (value.JoinKey for composite
	// keys) and KeyParts its parts, for destinations that address records
	// by key columns (deletes in a table).
	Key      string
	KeyParts []string
	// Fields are the mapped fields; empty for deletes.
	Fields []FieldValue
}

// Field returns the value of a mapped field.
func (r *Record) Field(name string) (any, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Batch is one request's worth of records.
type Batch struct {
	// Seq numbers the batches of a run from 1; with the run ID it makes the
	// batch's idempotency key. A batch split to isolate a bad row keeps its
	// number and gets a part suffix in Part ("" for a whole batch).
	Seq     int
	Part    string
	Records []Record
}

// IdempotencyKey identifies a batch across retries of the same run.
func (b *Batch) IdempotencyKey(runID string) string {
	k := fmt.Sprintf("%s-%d", runID, b.Seq)
	if b.Part != "" {
		k += "-" + b.Part
	}
	return k
}

// Target is what one sync asks of a destination.
type Target struct {
	Sync   string
	RunID  string
	Mode   string
	Object string
	// Identifier is the destination field(s) that match records.
	Identifier []string
	// Fields are the mapped destination field names, in mapping order.
	Fields []string
	// PrimaryKey are the model's primary key columns.
	PrimaryKey []string
	// Requests, when set, receives every request the destination makes
	// (HTTP destinations wrap their transport with httplog.Transport).
	Requests RequestLog
}

// Destination writes one sync's records during one run.
//
// Lifecycle: built by its factory for a sync and a run, Write is called
// with batches (concurrently, up to Limits.Concurrency), and Close is called
// once at the end. For a Deferred destination, records become durable only
// when Close returns nil.
type Destination interface {
	// Write delivers one batch. It returns nil when every record was
	// accepted; a *RowErrors when the request succeeded but some records
	// were refused; a *RequestError when the request as a whole failed; any
	// other error is treated as a transient transport failure.
	Write(ctx context.Context, b *Batch) error
	Close(ctx context.Context) error
}

// DestinationFactory builds a destination for one sync's run.
type DestinationFactory func(ctx context.Context, settings Settings, target Target, dir string) (Destination, error)

// DestinationPlugin is a destination type: its spec and constructor.
type DestinationPlugin struct {
	Spec Spec
	New  DestinationFactory
	// Catalog is set by destinations whose vendor has schema APIs.
	Catalog CatalogFactory
}

// RowErrors reports the records of a batch that the destination refused
// while accepting the others: index in Batch.Records → the destination's
// message.
type RowErrors struct {
	Failed map[int]string
}

func (e *RowErrors) Error() string {
	return fmt.Sprintf("%d records refused", len(e.Failed))
}

// RequestError is a failed request. The delivery layer retries it when
// Retryable, stops the run when Auth, and otherwise splits the batch to
// isolate the records at fault.
type RequestError struct {
	Status    int  // HTTP status or 0
	Retryable bool // 429, 5xx, timeouts
	Auth      bool // 401/403: retrying cannot help
	// Quota is set when a quota that resets later (a daily request
	// limit) is used up: the vendor will refuse every request until then,
	// so the run stops sending and its rows wait for a later run.
	Quota      bool
	RetryAfter time.Duration // the server's own wait, if it said one
	Message    string        // the destination's own message (start of body)
}

func (e *RequestError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("status %d: %s", e.Status, e.Message)
	}
	return e.Message
}

// ClassifyHTTP builds the RequestError for an HTTP status and body:
// 429 and 5xx are retryable, 401/403 are auth failures, other 4xx are the
// records' fault.
func ClassifyHTTP(status int, body []byte, retryAfter time.Duration) *RequestError {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return &RequestError{
		Status:     status,
		Retryable:  status == 429 || status == 408 || status >= 500,
		Auth:       status == 401 || status == 403,
		RetryAfter: retryAfter,
		Message:    msg,
	}
}

// IsAuth reports whether err is an authentication failure.
func IsAuth(err error) bool {
	var re *RequestError
	return errors.As(err, &re) && re.Auth
}
