// Package postgres is the PostgreSQL table destination: a sync writes into
// one table, upserting, inserting, updating and deleting rows by the
// sync's identifier columns, in one transaction per batch.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
)

const (
	defaultBatchSize   = 1000
	defaultConcurrency = 4
	// maxParams is PostgreSQL's limit on bind parameters in one statement;
	// a batch wider than that is sent as several statements in its
	// transaction.
	maxParams = 65535
)

// Plugin returns the postgres destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: newDestination}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "postgres",
		Summary: "Write rows into a PostgreSQL table (upsert, insert, update, delete by identifier columns).",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true,
				Doc: "postgres://user:password@host:port/database; put the password in ${VAR}."},
			{Name: "schema", Kind: connector.KindString, Default: "public",
				Doc: "Schema of the table when the sync's object is not schema-qualified."},
			{Name: "create_table", Kind: connector.KindBool, Default: false,
				Doc: "Create the table on the first write when it does not exist, with column types taken from the data."},
			{Name: "batch_size", Kind: connector.KindInt, Default: defaultBatchSize,
				Doc: "Rows per transaction."},
			{Name: "concurrency", Kind: connector.KindInt, Default: defaultConcurrency,
				Doc: "Transactions in flight, and the size of the connection pool."},
		},
		Limits: connector.Limits{BatchSize: defaultBatchSize, Concurrency: defaultConcurrency},
		Modes:  []string{"upsert", "insert", "update", "mirror"},
	}
}

type destination struct {
	pool        *pgxpool.Pool
	table       tableName
	fields      []string // mapped fields, in mapping order
	ident       []string // identifier columns, a subset of fields
	createTable bool
	maxParams   int // bind parameters per statement

	mu sync.Mutex
	// cols describes the table's columns by name; nil while the table
	// does not exist yet (create_table creates it on the first write).
	cols map[string]column
}

func newDestination(ctx context.Context, set connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	if err := spec().Check(set); err != nil {
		return nil, err
	}
	schema := set.String("schema")
	if schema == "" {
		schema = "public"
	}
	table, err := parseObject(target.Object, schema)
	if err != nil {
		return nil, fmt.Errorf("postgres destination for sync %s: %w", target.Sync, err)
	}
	ident, err := sqltable.ResolveIdentifier(target)
	if err != nil {
		return nil, fmt.Errorf("postgres destination for sync %s: %w", target.Sync, err)
	}
	concurrency := set.Int("concurrency")
	if concurrency <= 0 {
		concurrency = defaultConcurrency
	}
	cfg, err := pgxpool.ParseConfig(set.String("url"))
	if err != nil {
		// pgx masks the password in its parse errors.
		return nil, fmt.Errorf("postgres destination: parse url: %w", err)
	}
	cfg.MaxConns = int32(concurrency)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres destination: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres destination: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	d := &destination{
		pool:        pool,
		table:       table,
		fields:      target.Fields,
		ident:       ident,
		createTable: set.Bool("create_table"),
		maxParams:   maxParams,
	}
	if err := d.inspect(ctx, target.Mode); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres destination for sync %s: %w", target.Sync, err)
	}
	return d, nil
}

func (d *destination) Write(ctx context.Context, b *connector.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	cols, err := d.ensureTable(ctx, b)
	if err != nil {
		return err
	}
	if cols == nil {
		// Only deletes and no table yet: there is nothing to delete.
		return nil
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return classify(ctx, fmt.Errorf("begin transaction: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	failed := map[int]string{}
	// Runs of one op share statements and apply in batch order, so a
	// batch means what its order says.
	for start, run := range sqltable.Runs(b.Records) {
		var missing []int
		switch op := run[0].Op; op {
		case connector.OpUpsert, connector.OpInsert:
			err = d.insert(ctx, tx, cols, run, op == connector.OpUpsert)
		case connector.OpUpdate:
			missing, err = d.update(ctx, tx, cols, run)
		case connector.OpDelete:
			err = d.delete(ctx, tx, cols, run)
		default:
			err = &connector.RequestError{Message: fmt.Sprintf("unknown op %q", op)}
		}
		if err != nil {
			return classify(ctx, fmt.Errorf("%s %d records into %s: %w", run[0].Op, len(run), d.table, err))
		}
		for _, i := range missing {
			failed[start+i] = sqltable.NoMatch(d.table.String(), d.ident, run[i])
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(ctx, fmt.Errorf("commit batch %d: %w", b.Seq, err))
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

func (d *destination) Close(context.Context) error {
	d.pool.Close()
	return nil
}

// classify turns a failed statement into what the delivery layer acts on:
// the database's refusal of the data is a non-retryable RequestError (the
// batch is split to find the row at fault), contention and overload are
// retryable, a missing privilege stops the run, and anything below the
// SQL level (a dropped connection) is a transient error as it is.
func classify(ctx context.Context, err error) error {
	var re *connector.RequestError
	if errors.As(err, &re) || ctx.Err() != nil {
		return err
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	msg := pgErr.Message
	if pgErr.Detail != "" {
		msg += ": " + pgErr.Detail
	}
	code := pgErr.Code
	return &connector.RequestError{
		Message:   msg,
		Auth:      code == "42501" || code == "28000" || code == "28P01",
		Retryable: retryable(code),
	}
}

// retryable reports whether a SQLSTATE is about the server's condition
// rather than the data: connection exceptions (08), serialization failures
// and deadlocks (40001, 40P01), insufficient resources such as too many
// connections (53), lock and cancel conditions (55P03, 57014) and server
// restarts (57P0x), system errors (58).
func retryable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "58"),
		strings.HasPrefix(code, "57P"):
		return true
	}
	switch code {
	case "40001", "40P01", "55P03", "57014":
		return true
	}
	return false
}

// ensureTable returns the table's columns, creating the table first when
// create_table is set and it does not exist. It returns nil columns when
// the table does not exist and the batch cannot create it (deletes only).
func (d *destination) ensureTable(ctx context.Context, b *connector.Batch) (map[string]column, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cols != nil {
		return d.cols, nil
	}
	if !slices.ContainsFunc(b.Records, func(r connector.Record) bool { return r.Op != connector.OpDelete }) {
		return nil, nil
	}
	if err := d.create(ctx, b.Records); err != nil {
		return nil, classify(ctx, err)
	}
	cols, err := d.columns(ctx)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", d.table, err)
	}
	if cols == nil {
		return nil, fmt.Errorf("table %s does not exist after creating it", d.table)
	}
	d.cols = cols
	return cols, nil
}
