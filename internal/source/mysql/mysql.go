// Package mysql is the MySQL and MariaDB source.
//
// A model runs in a read-only transaction and its rows stream off the
// connection as the driver reads them; nothing is buffered beyond the row
// being converted.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/riptide-data/riptide/internal/connector"
)

// Plugin returns the MySQL/MariaDB source type.
func Plugin() connector.SourcePlugin {
	return connector.SourcePlugin{Spec: spec(), New: New}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "mysql",
		Summary: "MySQL or MariaDB",
		Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true,
				Doc: "Connection URL, mysql://user:password@host:3306/db?param=value; write the password through ${VAR}. Parameters are the driver's (tls, timeout, charset…) or session variables."},
		},
		WriteBack: true,
	}
}

// ParseURL turns Riptide's form of a MySQL URL,
// mysql://user:password@host:port/db?param=value, into the driver's
// configuration: TCP, time values parsed into UTC, sessions in UTC, and the
// URL's parameters kept (driver options such as tls or timeout, and
// session variables). Its errors never quote the password.
func ParseURL(raw string) (*gomysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error quotes the URL, password included
		}
		return nil, fmt.Errorf("invalid mysql url: %w", err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("invalid mysql url: scheme %q, want mysql://", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("invalid mysql url: no host")
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	q := u.Query()
	q.Set("parseTime", "true")
	q.Set("loc", "UTC")
	// The driver takes its own options from the query and passes the
	// rest on as session variables; building the DSN without the user
	// and password keeps them out of its messages.
	cfg, err := gomysql.ParseDSN("tcp(" + net.JoinHostPort(u.Hostname(), port) + ")/?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("invalid mysql url: %w", err)
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["time_zone"]; !ok {
		// TIMESTAMP columns are converted to the session's zone on
		// output; a UTC session makes them read as the instants they are.
		cfg.Params["time_zone"] = "'+00:00'"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.Logger = driverLogger{}
	return cfg, nil
}

// driverLogger sends the driver's own diagnostics to slog at debug level:
// the errors that matter are returned, with context, by this package.
type driverLogger struct{}

func (driverLogger) Print(v ...any) {
	slog.Debug("mysql driver", "message", strings.TrimSpace(fmt.Sprint(v...)))
}

// Source is a pool of connections to one MySQL or MariaDB database.
type Source struct {
	db   *sql.DB
	addr string
}

// New checks the settings and connects once, so that a wrong URL or an
// unreachable server is reported when the source is built.
func New(ctx context.Context, settings connector.Settings, _ string) (connector.Source, error) {
	sp := spec()
	if err := sp.Check(settings); err != nil {
		return nil, err
	}
	cfg, err := ParseURL(settings.String("url"))
	if err != nil {
		return nil, err
	}
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	s := &Source{db: sql.OpenDB(conn), addr: cfg.Addr}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, s.connectError(ctx, err)
	}
	return s, nil
}

// connectError names the server by address and gives the root cause only,
// never the URL.
func (s *Source) connectError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("connect mysql %s: %w", s.addr, ctx.Err())
	}
	var myErr *gomysql.MySQLError
	if errors.As(err, &myErr) {
		return fmt.Errorf("connect mysql %s: %s", s.addr, myErr.Message)
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Errorf("connect mysql %s: %s", s.addr, err.Error())
		}
		err = next
	}
}

// Query runs sql in a read-only transaction and streams its rows.
func (s *Source) Query(ctx context.Context, query string) (connector.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		var myErr *gomysql.MySQLError
		if errors.As(err, &myErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("query: %w", err)
		}
		return nil, s.connectError(ctx, err)
	}
	rs, err := tx.QueryContext(ctx, query)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("query: %w", err)
	}
	r := &rows{tx: tx, rows: rs}
	if err := r.describe(); err != nil {
		r.Close()
		return nil, fmt.Errorf("query: %w", err)
	}
	return r, nil
}

// Close closes the connection pool.
func (s *Source) Close() error { return s.db.Close() }
