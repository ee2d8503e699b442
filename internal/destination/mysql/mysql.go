// Package mysql is the MySQL / MariaDB table destination: a sync writes
// into one table, upserting, inserting, updating and deleting rows by the
// sync's identifier columns, in one transaction per batch.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable"
)

const (
	defaultBatchSize   = 1000
	defaultConcurrency = 4
	// maxParams is the server's limit on placeholders in one prepared
	// statement; a wider batch is sent as several statements in its
	// transaction.
	maxParams = 65535
)

// Plugin returns the mysql destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: newDestination}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "mysql",
		Summary: "Write rows into a MySQL or MariaDB table (upsert, insert, update, delete by identifier columns).",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true,
				Doc: "mysql://user:password@host:port/database; put the password in ${VAR}. Driver options may follow as ?name=value."},
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
	db          *sql.DB
	table       tableName
	fields      []string // mapped fields, in mapping order
	ident       []string // identifier columns, a subset of fields
	createTable bool
	maxParams   int // placeholders per statement

	mu sync.Mutex
	// cols describes the table's columns by lower-cased name (MySQL
	// column names are case-insensitive); nil while the table does not
	// exist yet (create_table creates it on the first write).
	cols map[string]column
}

func newDestination(ctx context.Context, set connector.Settings, target connector.Target, _ string) (connector.Destination, error) {
	if err := spec().Check(set); err != nil {
		return nil, err
	}
	cfg, err := driverConfig(set.String("url"))
	if err != nil {
		return nil, fmt.Errorf("mysql destination: %w", err)
	}
	table, err := parseObject(target.Object, cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("mysql destination for sync %s: %w", target.Sync, err)
	}
	ident, err := sqltable.ResolveIdentifier(target)
	if err != nil {
		return nil, fmt.Errorf("mysql destination for sync %s: %w", target.Sync, err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql destination: %w", err)
	}
	db := sql.OpenDB(conn)
	concurrency := set.Int("concurrency")
	if concurrency <= 0 {
		concurrency = defaultConcurrency
	}
	db.SetMaxOpenConns(concurrency)
	db.SetMaxIdleConns(concurrency)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql destination: connect to %s: %w", cfg.Addr, err)
	}
	d := &destination{
		db:          db,
		table:       table,
		fields:      target.Fields,
		ident:       ident,
		createTable: set.Bool("create_table"),
		maxParams:   maxParams,
	}
	if err := d.inspect(ctx, target.Mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql destination for sync %s: %w", target.Sync, err)
	}
	return d, nil
}

// driverConfig turns mysql://user:pass@host:port/db?opts into the driver's
// configuration: times parsed into UTC time.Time values, the session in
// UTC and in strict mode (so a value that does not fit its column is an
// error, not a silent truncation) unless the URL sets time_zone or
// sql_mode itself.
func driverConfig(raw string) (*mysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url is not a valid mysql:// URL: %v", err)
	}
	if u.Scheme != "mysql" {
		return nil, fmt.Errorf("url must start with mysql://, not %s://", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("url names no host")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		return nil, errors.New("url names no database: mysql://user@host:port/database")
	}
	cfg, err := mysql.ParseDSN("tcp(" + addr + ")/?" + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("url options: %w", err)
	}
	cfg.DBName = db
	if !u.Query().Has("maxAllowedPacket") {
		// 0 reads the server's max_allowed_packet at connect, so a
		// statement over it is refused before it is sent (ErrPktTooLarge,
		// which classify makes the batch's fault). The driver's own 64 MiB
		// default lets the server refuse it instead, closing the
		// connection, which reads as a transient failure: the batch was
		// retried to exhaustion instead of split.
		cfg.MaxAllowedPacket = 0
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["time_zone"]; !ok {
		cfg.Params["time_zone"] = "'+00:00'"
	}
	if _, ok := cfg.Params["sql_mode"]; !ok {
		cfg.Params["sql_mode"] = "CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')"
	}
	return cfg, nil
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
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(ctx, fmt.Errorf("begin transaction: %w", err))
	}
	defer func() { _ = tx.Rollback() }()

	failed := map[int]string{}
	// Runs of one op share statements and apply in batch order, so a
	// batch means what its order says.
	for start, run := range sqltable.Runs(b.Records) {
		var missing []int
		switch op := run[0].Op; op {
		case connector.OpUpsert, connector.OpInsert:
			err = d.insert(ctx, tx, run, op == connector.OpUpsert)
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
	if err := tx.Commit(); err != nil {
		return classify(ctx, fmt.Errorf("commit batch %d: %w", b.Seq, err))
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

func (d *destination) Close(context.Context) error {
	return d.db.Close()
}

// Server error numbers that say something about the server's condition
// rather than the data: retrying can succeed.
var retryableErrors = map[uint16]bool{
	1040: true, // ER_CON_COUNT_ERROR: too many connections
	1041: true, // ER_OUT_OF_RESOURCES
	1053: true, // ER_SERVER_SHUTDOWN
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1317: true, // ER_QUERY_INTERRUPTED
	1614: true, // ER_XA_RBDEADLOCK
	1637: true, // ER_TOO_MANY_CONCURRENT_TRXS
	1927: true, // ER_CONNECTION_KILLED (MariaDB)
	1969: true, // ER_STATEMENT_TIMEOUT (MariaDB)
	3024: true, // ER_QUERY_TIMEOUT (MySQL)
}

// Access errors: retrying cannot help, the run stops.
var authErrors = map[uint16]bool{
	1044: true, // ER_DBACCESS_DENIED_ERROR
	1045: true, // ER_ACCESS_DENIED_ERROR
	1142: true, // ER_TABLEACCESS_DENIED_ERROR
	1143: true, // ER_COLUMNACCESS_DENIED_ERROR
	1227: true, // ER_SPECIFIC_ACCESS_DENIED_ERROR
}

// classify turns a failed statement into what the delivery layer acts on:
// the server refusing the data is a non-retryable RequestError (the batch
// is split to find the row at fault), contention and overload are
// retryable, a missing privilege stops the run, and a broken connection is
// a transient error as it is.
func classify(ctx context.Context, err error) error {
	var re *connector.RequestError
	if errors.As(err, &re) || ctx.Err() != nil {
		return err
	}
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return &connector.RequestError{Message: "the statement is larger than the server's max_allowed_packet; the batch is split"}
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	return &connector.RequestError{
		Message:   me.Message,
		Retryable: retryableErrors[me.Number],
		Auth:      authErrors[me.Number],
	}
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
