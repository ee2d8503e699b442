package state

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite"
)

// The two backends share every query, written with ? placeholders and
// the upsert syntax both understand; the dialect rewrites placeholders for
// PostgreSQL and names what else differs.
type dialect struct {
	name     string // sqlite or postgres, as in the migrations folder
	numbered bool   // placeholders are $1, $2… instead of ?
}

var (
	sqliteDialect   = dialect{name: "sqlite"}
	postgresDialect = dialect{name: "postgres", numbered: true}
)

//go:embed migrations
var migrations embed.FS

// IsURL reports whether a --state value names a PostgreSQL database
// rather than a file of the embedded store.
func IsURL(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Open opens the store at location, creating it and applying migrations:
// a postgres:// (or postgresql://) URL opens the shared store that several
// processes may use at once; anything else is the path of the embedded
// SQLite file.
func Open(ctx context.Context, location string) (*Store, error) {
	if IsURL(location) {
		return openPostgres(ctx, location)
	}
	return openSQLite(ctx, location)
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open state store: no path given")
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state store: %w", err)
	}
	// One connection: SQLite serialises writers anyway, and this keeps
	// the pragmas on the one connection that exists.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, dialect: sqliteDialect}
	if err := s.migrate(ctx, goose.DialectSQLite3, nil, legacyRequestsColumn()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open state store: %s", scrubURL(err.Error(), url))
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store %s: %s", redactURL(url), scrubURL(err.Error(), url))
	}
	// Several processes start at once against one database: the session
	// lock (a PostgreSQL advisory lock) lets one apply the migrations
	// while the others wait, then find nothing left to do.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store: %w", err)
	}
	s := &Store{db: db, dialect: postgresDialect}
	if err := s.migrate(ctx, goose.DialectPostgres, locker); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store %s: %s", redactURL(url), scrubURL(err.Error(), url))
	}
	return s, nil
}

// migrate applies the migrations of the store's dialect that the database
// lacks. goose records them in goose_db_version.
func (s *Store) migrate(ctx context.Context, d goose.Dialect, locker lock.SessionLocker, goMigrations ...*goose.Migration) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect.name)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(goMigrations...)}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// legacyRequestsColumn upgrades an embedded store made before the request
// log, and before migrations were versioned: its runs table, which
// 00001_init.sql leaves as it finds it, lacks the requests column.
// A new value each time: a provider links the migrations it is given.
func legacyRequestsColumn() *goose.Migration {
	return goose.NewGoMigration(2, &goose.GoFunc{RunTx: addRequestsColumn}, nil)
}

func addRequestsColumn(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info('runs')`)
	if err != nil {
		return err
	}
	have := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have = have || name == "requests"
	}
	rows.Close()
	if err := rows.Err(); err != nil || have {
		return err
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE runs ADD COLUMN requests INTEGER NOT NULL DEFAULT 0`); err != nil {
		return fmt.Errorf("add runs.requests: %w", err)
	}
	return nil
}

// redactURL is a database URL fit for a message: without its password.
func redactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return url
}

// scrubURL removes the URL's password from a driver's message, which may
// quote the connection string it could not parse.
func scrubURL(msg, url string) string {
	_, rest, _ := strings.Cut(url, "://")
	if userinfo, _, ok := strings.Cut(rest, "@"); ok {
		if _, pass, ok := strings.Cut(userinfo, ":"); ok && pass != "" {
			msg = strings.ReplaceAll(msg, pass, "xxxxx")
		}
	}
	return msg
}

// rebind writes a query's ? placeholders the dialect's way; a ? inside a
// quoted literal is left alone.
func (d dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// The store's queries go through these, which rebind placeholders.

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.dialect.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.dialect.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.dialect.rebind(q), args...)
}

// Shared reports whether the store is the shared PostgreSQL one, which
// processes on several machines may use at once.
func (s *Store) Shared() bool { return s.dialect == postgresDialect }
