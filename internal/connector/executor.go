package connector

import "context"

// Executor is implemented by sources that can run a sync's diff inside
// the warehouse (diff: warehouse): the snapshot lives in a table there,
// the plan is a query (run with Source.Query), and acknowledged keys are
// merged back with Exec.
type Executor interface {
	// Exec runs statements in one transaction: all of them take effect
	// or none does. Errors carry the warehouse's own message.
	Exec(ctx context.Context, stmts ...string) error
	// Dialect names the SQL the warehouse speaks ("duckdb", "postgres"),
	// the name of a dialect of package diff/warehouse.
	Dialect() string
}
