package warehouse

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.sql with the SQL the dialects generate")

// goldenSpec exercises every part of the generated SQL: a composite key,
// a column name that needs quoting, a NULL-able hashed column, a sync
// name that is not a plain table name.
var goldenSpec = Spec{
	Sync:        "Users → CRM",
	ModelSQL:    "select account_id, user_id, email, \"first name\", plan from users where active;",
	Columns:     []string{"account_id", "user_id", "email", "first name", "plan"},
	PrimaryKey:  []string{"account_id", "user_id"},
	HashColumns: []string{"email", "first name"},
	Seed:        0x1234abcd5678ef90,
	BucketBits:  12,
}

func TestGoldenSQL(t *testing.T) {
	names := make([]string, 0, len(Dialects))
	for name := range Dialects {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			d := Dialects[name]
			if d.Name() != name {
				t.Fatalf("Dialects[%q].Name() = %q", name, d.Name())
			}
			got := render(t, d)
			path := filepath.Join("testdata", name+".sql")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/diff/warehouse -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s changed; review it and run with -update:\n%s", path, got)
			}
		})
	}
}

func render(t *testing.T, d Dialect) string {
	t.Helper()
	var b strings.Builder
	section := func(title string, stmts ...string) {
		b.WriteString("-- " + title + "\n")
		for _, s := range stmts {
			b.WriteString(s + ";\n")
		}
		b.WriteString("\n")
	}
	q, err := New(d, goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	section("setup", q.Setup()...)
	section("plan", q.Plan())
	resync := goldenSpec
	resync.FullResync, resync.Schema = true, "ops_riptide"
	rq, err := New(d, resync)
	if err != nil {
		t.Fatal(err)
	}
	section("plan (full resync, schema ops_riptide)", rq.Plan())
	commit, err := q.Commit([]Row{
		{Key: `7|42`, KeyHash: 0x0123456789abcdef, Hash: 0xfedcba9876543210},
		{Key: `it's|a\|b`, KeyHash: 42, Hash: 1},
		{Key: `9|1`, Removed: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	section("commit point", commit...)
	section("merge of staged rows (deferred destinations)", q.Merge()...)
	section("reset", q.Reset()...)
	section("meta", q.ReadMeta(), q.HashFunction())
	section("rebucket with 14 bits", q.Rebucket(14)...)
	section("fill", q.Fill(12)...)
	return b.String()
}

func TestNewRefusesBadSpecs(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"no sql", func(s *Spec) { s.ModelSQL = " " }, "the model has no SQL"},
		{"no key", func(s *Spec) { s.PrimaryKey = nil }, "no primary key"},
		{"reserved column", func(s *Spec) { s.Columns = append(s.Columns, "__riptide_op") }, `"__riptide_op" uses the prefix`},
		{"duplicate column", func(s *Spec) { s.Columns = append(s.Columns, "email") }, `two columns named "email"`},
		{"missing key column", func(s *Spec) { s.PrimaryKey = []string{"id"} }, `column "id" is not in the model's result`},
		{"missing hash column", func(s *Spec) { s.HashColumns = []string{"plan_name"} }, `column "plan_name" is not in the model's result`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := goldenSpec
			spec.Columns = slices.Clone(spec.Columns)
			c.edit(&spec)
			_, err := New(Postgres{}, spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestStageRefusesBadRows(t *testing.T) {
	q, err := New(DuckDB{}, goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Stage([]Row{{Key: "a\x00b", Hash: 1}}); err == nil || !strings.Contains(err.Error(), "NUL byte") {
		t.Errorf("NUL key: %v", err)
	}
	rows := make([]Row, 1001)
	for i := range rows {
		rows[i] = Row{Key: "k", Removed: true}
	}
	stmts, err := q.Stage(rows)
	if err != nil {
		t.Fatal(err)
	}
	// 500 + 500 + 1 rows.
	if len(stmts) != 3 {
		t.Errorf("1,001 rows staged in %d statements, want 3 inserts", len(stmts))
	}
}

func TestTableName(t *testing.T) {
	for in, want := range map[string]string{
		"users_to_crm": "users_to_crm",
		"Users":        "users_" + TableName("Users")[6:],
	} {
		if got := TableName(in); got != want {
			t.Errorf("TableName(%q) = %q, want %q", in, got, want)
		}
	}
	if TableName("a-b") == TableName("a_b") || TableName("a-b") == TableName("a.b") {
		t.Error("syncs whose names differ only by punctuation share a table")
	}
	if n := TableName(strings.Repeat("x", 100)); len(n) != 49 {
		t.Errorf("long name gives %q (%d characters), want 40 and a hash", n, len(n))
	}
}

func TestBucketBits(t *testing.T) {
	for rows, want := range map[uint64]int{0: MinBucketBits, 31: MinBucketBits, 5000: 8, 10_000_000: 19, 1 << 40: MaxBucketBits} {
		if got := BucketBits(rows); got != want {
			t.Errorf("BucketBits(%d) = %d, want %d", rows, got, want)
		}
	}
	for _, c := range []struct {
		have int
		rows uint64
		want bool
	}{
		{1, 0, false}, {1, 5000, true}, {9, 5000, false}, {8, 5000, false}, {7, 5000, false},
		{6, 5000, true}, {10, 5000, true}, {0, 0, true}, {MaxBucketBits + 1, 1 << 40, true},
	} {
		if got := RebucketNeeded(c.have, c.rows); got != c.want {
			t.Errorf("RebucketNeeded(%d, %d) = %v, want %v", c.have, c.rows, got, c.want)
		}
	}
}
