package warehouse

import (
	"flag"
	"fmt"
	"math"
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

// intSpec has a key of one integer column.
var intSpec = Spec{
	Sync:       "orders",
	ModelSQL:   "select id, total from orders",
	Columns:    []string{"id", "total"},
	PrimaryKey: []string{"id"},
	KeyType:    "BIGINT", // DuckDB's name: the other dialects hash it
	Seed:       7,
	BucketBits: 20,
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
	section("fill", q.Fill())
	// A key of one integer column is its own key hash where the dialect
	// maps it; the others hash it.
	iq, err := New(d, intSpec)
	if err != nil {
		t.Fatal(err)
	}
	section(fmt.Sprintf("integer key (its own key hash: %v)", iq.IntegerKey()), iq.Plan())
	section("integer key: key range, bucket range and hash function", iq.KeyRange(), iq.BucketRange(), iq.HashFunction())
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
		rows, span uint64
		want       int
	}{
		{0, 0, MinBucketBits},
		{1, 0, 64 - 5},                     // one key: a bucket of 32 values
		{100_000_000, 99_999_999, 64 - 5},  // an identity column: 32 keys a bucket
		{1000, 10_000, 64 - 8},             // a key every 10 values: 320 values a bucket
		{1000, 1 << 63, 64 - 58},           // spread thin
		{2, math.MaxUint64, MinBucketBits}, // as wide as the type: no overflow
		{1 << 40, 1 << 63, 64 - 28},        // 2^23 values a row, 2^28 a bucket
	} {
		if got := IntegerBucketBits(c.rows, c.span); got != c.want {
			t.Errorf("IntegerBucketBits(%d, %d) = %d, want %d", c.rows, c.span, got, c.want)
		}
	}
	for _, c := range []struct {
		have, want int
		need       bool
	}{
		{1, 1, false}, {1, 8, true}, {9, 8, false}, {7, 8, false}, {6, 8, true}, {10, 8, true},
		{0, 1, true}, {59, 59, false}, {58, 59, false}, {57, 59, true}, {MaxIntegerBucketBits + 1, MaxIntegerBucketBits, true},
	} {
		if got := RebucketNeeded(c.have, c.want); got != c.need {
			t.Errorf("RebucketNeeded(%d, %d) = %v, want %v", c.have, c.want, got, c.need)
		}
	}
}

func TestBucketSpan(t *testing.T) {
	for _, c := range []struct {
		name   string
		lo, hi int64
		bits   int
		span   uint64
		ok     bool
	}{
		{"empty bucket table (lo > hi)", 1, 0, 40, 0, false},
		{"too few buckets to size by", 0, minSpanBuckets - 2, 40, 0, false},
		{"just enough", 0, minSpanBuckets - 1, 40, minSpanBuckets << 24, true},
		{"identity column 1…100,000,000 at 59 bits (runs of 32)", 1 << 58, 1<<58 + 3_125_000, 59, 3_125_001 << 5, true},
		{"negative buckets (PostgreSQL's signed key hashes)", -5000, 4999, 40, 10_000 << 24, true},
		{"the whole range: no overflow", math.MinInt64, math.MaxInt64, 63, math.MaxUint64, true},
		{"bits out of range", 0, 5000, 0, 0, false},
	} {
		span, ok := BucketSpan(c.lo, c.hi, c.bits)
		if span != c.span || ok != c.ok {
			t.Errorf("%s: BucketSpan(%d, %d, %d) = %d, %v; want %d, %v", c.name, c.lo, c.hi, c.bits, span, ok, c.span, c.ok)
		}
	}
}

func TestIntegerKeys(t *testing.T) {
	cases := []struct {
		d       Dialect
		keyType string
		integer bool
	}{
		{DuckDB{}, "BIGINT", true}, {DuckDB{}, "UTINYINT", true}, {DuckDB{}, "INTEGER", true},
		{DuckDB{}, "UBIGINT", false}, {DuckDB{}, "HUGEINT", false}, {DuckDB{}, "VARCHAR", false}, {DuckDB{}, "", false},
		{Postgres{}, "bigint", true}, {Postgres{}, "smallint", true}, {Postgres{}, "numeric", false}, {Postgres{}, "text", false},
		{Snowflake{}, "NUMBER(38,0)", false},
	}
	for _, c := range cases {
		spec := intSpec
		spec.KeyType = c.keyType
		spec.BucketBits = 1
		q, err := New(c.d, spec)
		if err != nil {
			t.Fatal(err)
		}
		if q.IntegerKey() != c.integer {
			t.Errorf("%s key of type %q: IntegerKey() = %v, want %v", c.d.Name(), c.keyType, q.IntegerKey(), c.integer)
		}
		// Hashed keys keep their cap on bucket bits; integer keys go up to 63.
		spec.BucketBits = 59
		if _, err := New(c.d, spec); (err == nil) != c.integer {
			t.Errorf("%s key of type %q with 59 bucket bits: %v", c.d.Name(), c.keyType, err)
		}
	}
	composite := goldenSpec
	composite.KeyType = "BIGINT"
	if q, _ := New(DuckDB{}, composite); q.IntegerKey() {
		t.Error("a composite key is taken for an integer key")
	}
}
