package stream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riptide-data/riptide/internal/value"
)

func TestParseModelFollowsSingleTableSelects(t *testing.T) {
	for _, tc := range []struct {
		sql   string
		table string
		cols  string // "column>name,…"; "" for *
		where string
	}{
		{"SELECT * FROM users", "users", "", ""},
		{"select id, email from public.users;", "public.users", "id>id,email>email", ""},
		{`SELECT id AS user_id, "Email" mail, u.name FROM users u WHERE u.active`, "users", "id>user_id,Email>mail,name>name", "active"},
		{"SELECT id FROM users WHERE plan = 'pro' AND (seats >= 10 OR seats IS NULL)", "users", "id>id",
			"(plan = 'pro' AND (seats >= 10 OR seats IS NULL))"},
		{"SELECT id FROM users WHERE NOT deleted AND country NOT IN ('FR', 'DE') AND 5 < score", "users", "id>id",
			"((NOT active(deleted) AND country NOT IN 'FR','DE') AND score > 5)"},
		{"SELECT id FROM users -- the active ones\nWHERE score != -1.5 /* new */", "users", "id>id", "score <> -1.5"},
		{"SELECT id FROM users WHERE name = 'O''Brien'", "users", "id>id", "name = 'O'Brien'"},
	} {
		m, err := ParseModel(tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		var cols []string
		for _, c := range m.Columns {
			cols = append(cols, c.Column+">"+c.Name)
		}
		if m.Table != tc.table || strings.Join(cols, ",") != tc.cols || show(m.Where) != tc.where {
			t.Errorf("%s:\n got %s %s %s\nwant %s %s %s", tc.sql, m.Table, strings.Join(cols, ","), show(m.Where), tc.table, tc.cols, tc.where)
		}
	}
}

func show(e Expr) string {
	switch e := e.(type) {
	case nil:
		return ""
	case Compare:
		return e.Column + " " + e.Op + " " + litLabel(e.Value)
	case In:
		var vals []string
		for _, v := range e.Values {
			vals = append(vals, litLabel(v))
		}
		not := ""
		if e.Not {
			not = "NOT "
		}
		return e.Column + " " + not + "IN " + strings.Join(vals, ",")
	case IsNull:
		if e.Not {
			return e.Column + " IS NOT NULL"
		}
		return e.Column + " IS NULL"
	case Bool:
		return e.Column
	case And:
		return "(" + show(e.Left) + " AND " + show(e.Right) + ")"
	case Or:
		return "(" + show(e.Left) + " OR " + show(e.Right) + ")"
	case Not:
		return "NOT active(" + show(e.Expr) + ")"
	}
	return fmt.Sprintf("%T", e)
}

func TestParseModelRefusesWhatItCannotFollow(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT u.id, o.total FROM users u JOIN orders o ON o.user_id = u.id": `"join"`,
		"SELECT id FROM users, orders":                                        "several tables",
		"SELECT id FROM users u JOIN orders o USING (id)":                     `"join"`,
		"SELECT count(*) FROM users":                                          "an expression on count",
		"SELECT lower(email) AS email FROM users":                             "an expression on lower",
		"SELECT id::text FROM users":                                          "an expression on id",
		"SELECT id, a + b FROM users":                                         `"+"`,
		"SELECT DISTINCT id FROM users":                                       "DISTINCT",
		"SELECT id FROM users GROUP BY id":                                    `"group"`,
		"SELECT id FROM users ORDER BY id":                                    `"order"`,
		"SELECT id FROM users LIMIT 10":                                       `"limit"`,
		"WITH x AS (SELECT 1) SELECT * FROM x":                                "WITH",
		"SELECT id FROM users WHERE id IN (SELECT id FROM admins)":            "a constant",
		"SELECT id FROM users WHERE created_at > now()":                       "a constant",
		"SELECT id FROM users WHERE a = b":                                    "a constant",
		"SELECT id FROM users WHERE name LIKE 'a%'":                           "a comparison",
		"SELECT id FROM users WHERE n BETWEEN 1 AND 2":                        "a comparison",
		"SELECT id FROM users WHERE x = E'\\n'":                               "prefixed string",
		"SELECT id FROM users WHERE x = '1'::int":                             "an expression",
		"SELECT o.id FROM users u":                                            "qualified by o",
		"SELECT id FROM generate_series(1, 3) id":                             "table function",
		"SELECT 1 FROM users":                                                 "a column",
		"SELECT id FROM users UNION SELECT id FROM admins":                    `"union"`,
		"SELECT id FROM users WHERE name = 'open":                             "unterminated",
		"DELETE FROM users":                                                   "SELECT",
	} {
		_, err := ParseModel(sql)
		if !errors.Is(err, ErrNotExact) {
			t.Errorf("%s: error %v, want ErrNotExact", sql, err)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "changes will trigger an incremental plan") {
			t.Errorf("%s: error %q, want it to say %q", sql, err, want)
		}
	}
}

var testColumns = []Column{
	{Name: "id", Type: pgtype.Int8OID, Key: true},
	{Name: "plan", Type: pgtype.TextOID},
	{Name: "seats", Type: pgtype.Int4OID},
	{Name: "score", Type: pgtype.Float8OID},
	{Name: "amount", Type: pgtype.NumericOID},
	{Name: "active", Type: pgtype.BoolOID},
	{Name: "signup", Type: pgtype.DateOID},
	{Name: "seen", Type: pgtype.TimestamptzOID},
	{Name: "code", Type: pgtype.BPCharOID},
	{Name: "doc", Type: pgtype.JSONBOID},
}

func row(vals ...any) []any { return vals }

func TestFilterEvaluation(t *testing.T) {
	seen := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	r := row(int64(1), "pro", int64(12), 0.1, value.Decimal("12.5"), true, value.Date("2024-02-29"), seen, "ab  ", value.JSON(`{}`))
	nulls := row(int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil)
	for _, tc := range []struct {
		where     string
		r, nulls  bool // kept: r, the row of NULLs
		notExactE string
	}{
		{where: "plan = 'pro'", r: true},
		{where: "plan <> 'pro'", r: false},
		{where: "plan IN ('free', 'pro')", r: true},
		{where: "plan NOT IN ('free', 'pro')", r: false},
		{where: "plan NOT IN ('free', NULL)", r: false}, // NULL in the list: unknown, never true
		{where: "seats >= 12 AND seats < 13", r: true},
		{where: "seats > 11.5", r: true},
		{where: "seats = '12'", r: true},
		{where: "score = 0.1", r: true}, // read as a double, as PostgreSQL does
		{where: "score > 0.1", r: false},
		{where: "amount = 12.50", r: true},
		{where: "amount > -1e2", r: true},
		{where: "active", r: true},
		{where: "NOT active", r: false},
		{where: "active = 'yes'", r: true},
		{where: "signup >= '2024-02-01' AND signup < '2024-03-01'", r: true},
		{where: "seen > '2024-06-01 11:00:00+02'", r: true},
		{where: "seen = '2024-06-01T10:00:00Z'", r: true},
		{where: "code = 'ab'", r: true}, // character(n) ignores its padding
		{where: "plan IS NULL", r: false, nulls: true},
		{where: "plan IS NOT NULL", r: true},
		{where: "seats = NULL", r: false},
		{where: "NOT (seats > 100)", r: true},                // NOT unknown stays unknown for NULLs
		{where: "seats > 100 OR plan IS NULL", nulls: true},  // unknown OR true
		{where: "NOT (seats > 100 AND plan = 'x')", r: true}, // NOT (false AND unknown) = NOT false
		{where: "plan > 'a'", notExactE: "depends on the collation"},
		{where: "seen > '2024-06-01'", notExactE: "needs its zone"},
		{where: "doc = '{}'", notExactE: "column doc (jsonb)"},
		{where: "plan = 3", notExactE: "column plan (text) with 3"},
	} {
		m, err := ParseModel("SELECT id, plan FROM t WHERE " + tc.where)
		if err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		b, err := m.Bind(testColumns)
		if tc.notExactE != "" {
			if !errors.Is(err, ErrNotExact) || !strings.Contains(err.Error(), tc.notExactE) {
				t.Errorf("%s: error %v, want ErrNotExact saying %q", tc.where, err, tc.notExactE)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.where, err)
			continue
		}
		for _, x := range []struct {
			row  []any
			want bool
		}{{r, tc.r}, {nulls, tc.nulls}} {
			got, err := b.where(x.row)
			if err != nil {
				t.Errorf("%s: %v", tc.where, err)
			}
			if (got == yes) != x.want {
				t.Errorf("%s on %v: kept = %v, want %v", tc.where, x.row[0], got == yes, x.want)
			}
		}
	}
}

func TestApplyEntersAndLeavesTheFilter(t *testing.T) {
	m, err := ParseModel("SELECT id AS user_id, plan FROM t WHERE plan = 'pro'")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Bind(testColumns)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.Columns, ",") != "user_id,plan" || !b.Key[0] || b.Key[1] {
		t.Fatalf("columns %v key %v", b.Columns, b.Key)
	}
	full := func(id int64, plan string) []any {
		return row(id, plan, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	key := func(id int64) []any { return row(id, nil, nil, nil, nil, nil, nil, nil, nil, nil) }
	for _, tc := range []struct {
		name string
		c    Change
		want string
	}{
		{"insert in the filter", Change{Op: Insert, Row: full(1, "pro"), Key: key(1)}, "upsert [1 pro]"},
		{"insert outside", Change{Op: Insert, Row: full(1, "free"), Key: key(1)}, ""},
		{"update entering", Change{Op: Update, Row: full(1, "pro"), Key: key(1)}, "upsert [1 pro]"},
		{"update leaving", Change{Op: Update, Row: full(1, "free"), Key: key(1)}, "delete [1 <nil>]"},
		{"update of the key, in", Change{Op: Update, Row: full(2, "pro"), Key: key(1)}, "delete [1 <nil>]; upsert [2 pro]"},
		{"update of the key, out", Change{Op: Update, Row: full(2, "free"), Key: key(1)}, "delete [1 <nil>]"},
		{"delete", Change{Op: Delete, Key: key(1)}, "delete [1 <nil>]"},
	} {
		tc.c.Columns = testColumns
		acts, err := b.Apply(tc.c)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, a := range acts {
			op := "upsert"
			if a.Delete {
				op = "delete"
			}
			got = append(got, fmt.Sprint(op, " ", a.Row))
		}
		if strings.Join(got, "; ") != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, strings.Join(got, "; "), tc.want)
		}
	}

	toasted := Change{Op: Update, Columns: testColumns, Row: row(int64(1), Unchanged, nil, nil, nil, nil, nil, nil, nil, nil), Key: key(1)}
	if _, err := b.Apply(toasted); err == nil || !strings.Contains(err.Error(), "TOAST") {
		t.Errorf("filter on an unsent TOASTed value: error %v", err)
	}
}

func TestBindErrors(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT plan FROM t":                  "leaves out the primary key column id",
		"SELECT id, nope FROM t":              "table t has no column nope",
		"SELECT id FROM t WHERE nope = 1":     "the table has no column nope",
		"SELECT id FROM t WHERE seats":        "column seats is not boolean",
		"SELECT id FROM t WHERE seats = 'x'":  "'x' is not a number for column seats",
		"SELECT id FROM t WHERE active < 'x'": "column active (bool)",
	} {
		m, err := ParseModel(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if _, err := m.Bind(testColumns); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", sql, err, want)
		}
	}
}
