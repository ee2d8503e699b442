package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/riptide-data/riptide/internal/connector"
)

// WriteOutcomes appends row outcomes to schema.table through DuckDB's
// appender, a data chunk at a time, in one transaction per call.
func (s *Source) WriteOutcomes(ctx context.Context, schema, table string, outcomes []connector.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("write outcomes to %s.%s: the source is opened read_only", schema, table)
	}
	var conn bindings.Connection
	if bindings.Connect(s.db, &conn) == bindings.StateError {
		return errors.New("write outcomes: connect to the database: it is closed")
	}
	defer bindings.Disconnect(&conn)
	name := identifier(schema) + "." + identifier(table)
	ddl := "CREATE SCHEMA IF NOT EXISTS " + identifier(schema) + ";\n" +
		"CREATE TABLE IF NOT EXISTS " + name + ` ("run_id" VARCHAR NOT NULL, "sync" VARCHAR NOT NULL, "key" VARCHAR NOT NULL, "op" VARCHAR, "status" VARCHAR NOT NULL, "error" VARCHAR, "at" TIMESTAMP NOT NULL)`
	if err := query(conn, ddl); err != nil {
		return fmt.Errorf("create %s.%s: %w", schema, table, err)
	}
	if err := query(conn, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	if err := appendOutcomes(conn, schema, table, outcomes); err != nil {
		_ = query(conn, "ROLLBACK")
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	if err := query(conn, "COMMIT"); err != nil {
		_ = query(conn, "ROLLBACK")
		return fmt.Errorf("write outcomes to %s.%s: %w", schema, table, err)
	}
	return nil
}

func appendOutcomes(conn bindings.Connection, schema, table string, outcomes []connector.Outcome) error {
	var app bindings.Appender
	state := bindings.AppenderCreateExt(conn, "", schema, table, &app)
	defer bindings.AppenderDestroy(&app)
	if state == bindings.StateError {
		return errors.New(bindings.AppenderError(app))
	}
	varchar := bindings.CreateLogicalType(bindings.TypeVarchar)
	defer bindings.DestroyLogicalType(&varchar)
	ts := bindings.CreateLogicalType(bindings.TypeTimestamp)
	defer bindings.DestroyLogicalType(&ts)
	types := []bindings.LogicalType{varchar, varchar, varchar, varchar, varchar, varchar, ts}

	size := int(bindings.VectorSize())
	for start := 0; start < len(outcomes); start += size {
		batch := outcomes[start:min(start+size, len(outcomes))]
		if err := appendChunk(app, types, batch); err != nil {
			return err
		}
	}
	if bindings.AppenderClose(app) == bindings.StateError {
		return errors.New(bindings.AppenderError(app))
	}
	return nil
}

// appendChunk fills one data chunk (at most a vector's worth of rows) and
// hands it to the appender.
func appendChunk(app bindings.Appender, types []bindings.LogicalType, batch []connector.Outcome) error {
	chunk := bindings.CreateDataChunk(types)
	defer bindings.DestroyDataChunk(&chunk)
	texts := func(o connector.Outcome) []string { return []string{o.RunID, o.Sync, o.Key, o.Op, o.Status, o.Error} }
	// op and error are NULL when there is none, so that "error IS NULL"
	// reads as it should.
	nullable := []bool{false, false, false, true, false, true}
	for col := range nullable {
		vec := bindings.DataChunkGetVector(chunk, bindings.IdxT(col))
		if nullable[col] {
			bindings.VectorEnsureValidityWritable(vec)
		}
		mask := bindings.VectorGetValidity(vec)
		for i, o := range batch {
			v := texts(o)[col]
			if nullable[col] && v == "" {
				bindings.ValiditySetRowInvalid(mask, bindings.IdxT(i))
				continue
			}
			bindings.VectorAssignStringElement(vec, bindings.IdxT(i), v)
		}
	}
	at := unsafe.Slice((*int64)(bindings.VectorGetData(bindings.DataChunkGetVector(chunk, 6))), len(batch))
	for i, o := range batch {
		at[i] = o.At.UTC().UnixMicro()
	}
	bindings.DataChunkSetSize(chunk, bindings.IdxT(len(batch)))
	if bindings.AppendDataChunk(app, chunk) == bindings.StateError {
		return errors.New(bindings.AppenderError(app))
	}
	return nil
}

// query runs statements on conn and discards their result.
func query(conn bindings.Connection, sql string) error {
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.Query(conn, sql, &res) == bindings.StateError {
		return errors.New(bindings.ResultError(&res))
	}
	return nil
}

// identifier quotes a name, always: a schema called "order" is still a
// name.
func identifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
