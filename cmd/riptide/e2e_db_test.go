package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	mysqlsource "github.com/riptide-data/riptide/internal/source/mysql"
	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestE2EPostgresToTables syncs a PostgreSQL model into a PostgreSQL table
// and a MariaDB table (one extraction, two mirror syncs), then changes and
// deletes rows at the source and checks both tables follow.
func TestE2EPostgresToTables(t *testing.T) {
	t.Parallel()
	pgURL := testsvc.PostgresURL(t)
	myURL := testsvc.MySQLURL(t)
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	exec := func(q string) {
		t.Helper()
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE accounts (id bigint, name text, mrr numeric(12,2), renewed date, tags jsonb)`)
	exec(`INSERT INTO accounts VALUES (1, 'Acme', 1200.50, '2024-05-01', '{"tier": "gold"}'),
		(2, 'Globex', 99.00, NULL, '{}'), (3, 'Initech', 0.10, '2023-12-31', '{"a": [1, 2]}')`)

	p := newProj(t, `
sources:
  pg: {type: postgres, url: "${PG_URL}"}
destinations:
  pg_table: {type: postgres, url: "${PG_URL}", create_table: true}
  maria: {type: mysql, url: "${MY_URL}", create_table: true}
models:
  accounts:
    source: pg
    primary_key: id
    sql: select id, name, mrr, renewed, tags from accounts
syncs:
  to_pg:
    model: accounts
    destination: pg_table
    object: crm_accounts
    mode: mirror
    mapping: {id: id, name: name, mrr: mrr, renewed: renewed, tags: tags}
  to_maria:
    model: accounts
    destination: maria
    object: crm_accounts
    mode: mirror
    mapping: {id: id, account_name: {template: "{{ .name | upper }}"}, mrr: mrr}
`)
	p.env = []string{"PG_URL=" + pgURL, "MY_URL=" + myURL}

	r := p.riptide("run", "--all")
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, "extract accounts") != 1 {
		t.Errorf("the model should be extracted once:\n%s", r.stdout)
	}
	wantPG := "1 Acme 1200.5 2024-05-01 {\"tier\": \"gold\"}|2 Globex 99 <nil> {}|3 Initech 0.1 2023-12-31 {\"a\": [1, 2]}"
	if got := pgRows(t, pg, `SELECT id, name, mrr::text, renewed::text, tags::text FROM crm_accounts ORDER BY id`); got != wantPG {
		t.Errorf("postgres table:\n got %s\nwant %s", got, wantPG)
	}
	cfg, err := mysqlsource.ParseURL(myURL)
	if err != nil {
		t.Fatal(err)
	}
	my, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	if got, want := myRows(t, my), "1 ACME 1200.500000000|2 GLOBEX 99.000000000|3 INITECH 0.100000000"; got != want {
		t.Errorf("mariadb table:\n got %s\nwant %s", got, want)
	}

	exec(`UPDATE accounts SET mrr = 1300 WHERE id = 1`)
	exec(`DELETE FROM accounts WHERE id = 2`)
	r = p.riptide("run", "--all")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got, want := pgRows(t, pg, `SELECT id, mrr::text FROM crm_accounts ORDER BY id`), "1 1300|3 0.1"; got != want {
		t.Errorf("postgres table after changes: %s, want %s", got, want)
	}
	if got, want := myRows(t, my), "1 ACME 1300.000000000|3 INITECH 0.100000000"; got != want {
		t.Errorf("mariadb table after changes: %s, want %s", got, want)
	}
}

func pgRows(t *testing.T, pg *pgx.Conn, q string) string {
	t.Helper()
	rows, err := pg.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, "|")
}

func myRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT id, account_name, mrr FROM crm_accounts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, name, mrr string
		if err := rows.Scan(&id, &name, &mrr); err != nil {
			t.Fatal(err)
		}
		out = append(out, id+" "+name+" "+mrr)
	}
	return strings.Join(out, "|")
}
