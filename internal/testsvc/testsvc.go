// Package testsvc gives integration tests a fresh database on the local
// services (PostgreSQL on 127.0.0.1:5432, MariaDB on 127.0.0.1:3306). Under
// CI=true a missing service fails the test; elsewhere the test is skipped
// with a message saying what to start.
package testsvc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Env overrides: RIPTIDE_TEST_PG_URL and RIPTIDE_TEST_MYSQL_URL point at an
// admin connection on another local port.
const (
	defaultPG    = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultMySQL = "root@tcp(127.0.0.1:3306)/"
)

func unavailable(t testing.TB, what, start string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable (%v); CI must start it: %s", what, err, start)
	}
	t.Skipf("%s is not reachable (%v); start it to run this test: %s", what, err, start)
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates an empty database for the test and returns its URL
// (postgres://…); the database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("RIPTIDE_TEST_PG_URL")
	if admin == "" {
		admin = defaultPG
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "PostgreSQL on 127.0.0.1:5432", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", err)
	}
	defer conn.Close(context.Background())
	name := randomName("riptide_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	cfg := conn.Config()
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// MySQLURL creates an empty database on MariaDB for the test and returns
// its URL in Riptide's form (mysql://user@host:port/db); the database is
// dropped when the test ends.
func MySQLURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("RIPTIDE_TEST_MYSQL_URL")
	if admin == "" {
		admin = defaultMySQL
	}
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unavailable(t, "MariaDB on 127.0.0.1:3306", "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd", err)
	}
	name := randomName("riptide_test_")
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name)
	})
	return "mysql://root@127.0.0.1:3306/" + name
}

// Redis checks that Redis answers on 127.0.0.1:6379.
func Redis(t testing.TB) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", 5*time.Second)
	if err != nil {
		unavailable(t, "Redis on 127.0.0.1:6379", `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`, err)
	}
	conn.Close()
}

// LogicalReplication checks that the PostgreSQL of url runs with
// wal_level=logical, which streaming needs and which takes a restart to
// set; .ci/run sets it.
func LogicalReplication(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	defer conn.Close(context.Background())
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatalf("show wal_level: %v", err)
	}
	if level == "logical" {
		return
	}
	const fix = `psql -h 127.0.0.1 -U postgres -c "ALTER SYSTEM SET wal_level = logical" && pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart (or run .ci/run)`
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL runs with wal_level=%s; logical replication needs wal_level=logical: %s", level, fix)
	}
	t.Skipf("PostgreSQL runs with wal_level=%s; logical replication needs wal_level=logical: %s", level, fix)
}
