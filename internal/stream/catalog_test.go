package stream_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/stream"
	"github.com/riptide-data/riptide/internal/testsvc"
)

func TestModelTables(t *testing.T) {
	url := testsvc.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE SCHEMA crm`,
		`CREATE TABLE crm.accounts (id int PRIMARY KEY, name text)`,
		`CREATE TABLE "Orders" (id int PRIMARY KEY, account_id int, amount int)`,
		`CREATE VIEW big_accounts AS SELECT a.id, a.name FROM crm.accounts a WHERE EXISTS (SELECT 1 FROM "Orders" o WHERE o.account_id = a.id AND o.amount > 100)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, tc := range []struct{ sql, want string }{
		{`select id, name from crm.accounts`, "crm.accounts"},
		{`select b.id, count(*) from big_accounts b join "Orders" o on o.account_id = b.id group by b.id`, `crm.accounts,public."Orders"`},
	} {
		got, err := stream.ModelTables(ctx, url, tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: tables %v, want %s", tc.sql, got, tc.want)
		}
	}
	_, err = stream.ModelTables(ctx, url, `select 1 as id`)
	if err == nil || !strings.Contains(err.Error(), "reads no table") {
		t.Errorf("a query of no table: %v", err)
	}
	_, err = stream.ModelTables(ctx, url, `select id from missing_table`)
	if err == nil || !strings.Contains(err.Error(), `relation "missing_table" does not exist`) || strings.Contains(err.Error(), url) {
		t.Errorf("a query of a missing table: %v", err)
	}
	if !slices.IsSorted([]string{"crm.accounts", `public."Orders"`}) {
		t.Fatal("the expected order above assumes sorted names")
	}
}
