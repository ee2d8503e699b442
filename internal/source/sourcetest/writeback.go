package sourcetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

// OpenWriter opens the source under test on one database: every call
// reaches the same database, so that a second Source sees what the first
// wrote.
type OpenWriter func(t *testing.T) connector.Source

// WriteBack checks a source's connector.OutcomeWriter: the schema and
// table are created by the first batch, later batches (and another Source
// on the same database, as the next run would be) append to them, and
// every column reads back through Query as it was written. qualified is
// how a query names schema.table on this warehouse.
func WriteBack(t *testing.T, open OpenWriter, schema, table, qualified string) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	first := []connector.Outcome{
		{RunID: "run-1", Sync: "users_to_crm", Key: "1", Op: "upsert", Status: connector.OutcomeSucceeded, At: at},
		{RunID: "run-1", Sync: "users_to_crm", Key: "2", Op: "upsert", Status: connector.OutcomeFailed,
			Error: `400: email "zoë@" isn't valid`, At: at},
		{RunID: "run-1", Sync: "users_to_crm", Key: "3", Status: connector.OutcomeRejected, Error: "null primary key", At: at},
	}
	second := []connector.Outcome{
		{RunID: "run-1", Sync: "users_to_crm", Key: "4", Op: "delete", Status: connector.OutcomeSucceeded, At: at.Add(time.Second)},
	}
	third := []connector.Outcome{
		{RunID: "run-2", Sync: "users_to_crm", Key: "5|a", Op: "insert", Status: connector.OutcomeSucceeded, At: at.Add(time.Minute)},
	}

	src := open(t)
	w, ok := src.(connector.OutcomeWriter)
	if !ok {
		t.Fatalf("%T does not implement connector.OutcomeWriter", src)
	}
	if err := w.WriteOutcomes(ctx, schema, table, nil); err != nil {
		t.Fatalf("write no outcomes: %v", err)
	}
	for _, batch := range [][]connector.Outcome{first, second} {
		if err := w.WriteOutcomes(ctx, schema, table, batch); err != nil {
			t.Fatalf("write outcomes: %v", err)
		}
	}
	// The next run's source finds the table there.
	next := open(t)
	if err := next.(connector.OutcomeWriter).WriteOutcomes(ctx, schema, table, third); err != nil {
		t.Fatalf("write outcomes into the existing table: %v", err)
	}

	rows, err := next.Query(ctx, "SELECT * FROM "+qualified)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	defer rows.Close()
	var names []string
	for _, c := range rows.Columns() {
		names = append(names, strings.ToLower(c.Name))
	}
	if diff := cmp.Diff(connector.OutcomeColumns, names); diff != "" {
		t.Fatalf("columns (-want +got):\n%s", diff)
	}
	var got []connector.Outcome
	for rows.Next() {
		v := rows.Values()
		o := connector.Outcome{RunID: str(t, v[0]), Sync: str(t, v[1]), Key: str(t, v[2]), Op: str(t, v[3]),
			Status: str(t, v[4]), Error: str(t, v[5]), At: timestamp(t, v[6])}
		got = append(got, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read back: %v", err)
	}
	slices.SortFunc(got, func(a, b connector.Outcome) int { return strings.Compare(a.Key, b.Key) })
	want := slices.Concat(first, second, third)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes read back (-want +got):\n%s", diff)
	}
}

func str(t *testing.T, v any) string {
	t.Helper()
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	}
	t.Fatalf("expected a string column, got %T %v", v, v)
	return ""
}

// timestamp accepts the warehouse's timestamp, or text in the form SQLite
// stores (it has no timestamp type).
func timestamp(t *testing.T, v any) time.Time {
	t.Helper()
	switch ts := v.(type) {
	case time.Time:
		return ts.UTC()
	case string:
		parsed, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("at: %v", err)
		}
		return parsed.UTC()
	}
	t.Fatalf("expected a timestamp in at, got %T %v", v, v)
	return time.Time{}
}
