package connector

import (
	"context"
	"time"
)

// Row outcome statuses, as written back to the warehouse.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeRejected  = "rejected"
)

// Outcome is the final result of one row of a sync's run.
type Outcome struct {
	RunID  string
	Sync   string
	Key    string
	Op     string // upsert, insert, update or delete; "" for a rejected row
	Status string // OutcomeSucceeded, OutcomeFailed or OutcomeRejected
	Error  string // the destination's message or the rejection's reason
	At     time.Time
}

// OutcomeColumns are the columns of a write-back table, in order.
var OutcomeColumns = []string{"run_id", "sync", "key", "op", "status", "error", "at"}

// OutcomeWriter is implemented by sources that accept the row outcomes of
// runs (write_back), so that analysts can query them with SQL beside the
// models they came from.
//
// WriteOutcomes appends rows to schema.table, creating the schema and the
// table (OutcomeColumns) when they are missing. It is called with batches
// as a run progresses, possibly while a Query of the same Source streams;
// a batch is written whole or not at all.
type OutcomeWriter interface {
	WriteOutcomes(ctx context.Context, schema, table string, rows []Outcome) error
}
