// Package postgres is the PostgreSQL source, and through it Redshift and
// other warehouses that speak the PostgreSQL protocol.
//
// A model is read through a server-side cursor in a read-only transaction,
// FETCH by FETCH, each batch streamed off the wire as it arrives: the
// client holds one row at a time and the server one batch.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/riptide-data/riptide/internal/connector"
)

const defaultFetchSize = 10000

// Plugin returns the PostgreSQL source type.
func Plugin() connector.SourcePlugin {
	return connector.SourcePlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "postgres",
		Summary: "PostgreSQL, and Redshift or other warehouses speaking its protocol",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true,
				Doc: "Connection URL, postgres://user:password@host:5432/db?sslmode=require; write the password through ${VAR}."},
			{Name: "statement_timeout", Kind: connector.KindDuration, Default: time.Duration(0),
				Doc: "Longest the server may spend on one statement (opening the cursor, one FETCH); 0 keeps the server's setting."},
			{Name: "fetch_size", Kind: connector.KindInt, Default: defaultFetchSize,
				Doc: "Rows per FETCH from the server-side cursor."},
		},
		WriteBack:     true,
		WarehouseDiff: true,
	}
}

// Source connects to one PostgreSQL database. Each query runs on its own
// connection, opened for the query and closed with its rows.
type Source struct {
	config    *pgconn.Config
	fetchSize int
	url       string

	mu sync.Mutex
	rw *pgx.Conn // for write-back, opened when first needed
}

// New checks the settings and connects once, so that a wrong URL or an
// unreachable server is reported when the source is built.
func New(ctx context.Context, settings connector.Settings, _ string) (connector.Source, error) {
	sp := spec()
	settings = sp.WithDefaults(settings)
	if err := sp.Check(settings); err != nil {
		return nil, err
	}
	config, err := pgconn.ParseConfig(settings.String("url"))
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid url: %s", parseReason(err))
	}
	if config.RuntimeParams == nil {
		config.RuntimeParams = map[string]string{}
	}
	if _, ok := config.RuntimeParams["application_name"]; !ok {
		config.RuntimeParams["application_name"] = "riptide"
	}
	config.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		// A canceled extraction is canceled on the server as well, not
		// just abandoned there to run to its end.
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	if d := settings.Duration("statement_timeout"); d > 0 {
		config.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(d.Milliseconds(), 1), 10)
	}
	s := &Source{config: config, fetchSize: settings.Int("fetch_size"), url: settings.String("url")}
	if s.fetchSize <= 0 {
		s.fetchSize = defaultFetchSize
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	_ = conn.Close(ctx)
	return s, nil
}

// connect opens a connection. Its error names the server by host and port
// and gives the root cause only: the driver's own message can run to
// several lines over every address it tried.
func (s *Source) connect(ctx context.Context) (*pgconn.PgConn, error) {
	conn, err := pgconn.ConnectConfig(ctx, s.config)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect postgres %s: %w", s.address(), ctx.Err())
		}
		return nil, fmt.Errorf("connect postgres %s: %s", s.address(), rootCause(err))
	}
	return conn, nil
}

func (s *Source) address() string {
	return net.JoinHostPort(s.config.Host, strconv.Itoa(int(s.config.Port)))
}

// rootCause is the message of the innermost error: "connection refused"
// rather than the chain of dial and connect errors around it.
func rootCause(err error) string {
	for {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Message
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// parseReason is why a URL did not parse, without the URL: the parser
// quotes it, password and all when it cannot tell where the password is.
func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// Query opens a read-only transaction and a cursor over sql, and streams
// the cursor's rows.
func (s *Source) Query(ctx context.Context, sql string) (connector.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	r := &rows{ctx: ctx, conn: conn, fetchSize: s.fetchSize}
	if err := r.open(sql); err != nil {
		r.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query: %w", ctx.Err())
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	return r, nil
}

// Close closes the write-back connection, if one was opened; the query
// connections live only as long as their rows.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rw != nil {
		s.rw.Close(context.Background())
		s.rw = nil
	}
	return nil
}
