package stream_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/postgres"
	"github.com/riptide-data/riptide/internal/stream"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

type fixture struct {
	url  string
	conn *pgx.Conn
	cfg  stream.Config
}

// setup gives a test its own database with wal_level=logical, a
// connection to it, and a stream configuration for table "t"; the slot is
// dropped before the database.
func setup(t *testing.T, ddl ...string) fixture {
	t.Helper()
	url := testsvc.PostgresURL(t)
	testsvc.LogicalReplication(t, url)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	// Slot names are the whole cluster's: each test has its own.
	var id [6]byte
	_, _ = rand.Read(id[:])
	name := "riptide_test_" + hex.EncodeToString(id[:])
	f := fixture{url: url, conn: conn, cfg: stream.Config{URL: url, Table: "t", Slot: name, Publication: name}}
	t.Cleanup(func() {
		if err := stream.Drop(context.Background(), url, f.cfg.Slot, f.cfg.Publication); err != nil {
			t.Errorf("drop: %v", err)
		}
		conn.Close(context.Background())
	})
	for _, s := range ddl {
		f.exec(t, s)
	}
	return f
}

func (f fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f fixture) open(t *testing.T) *stream.Stream {
	t.Helper()
	s, err := stream.Open(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (f fixture) confirmed(t *testing.T) stream.LSN {
	t.Helper()
	var confirmed string
	if err := f.conn.QueryRow(context.Background(),
		"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", f.cfg.Slot).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	lsn, err := stream.ParseLSN(confirmed)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

func (f fixture) waitConfirmed(t *testing.T, want stream.LSN) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for f.confirmed(t) < want {
		if time.Now().After(deadline) {
			t.Fatalf("slot confirmed at %s, want at least %s", f.confirmed(t), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func next(t *testing.T, s *stream.Stream) stream.Tx {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next transaction: %v", err)
	}
	return tx
}

// noNext checks that no transaction arrives for a while.
func noNext(t *testing.T, s *stream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if tx, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want no transaction, got %+v, %v", tx, err)
	}
}

// summary writes a transaction's changes as "op key [row]" lines.
func summary(tx stream.Tx) string {
	var b strings.Builder
	for _, c := range tx.Changes {
		b.WriteString(c.Op.String())
		b.WriteString(" " + value.Text(c.Key[0]))
		for _, v := range c.Row {
			b.WriteString(" " + value.Text(v))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestChangesArriveInCommitOrder(t *testing.T) {
	f := setup(t, "CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(10,2))",
		"CREATE TABLE other (id int PRIMARY KEY)")
	s := f.open(t)
	if !s.Created() {
		t.Error("Created() = false for a new slot")
	}
	if got := s.Table(); got.Schema != "public" || got.Name != "t" || len(got.Key) != 1 || got.Key[0] != "id" {
		t.Errorf("table = %+v", got)
	}
	ctx := context.Background()
	tx, err := f.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"INSERT INTO t VALUES (1, 'ada', 12.50), (2, 'bob', NULL)",
		"INSERT INTO other VALUES (1)",
		"UPDATE t SET name = 'ada l.' WHERE id = 1",
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	f.exec(t, "INSERT INTO other VALUES (2)") // another table only: no transaction
	f.exec(t, "UPDATE t SET id = 3 WHERE id = 2")
	f.exec(t, "DELETE FROM t WHERE id = 1")

	want := []string{
		"insert 1 1 ada 12.5\ninsert 2 2 bob \nupdate 1 1 ada l. 12.5\n",
		"update 2 3 bob \n",
		"delete 1\n",
	}
	var last stream.LSN
	for i, w := range want {
		got := next(t, s)
		if summary(got) != w {
			t.Errorf("transaction %d:\n%s\nwant:\n%s", i, summary(got), w)
		}
		if got.End <= last {
			t.Errorf("transaction %d ends at %s, not after %s", i, got.End, last)
		}
		last = got.End
		if i == 1 && !got.Changes[0].KeyChanged() {
			t.Error("an update of the key does not report KeyChanged")
		}
		if i == 0 && got.Changes[2].KeyChanged() {
			t.Error("an update of another column reports KeyChanged")
		}
	}
	noNext(t, s)
}

func TestUnacknowledgedChangesAreDeliveredAgain(t *testing.T) {
	f := setup(t, "CREATE TABLE t (id int PRIMARY KEY, name text)")
	s := f.open(t)
	f.exec(t, "INSERT INTO t VALUES (1, 'a')")
	first := next(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Not acknowledged: the reopened stream starts with it again.
	s = f.open(t)
	if s.Created() {
		t.Error("the slot was created again")
	}
	again := next(t, s)
	if summary(again) != summary(first) || again.End != first.End {
		t.Fatalf("after a reconnect got %q at %s, want %q at %s", summary(again), again.End, summary(first), first.End)
	}
	f.exec(t, "INSERT INTO t VALUES (2, 'b')")
	second := next(t, s)
	s.Ack(first.End)
	// The acknowledgement reaches the server at once, not at the next
	// status interval.
	f.waitConfirmed(t, first.End)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The first is acknowledged, the second not.
	s = f.open(t)
	if got := summary(next(t, s)); got != summary(second) {
		t.Fatalf("after acknowledging the first got %q, want %q", got, summary(second))
	}
	s.Ack(second.End)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.confirmed(t); got < second.End {
		t.Errorf("slot confirmed at %s after Close, want at least %s", got, second.End)
	}

	s = f.open(t)
	noNext(t, s)
	f.exec(t, "DELETE FROM t WHERE id = 2")
	if got := summary(next(t, s)); got != "delete 2\n" {
		t.Errorf("got %q, want the delete only", got)
	}
}

// A row streamed must hash like the same row read by a query of the
// source, whatever its types.
func TestValuesAreThoseOfAQuery(t *testing.T) {
	f := setup(t, `CREATE TYPE mood AS ENUM ('ok', 'sad')`, `CREATE TABLE t (
		id bigint PRIMARY KEY, b bool, i2 smallint, i4 int, f4 real, f8 double precision,
		n numeric, n2 numeric(12,3), nn numeric, txt text, vc varchar(10), ch char(4),
		by bytea, d date, dbc date, ts timestamp, tstz timestamptz, tinf timestamptz,
		tm time, tmtz timetz, iv interval, u uuid, j json, jb jsonb,
		ai int[], at text[], inet inet, m mood, f8nan double precision)`)
	s := f.open(t)
	f.exec(t, `SET TIME ZONE 'Europe/Paris'`)
	f.exec(t, `INSERT INTO t VALUES (1, true, -3, 2147483647, 1.1, 0.1,
		123456789012345678901234567890.000100, 12.500, 'NaN', 'héllo "x"', 'abc', 'ab',
		'\x00ff10', '2024-02-29', '0044-03-15 BC', '2024-01-02 03:04:05.678901', '2024-06-01 12:00:00+02', 'infinity',
		'23:59:59.5', '12:34:56+05:30', '1 year 2 mons -3 days 04:05:06.7', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
		'{"b": 1, "a": [1.50, "x"]}', '{"b": 1, "a": [1.50, "x"]}',
		'{1,NULL,3}', '{"a b",NULL,"c,d"}', '192.168.0.1/24', 'sad', '-Infinity')`)
	f.exec(t, `INSERT INTO t (id) VALUES (2)`)
	tx := next(t, s)

	src, err := postgres.New(context.Background(), connector.Settings{"url": f.url}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows, err := src.Query(context.Background(), "SELECT * FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols := rows.Columns()
	for _, c := range tx.Changes {
		if !rows.Next() {
			t.Fatalf("query ended early: %v", rows.Err())
		}
		want := rows.Values()
		for i, col := range c.Columns {
			if col.Name != cols[i].Name {
				t.Fatalf("column %d is %s in the stream, %s in the query", i, col.Name, cols[i].Name)
			}
			if !bytes.Equal(value.Append(nil, c.Row[i]), value.Append(nil, want[i])) {
				t.Errorf("row %v column %s: stream %#v, query %#v", c.Key[0], col.Name, c.Row[i], want[i])
			}
		}
	}
}

func TestTablesAStreamCannotFollow(t *testing.T) {
	f := setup(t, "CREATE TABLE nokey (id int, name text)",
		"CREATE TABLE full_ident (id int PRIMARY KEY)", "ALTER TABLE full_ident REPLICA IDENTITY FULL",
		"CREATE VIEW v AS SELECT 1 AS id")
	for table, want := range map[string]string{
		"nokey":      "table public.nokey has no primary key",
		"full_ident": "REPLICA IDENTITY FULL",
		"v":          "is not a table",
		"missing":    "table missing does not exist",
	} {
		cfg := f.cfg
		cfg.Table = table
		s, err := stream.Open(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: opened", table)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want it to say %q", table, err, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	good := stream.Config{URL: "postgres://127.0.0.1:1/x", Table: "t", Slot: "s", Publication: "p"}
	for _, tc := range []struct {
		edit func(*stream.Config)
		want string
	}{
		{func(c *stream.Config) { c.URL = "" }, "no database url"},
		{func(c *stream.Config) { c.Table = "" }, "no table"},
		{func(c *stream.Config) { c.Slot = "Sync-1" }, `slot name "Sync-1": holds 'S'`},
		{func(c *stream.Config) { c.Publication = strings.Repeat("p", 64) }, "longer than 63"},
	} {
		cfg := good
		tc.edit(&cfg)
		_, err := stream.Open(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestConnectionErrorHidesThePassword(t *testing.T) {
	cfg := stream.Config{URL: "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=2", Table: "t", Slot: "s", Publication: "p"}
	_, err := stream.Open(context.Background(), cfg)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v", err)
	}
}

func TestModelFollowsRowsEnteringAndLeavingItsFilter(t *testing.T) {
	f := setup(t, "CREATE TABLE t (id int PRIMARY KEY, plan text, seats int)")
	m, err := stream.ParseModel("SELECT id AS user_id, plan FROM t WHERE plan = 'pro' AND seats >= 2")
	if err != nil {
		t.Fatal(err)
	}
	s := f.open(t)
	for _, step := range []struct{ sql, want string }{
		{"INSERT INTO t VALUES (1, 'free', 5)", ""},
		{"UPDATE t SET plan = 'pro' WHERE id = 1", "upsert [1 pro]"},
		{"UPDATE t SET seats = 1 WHERE id = 1", "delete [1 <nil>]"},
		{"UPDATE t SET seats = 3, id = 2 WHERE id = 1", "delete [1 <nil>]; upsert [2 pro]"},
		{"DELETE FROM t WHERE id = 2", "delete [2 <nil>]"},
	} {
		f.exec(t, step.sql)
		tx := next(t, s)
		var got []string
		for _, c := range tx.Changes {
			b, err := m.Bind(c.Columns)
			if err != nil {
				t.Fatal(err)
			}
			acts, err := b.Apply(c)
			if err != nil {
				t.Fatalf("%s: %v", step.sql, err)
			}
			for _, a := range acts {
				op := "upsert"
				if a.Delete {
					op = "delete"
				}
				got = append(got, fmt.Sprint(op, " ", a.Row))
			}
		}
		if strings.Join(got, "; ") != step.want {
			t.Errorf("%s: %q, want %q", step.sql, strings.Join(got, "; "), step.want)
		}
	}
}
