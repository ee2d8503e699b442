// Package sqltabletest holds the test helpers the SQL table destinations'
// tests share: records and batches to write, the users sync they write
// them for, and opening a destination from its plugin. What a test reads
// back from its database stays in that destination's tests.
package sqltabletest

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Rec is a record of op with key as its single key part and fields given
// as name, value pairs.
func Rec(op connector.Op, key string, fields ...any) connector.Record {
	r := connector.Record{Op: op, Key: key, KeyParts: []string{key}}
	for i := 0; i < len(fields); i += 2 {
		r.Fields = append(r.Fields, connector.FieldValue{Name: fields[i].(string), Value: fields[i+1]})
	}
	return r
}

// User is a record of the users sync (see UsersTarget).
func User(op connector.Op, id int64, email, plan any) connector.Record {
	return Rec(op, fmt.Sprint(id), "id", id, "email", email, "plan", plan)
}

// Del is a delete of the row whose key has keyParts.
func Del(keyParts ...string) connector.Record {
	return connector.Record{Op: connector.OpDelete, Key: value.JoinKey(keyParts), KeyParts: keyParts}
}

// Batch is batch 1 of recs.
func Batch(recs ...connector.Record) *connector.Batch {
	return &connector.Batch{Seq: 1, Records: recs}
}

// UsersTarget is a mirror sync of users (id, email, plan) into the table
// users, keyed by id.
func UsersTarget() connector.Target {
	return connector.Target{
		Sync: "users_to_table", RunID: "run1", Mode: "mirror", Object: "users",
		Fields: []string{"id", "email", "plan"}, PrimaryKey: []string{"id"},
	}
}

// Names returns the names of fields, in order: a target's mapping for
// records that carry them.
func Names(fields []connector.FieldValue) []string {
	names := make([]string, len(fields))
	for i, fv := range fields {
		names[i] = fv.Name
	}
	return names
}

// Nulls returns fields with every value null.
func Nulls(fields []connector.FieldValue) []connector.FieldValue {
	nulls := make([]connector.FieldValue, len(fields))
	for i, fv := range fields {
		nulls[i] = connector.FieldValue{Name: fv.Name}
	}
	return nulls
}

// Build opens a destination of plugin p that connects to url, with
// settings over the spec's defaults, for target.
func Build(p connector.DestinationPlugin, url string, settings connector.Settings, target connector.Target) (connector.Destination, error) {
	set := connector.Settings{"url": url}
	maps.Copy(set, settings)
	return p.New(context.Background(), p.Spec.WithDefaults(set), target, "")
}

// Open is Build that fails the test on an error and closes the
// destination when the test ends.
func Open(t *testing.T, p connector.DestinationPlugin, url string, settings connector.Settings, target connector.Target) connector.Destination {
	t.Helper()
	d, err := Build(p, url, settings, target)
	if err != nil {
		t.Fatalf("new destination: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}
