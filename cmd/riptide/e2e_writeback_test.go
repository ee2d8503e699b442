package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// query runs a query against the project's warehouse.duckdb and renders
// its rows as "a b c" lines.
func (p *proj) query(q string) []string {
	p.t.Helper()
	db, err := sql.Open("duckdb", filepath.Join(p.dir, "warehouse.duckdb"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			p.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		p.t.Fatal(err)
	}
	return out
}

func TestE2EWriteBackToTheWarehouse(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 4)
	p.write("riptide.yaml", fmt.Sprintf(hookProject, 4)+"write_back: {source: warehouse, schema: riptide, table: sync_rows}\n")
	p.sql(`INSERT INTO users VALUES (NULL, 'nokey@example.com', 'free', 1)`)
	srv.FailKey("4", "email bounced")

	v, r := p.runJSON("users_to_hook")
	if r.code != 1 || v.counts() != "partial add=10 chg=0 rem=0 rej=1 ok=9 fail=1" {
		t.Fatalf("run: exit %d, %s\n%s", r.code, v.counts(), r.stderr)
	}
	byStatus := `SELECT status, count(*) FROM riptide.sync_rows WHERE run_id = '%s' GROUP BY status ORDER BY status`
	got := p.query(fmt.Sprintf(byStatus, v.ID))
	if want := "[failed 1 rejected 1 succeeded 9]"; fmt.Sprint(got) != want {
		t.Errorf("outcomes by status: %v, want %s", got, want)
	}
	got = p.query(fmt.Sprintf(`SELECT "key", op, error FROM riptide.sync_rows WHERE run_id = '%s' AND status = 'failed'`, v.ID))
	if fmt.Sprint(got) != "[4 upsert email bounced]" {
		t.Errorf("failed rows: %v", got)
	}

	// The next run retries the failed row and deletes a removed one; its
	// outcomes join the same table.
	srv.FailKey("4", "")
	p.sql(`DELETE FROM users WHERE id = 10`)
	v2, r := p.runJSON("users_to_hook")
	if r.code != 0 || v2.counts() != "succeeded add=1 chg=0 rem=1 rej=1 ok=2 fail=0" {
		t.Fatalf("second run: exit %d, %s\n%s", r.code, v2.counts(), r.stderr)
	}
	got = p.query(fmt.Sprintf(`SELECT "key", op, status FROM riptide.sync_rows WHERE run_id = '%s' ORDER BY status, "key"`, v2.ID))
	if want := "[ <nil> rejected 10 delete succeeded 4 upsert succeeded]"; fmt.Sprint(got) != want {
		t.Errorf("second run's outcomes: %v, want %s", got, want)
	}
	got = p.query(`SELECT count(DISTINCT run_id), count(*) FROM riptide.sync_rows WHERE sync = 'users_to_hook'`)
	if fmt.Sprint(got) != "[2 14]" {
		t.Errorf("runs and rows in the table: %v", got)
	}
	if strings.Contains(r.stdout+r.stderr, "write-back") {
		t.Errorf("a successful write-back printed a warning:\n%s%s", r.stdout, r.stderr)
	}
}

func TestE2EWriteBackFailureIsAWarning(t *testing.T) {
	t.Parallel()
	p, srv := hookSetup(t, 4)
	p.write("riptide.yaml", fmt.Sprintf(hookProject, 4)+"write_back: {source: warehouse}\n")
	// A table of that name that is not a write-back table.
	p.sql(`CREATE SCHEMA riptide`, `CREATE TABLE riptide.sync_rows (note VARCHAR)`)

	v, r := p.runJSON("users_to_hook")
	if r.code != 0 || v.counts() != "succeeded add=10 chg=0 rem=0 rej=0 ok=10 fail=0" || len(srv.Latest()) != 10 {
		t.Fatalf("run: exit %d, %s, %d records delivered\n%s", r.code, v.counts(), len(srv.Latest()), r.stderr)
	}
	if !strings.Contains(r.stdout, `"write-back to warehouse riptide.sync_rows failed after 0 row outcomes (10 not written): write outcomes to riptide.sync_rows: `) {
		t.Errorf("run --json does not report the write-back failure:\n%s", r.stdout)
	}
	p.sql(`DELETE FROM users WHERE id = 1`)
	r = p.riptide("run", "users_to_hook")
	if r.code != 0 || !strings.Contains(r.stdout, "  warning: write-back to warehouse riptide.sync_rows failed") {
		t.Errorf("the run summary does not say write-back failed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = p.riptide("runs", "show", v.ID)
	if !strings.Contains(r.stdout, "write-back to warehouse riptide.sync_rows failed") {
		t.Errorf("runs show does not keep the warning:\n%s", r.stdout)
	}
}
