// Package warehouse generates the SQL of a diff that runs inside the
// warehouse: each sync's snapshot (key → hash of the row) is a table in
// a schema Riptide owns, the plan is one query the warehouse runs
// against it, and acknowledged keys are merged back through a staging
// table, one transaction per commit point. Only the SQL differs between
// warehouses, and only through a Dialect.
//
// The plan does not join every row of the model with the snapshot. Keys
// fall into buckets by a hash of the key; a small bucket table, kept by
// every merge, holds each bucket's row count and the sum of its rows'
// hashes (or their XOR). The plan first sums the model's rows per bucket
// (one pass, no join), and only the rows of the buckets whose count or sum differ —
// where something was added, changed, removed or duplicated — are joined
// with their snapshot rows. A row's hash covers its key, so any change
// to a key's row changes its bucket's sum.
//
// A key of one integer column is its own key hash, where the dialect
// can map it (IntegerKeys): buckets are then runs of consecutive keys,
// which a model read in key order sums in order, a fraction of the cost
// of scattering its rows over hashed buckets; and the plan joins on the
// exact integer, never reading the snapshot's key texts.
package warehouse

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/zeebo/xxh3"
)

// Dialect is what one warehouse's SQL needs: how it quotes, casts and
// hashes, and how it creates and merges the snapshot tables.
type Dialect interface {
	// Name is the dialect's name, as sources report it (connector.Executor).
	Name() string
	// Quote quotes an identifier.
	Quote(ident string) string
	// Literal writes a string literal.
	Literal(s string) string
	// Text casts an expression to the warehouse's text type.
	Text(expr string) string
	// Length is the length of a text expression.
	Length(expr string) string
	// Concat concatenates text expressions; NULL if any of them is NULL.
	Concat(parts ...string) string
	// Replace replaces every occurrence of a literal in a text expression.
	Replace(expr, from, to string) string
	// Hash64 is a 64-bit integer hash of a text expression, computed the
	// same way on every version of the warehouse.
	Hash64(text string) string
	// HashValues hashes typed values into a 64-bit integer without
	// casting them to text, or is "" when the dialect hashes texts only
	// (Hash64 of the length-prefixed texts).
	HashValues(exprs ...string) string
	// HashFunction is an expression naming the hash functions the plan
	// uses, recorded with the snapshot: a snapshot whose hashes another
	// function computed is refused (the warehouse's version goes in when
	// its hash may change between versions).
	HashFunction() string
	// HashLiteral writes a hash as a literal of the hash columns' type.
	HashLiteral(h uint64) string
	// ShiftRight shifts a hash right by n bits: the key's bucket.
	ShiftRight(expr string, n int) string
	// Digest aggregates row hashes into a bucket's digest (a sum that
	// cannot overflow, or an XOR): equal for equal multisets of rows.
	Digest(expr string) string
	// DigestAdd combines two digests; DigestSub takes b's rows out of a.
	DigestAdd(a, b string) string
	DigestSub(a, b string) string
	// Materialized is "MATERIALIZED " where a CTE used twice must be
	// computed once, or "".
	Materialized() string
	// Setup creates the schema and the sync's four tables when missing.
	Setup(t Tables) []string
	// Drop drops a table if it exists.
	Drop(table string) string
	// AddBuckets adds the per-bucket deltas a query returns (columns
	// bucket, n, digest) to the bucket table.
	AddBuckets(t Tables, deltas string) []string
	// Merge applies the staged rows to the snapshot: removed keys are
	// deleted, the others upserted with their new hashes. The statements
	// run in one transaction where the warehouse has them.
	Merge(t Tables) []string
	// Clear empties a table.
	Clear(table string) string
	// Bool is the literal of a boolean.
	Bool(b bool) string
	// PlanSuffix ends the plan query (settings some warehouses need).
	PlanSuffix() string
}

// IntegerKeys is what a dialect implements to use a key of one integer
// column as its own key hash (Spec.KeyType).
type IntegerKeys interface {
	// KeyValue maps an integer key of the model's type dbType into the
	// key hash column's type, distinct keys to distinct values, in
	// order, the same whatever the integer type; "" when the dialect
	// does not map dbType.
	KeyValue(expr, dbType string) string
	// KeyText is the key's text (KeyExpr) from its KeyValue.
	KeyText(keyHash string) string
	// KeyBucket is ShiftRight(KeyValue(expr, dbType), n) computed from
	// the key, cheaper where KeyValue is not the key itself: the plan
	// buckets every row of the model, but maps only some to key hashes.
	KeyBucket(expr, dbType string, n int) string
}

// Dialects are the built-in dialects by name.
var Dialects = map[string]Dialect{
	"duckdb":     DuckDB{},
	"postgres":   Postgres{},
	"snowflake":  Snowflake{},
	"bigquery":   BigQuery{},
	"clickhouse": ClickHouse{},
	"redshift":   Redshift{},
	"databricks": Databricks{},
}

// DefaultSchema is the schema Riptide owns in the warehouse.
const DefaultSchema = "riptide"

// Format is the layout of the snapshot tables this package writes,
// recorded in the sync's meta table. Format 1 (no meta table: a text key
// and an MD5 text hash, no buckets) and format 2 (DuckDB's digests were
// sums) are refused with a reset to do.
const Format = 3

// Plan result columns, before the model's own columns.
const (
	ColOp      = "__riptide_op"
	ColKey     = "__riptide_key"
	ColHash    = "__riptide_hash"
	ColKeyHash = "__riptide_key_hash"
	ColN       = "__riptide_n"
	// MetaColumns is how many columns come before the model's.
	MetaColumns = 5
)

// Ops of a plan row. Unchanged rows are returned one by one (OpUnchanged)
// by a full resync only; other plans return instead one OpKeyed row
// whose ColN counts the model's rows with a key, of which the unchanged
// ones are those the plan does not return as added, changed or
// duplicate. OpDuplicate rows carry in ColN how many rows share the key.
const (
	OpAdded     = "added"
	OpChanged   = "changed"
	OpRemoved   = "removed"
	OpUnchanged = "unchanged"
	OpDuplicate = "duplicate"
	OpNullKey   = "null_key"
	OpKeyed     = "keyed"
)

// Bucket bits: a plan joins, per changed key, the rows of its bucket, so
// buckets stay small (RowsPerBucket on average), but summing the model
// into many buckets costs more than into few. At 10,000,000 rows, 0.1%
// changed, DuckDB planned with the least CPU at 17 to 20 bits (18 to 76
// rows a bucket), and with twice the CPU at 14 bits, where most buckets
// differ.
// Integer keys are bucketed by their top bits too, but as they do not
// spread over all 64 bits, most of them name a bucket: up to
// MaxIntegerBucketBits (a shift of at least one keeps the bucket in a
// signed 64-bit integer).
const (
	MinBucketBits        = 1
	MaxBucketBits        = 22
	MaxIntegerBucketBits = 63
	RowsPerBucket        = 32
)

// BucketBits is how many bits of the key hash name a bucket for a
// snapshot of rows hashed keys.
func BucketBits(rows uint64) int {
	b := bits.Len64(rows / RowsPerBucket)
	return min(max(b, MinBucketBits), MaxBucketBits)
}

// IntegerBucketBits is how many bits of the key hash name a bucket for
// a snapshot of rows integer keys whose key hashes span span values
// (the largest minus the smallest): buckets of consecutive keys wide
// enough to hold RowsPerBucket rows where the keys are spread evenly.
// Keys crowded into part of their span make buckets of more rows there;
// dense keys (an identity column) make buckets of RowsPerBucket.
func IntegerBucketBits(rows, span uint64) int {
	if rows == 0 {
		return MinBucketBits
	}
	perRow := max(span/rows, 1)
	width := perRow * RowsPerBucket
	if width/RowsPerBucket != perRow {
		width = math.MaxUint64
	}
	shift := bits.Len64(width) - 1
	return min(max(64-shift, MinBucketBits), MaxIntegerBucketBits)
}

// RebucketNeeded says whether a snapshot bucketed by have bits should be
// bucketed anew for want (BucketBits, IntegerBucketBits): when its
// buckets hold four times more or fewer rows than want's.
func RebucketNeeded(have, want int) bool {
	return have < MinBucketBits || have > MaxIntegerBucketBits || have-want >= 2 || want-have >= 2
}

// Spec is one sync's diff: the model and the columns its mapping uses.
type Spec struct {
	// Schema holds the sync's tables (DefaultSchema when empty).
	Schema string
	Sync   string
	// ModelSQL is the model's query; it becomes a subquery.
	ModelSQL string
	// Columns are the model's result columns, in order.
	Columns    []string
	PrimaryKey []string
	// HashColumns are the columns whose values decide the mapped output
	// (nil: every column).
	HashColumns []string
	// Seed identifies the mapping, so that a new mapping changes every
	// hash (transform.Mapper.Fingerprint).
	Seed uint64
	// KeyType is the database type of a key of one column, as the
	// source reports it ("" when unknown): an integer type the dialect
	// maps (IntegerKeys) makes the key its own key hash.
	KeyType string
	// BucketBits is how many bits of the key hash name a bucket, as the
	// meta table records it (MinBucketBits when zero).
	BucketBits int
	// FullResync returns unchanged rows one by one instead of a count.
	FullResync bool
}

// Tables are the qualified names of one sync's tables.
type Tables struct {
	Schema   string
	Snapshot string // key, key_hash, hash
	Stage    string // key, key_hash, hash, removed
	Buckets  string // bucket, n, digest
	Meta     string // format, hash_function, bucket_bits
}

// SQL generates one sync's statements in one dialect.
type SQL struct {
	d    Dialect
	spec Spec
	t    Tables
	// ik maps the key when it is its own key hash (nil otherwise).
	ik IntegerKeys
}

// New checks a spec and prepares its SQL.
func New(d Dialect, spec Spec) (*SQL, error) {
	if d == nil {
		return nil, errors.New("warehouse diff: no dialect")
	}
	if spec.Schema == "" {
		spec.Schema = DefaultSchema
	}
	if spec.BucketBits == 0 {
		spec.BucketBits = MinBucketBits
	}
	ik := integerKeys(d, spec)
	maxBits := MaxBucketBits
	if ik != nil {
		maxBits = MaxIntegerBucketBits
	}
	if spec.BucketBits < MinBucketBits || spec.BucketBits > maxBits {
		return nil, fmt.Errorf("warehouse diff of sync %s: %d bucket bits, want %d to %d", spec.Sync, spec.BucketBits, MinBucketBits, maxBits)
	}
	if strings.TrimSpace(spec.ModelSQL) == "" {
		return nil, fmt.Errorf("warehouse diff of sync %s: the model has no SQL", spec.Sync)
	}
	if len(spec.PrimaryKey) == 0 {
		return nil, fmt.Errorf("warehouse diff of sync %s: the model has no primary key", spec.Sync)
	}
	seen := map[string]bool{}
	for _, c := range spec.Columns {
		if strings.HasPrefix(c, "__riptide_") {
			return nil, fmt.Errorf("warehouse diff of sync %s: the model's column %q uses the prefix __riptide_, which the plan query reserves", spec.Sync, c)
		}
		if seen[c] {
			return nil, fmt.Errorf("warehouse diff of sync %s: the model returns two columns named %q; name them apart", spec.Sync, c)
		}
		seen[c] = true
	}
	for _, group := range [][]string{spec.PrimaryKey, spec.HashColumns} {
		for _, c := range group {
			if !seen[c] {
				return nil, fmt.Errorf("warehouse diff of sync %s: column %q is not in the model's result (columns: %s)",
					spec.Sync, c, strings.Join(spec.Columns, ", "))
			}
		}
	}
	base := TableName(spec.Sync)
	schema := d.Quote(spec.Schema)
	return &SQL{d: d, spec: spec, ik: ik, t: Tables{
		Schema:   schema,
		Snapshot: schema + "." + d.Quote("snapshot_"+base),
		Stage:    schema + "." + d.Quote("stage_"+base),
		Buckets:  schema + "." + d.Quote("buckets_"+base),
		Meta:     schema + "." + d.Quote("meta_"+base),
	}}, nil
}

// integerKeys is the dialect's IntegerKeys when the spec's key is its own
// key hash: one column, of a type the dialect maps.
func integerKeys(d Dialect, spec Spec) IntegerKeys {
	ik, ok := d.(IntegerKeys)
	if !ok || len(spec.PrimaryKey) != 1 || ik.KeyValue("k", spec.KeyType) == "" {
		return nil
	}
	return ik
}

// IntegerKey says whether the key is its own key hash: its buckets
// are then sized by IntegerBucketBits.
func (q *SQL) IntegerKey() bool { return q.ik != nil }

// keyColumn is the column of a key of one column, in the row alias.
func (q *SQL) keyColumn(alias string) string { return alias + "." + q.d.Quote(q.spec.PrimaryKey[0]) }

// WantBucketBits is how many bits should name a bucket of a snapshot of
// rows keys whose key hashes span span values (only integer keys' span
// counts).
func (q *SQL) WantBucketBits(rows, span uint64) int {
	if q.IntegerKey() {
		return IntegerBucketBits(rows, span)
	}
	return BucketBits(rows)
}

// KeyRange is the query of the snapshot's smallest and largest key hash
// as texts, on which an integer key's bucket bits depend.
func (q *SQL) KeyRange() string {
	kh := q.d.Quote("key_hash")
	return fmt.Sprintf("SELECT %s, %s FROM %s", q.d.Text("min("+kh+")"), q.d.Text("max("+kh+")"), q.t.Snapshot)
}

// BucketRange is the query of the bucket table's smallest and largest
// bucket as texts. For an integer key it gives the keys' span to within
// a bucket (BucketSpan) from the bucket table, whose primary key answers
// it at once where KeyRange reads every key of the snapshot (PostgreSQL
// has no index on the key hash).
func (q *SQL) BucketRange() string {
	b := q.d.Quote("bucket")
	return fmt.Sprintf("SELECT %s, %s FROM %s", q.d.Text("min("+b+")"), q.d.Text("max("+b+")"), q.t.Buckets)
}

// minSpanBuckets is how many buckets BucketSpan needs between the
// smallest and the largest to size buckets by: the span it gives is then
// the keys' own to within a thousandth, which moves IntegerBucketBits by
// a bit at most, short of what RebucketNeeded acts on.
const minSpanBuckets = 1000

// BucketSpan is how many key hashes buckets lo to hi of bits bits span
// (BucketRange), and whether they are enough buckets to size buckets by
// (otherwise read the keys' range: KeyRange).
func BucketSpan(lo, hi int64, bits int) (uint64, bool) {
	if hi < lo || bits < MinBucketBits || bits > MaxIntegerBucketBits {
		return 0, false
	}
	last := uint64(hi) - uint64(lo) // buckets but one: all 2^64 would wrap
	if last < minSpanBuckets-1 {
		return 0, false
	}
	shift := 64 - bits
	if last >= math.MaxUint64>>shift {
		return math.MaxUint64, true
	}
	return (last + 1) << shift, true
}

// TableName turns a sync's name into the part of a table name every
// warehouse accepts unquoted (letters, digits, underscores, at most 40):
// a name that had to change gets a hash of the original, so that two
// syncs never share a table.
func TableName(sync string) string {
	var b strings.Builder
	changed := false
	for _, r := range sync {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
			changed = true
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	name := b.String()
	if len(name) > 40 {
		name, changed = name[:40], true
	}
	if changed || name == "" {
		name += fmt.Sprintf("_%08x", uint32(xxh3.HashString(sync)))
	}
	return name
}

// Snapshot is the qualified name of the snapshot table.
func (q *SQL) Snapshot() string { return q.t.Snapshot }

// Tables are the qualified names of the sync's tables.
func (q *SQL) Tables() Tables { return q.t }

// Setup creates the schema and tables, and empties the staging table of
// what a crashed run may have left there (staged, never merged: those
// rows are re-sent).
func (q *SQL) Setup() []string {
	return append(q.d.Setup(q.t), q.d.Clear(q.t.Stage))
}

// ReadMeta reads the snapshot's format, hash function and bucket bits
// (no row for a new snapshot, or one an older Riptide wrote).
func (q *SQL) ReadMeta() string {
	qt := q.d.Quote
	return fmt.Sprintf("SELECT %s, %s, %s FROM %s", qt("format"), qt("hash_function"), qt("bucket_bits"), q.t.Meta)
}

// HashFunction is the query naming the hash functions this SQL uses, to
// compare with the meta table's: a key that turns from integer to text
// or back changes it, as its key hashes change.
func (q *SQL) HashFunction() string { return "SELECT " + q.hashFunction() }

func (q *SQL) hashFunction() string {
	if q.IntegerKey() {
		return q.d.Concat(q.d.HashFunction(), q.d.Literal(", integer key"))
	}
	return q.d.HashFunction()
}

// Reset forgets the snapshot: every key reads as added next time. The
// tables are dropped and created anew, so that a snapshot of an older
// layout or another hash function is replaced too. The meta table is
// left empty, for the next plan to write with its own key's hashes
// (Rebucket).
func (q *SQL) Reset() []string {
	stmts := []string{q.d.Drop(q.t.Snapshot), q.d.Drop(q.t.Stage), q.d.Drop(q.t.Buckets), q.d.Drop(q.t.Meta)}
	return append(stmts, q.d.Setup(q.t)...)
}

func (q *SQL) writeMeta(bits int) []string {
	qt := q.d.Quote
	return []string{q.d.Clear(q.t.Meta),
		fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT %d, %s, %d", q.t.Meta,
			qt("format"), qt("hash_function"), qt("bucket_bits"), Format, q.hashFunction(), bits)}
}

// Rebucket recomputes the bucket table from the snapshot with bits bits
// of the key hash, and records them.
func (q *SQL) Rebucket(bits int) []string {
	qt := q.d.Quote
	stmts := []string{q.d.Clear(q.t.Buckets),
		fmt.Sprintf("INSERT INTO %s (%s, %s, %s)\nSELECT %s, count(*), %s FROM %s GROUP BY %s",
			q.t.Buckets, qt("bucket"), qt("n"), qt("digest"),
			q.d.ShiftRight(qt("key_hash"), 64-bits), q.d.Digest(qt("hash")), q.t.Snapshot,
			q.d.ShiftRight(qt("key_hash"), 64-bits))}
	return append(stmts, q.writeMeta(bits)...)
}

// Fill fills an empty snapshot as if every row of the model with a
// non-null key had been delivered once: what a first run that sent
// everything commits, without sending (Rebucket then sums its buckets).
// Rows of a duplicated key would fail the snapshot's primary key.
func (q *SQL) Fill() string {
	qt := q.d.Quote
	return fmt.Sprintf("INSERT INTO %s (%s, %s, %s)\nSELECT %s, %s, %s\nFROM (\n%s\n) AS q\nWHERE %s",
		q.t.Snapshot, qt("key"), qt("key_hash"), qt("hash"),
		q.KeyExpr("q"), q.keyHash("q"), q.rowHash("q"), q.model(), q.keyNotNull("q"))
}

// KeyExpr is the key's text, as value.JoinKey writes it: one column's
// text, or the columns' texts with \ and | escaped, joined by |. NULL
// when a key column is.
func (q *SQL) KeyExpr(alias string) string {
	d := q.d
	if len(q.spec.PrimaryKey) == 1 {
		return d.Text(alias + "." + d.Quote(q.spec.PrimaryKey[0]))
	}
	var parts []string
	for i, c := range q.spec.PrimaryKey {
		if i > 0 {
			parts = append(parts, d.Literal("|"))
		}
		t := d.Text(alias + "." + d.Quote(c))
		parts = append(parts, d.Replace(d.Replace(t, `\`, `\\`), "|", `\|`))
	}
	return d.Concat(parts...)
}

func (q *SQL) refs(alias string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + q.d.Quote(c)
	}
	return out
}

func (q *SQL) hashColumns() []string {
	if q.spec.HashColumns == nil {
		return q.spec.Columns
	}
	return q.spec.HashColumns
}

// keyHash is the 64-bit hash of a row's key, whose top bits are its
// bucket: an integer key's own value, the typed key columns' hash where
// the dialect has one, else the hash of the key's text.
func (q *SQL) keyHash(alias string) string {
	if q.ik != nil {
		return q.ik.KeyValue(q.keyColumn(alias), q.spec.KeyType)
	}
	if h := q.d.HashValues(q.refs(alias, q.spec.PrimaryKey)...); h != "" {
		return h
	}
	return q.d.Hash64(q.KeyExpr(alias))
}

// rowHash is the row's hash: the mapping's seed, the key, then the
// hashed columns. Where the dialect hashes texts: for the key and each
// hashed column, N for NULL or V, the length of its text, a colon and
// the text — a length prefix, so that no two rows' texts concatenate
// alike.
func (q *SQL) rowHash(alias string) string {
	d := q.d
	seed := fmt.Sprintf("%016x", q.spec.Seed)
	if h := d.HashValues(append([]string{d.Literal(seed)}, q.refs(alias, append(append([]string(nil), q.spec.PrimaryKey...), q.hashColumns()...))...)...); h != "" {
		return h
	}
	parts := []string{d.Literal(seed + ":")}
	texts := []string{q.KeyExpr(alias)} // already text
	refs := []string{texts[0]}
	for _, ref := range q.refs(alias, q.hashColumns()) {
		refs, texts = append(refs, ref), append(texts, d.Text(ref))
	}
	for i, ref := range refs {
		t := texts[i]
		parts = append(parts, fmt.Sprintf("CASE WHEN %s IS NULL THEN 'N' ELSE %s END", ref,
			d.Concat(d.Literal("V"), d.Text(d.Length(t)), d.Literal(":"), t)))
	}
	return d.Hash64(d.Concat(parts...))
}

func (q *SQL) keyNotNull(alias string) string {
	var conds []string
	for _, r := range q.refs(alias, q.spec.PrimaryKey) {
		conds = append(conds, r+" IS NOT NULL")
	}
	return strings.Join(conds, " AND ")
}

func (q *SQL) keyNull(alias string) string {
	var conds []string
	for _, r := range q.refs(alias, q.spec.PrimaryKey) {
		conds = append(conds, r+" IS NULL")
	}
	return strings.Join(conds, " OR ")
}

func (q *SQL) model() string {
	return strings.TrimRight(strings.TrimSpace(q.spec.ModelSQL), ";")
}

// keyBucket is the bucket of the key of a model row.
func (q *SQL) keyBucket(alias string) string {
	if q.ik != nil {
		return q.ik.KeyBucket(q.keyColumn(alias), q.spec.KeyType, 64-q.spec.BucketBits)
	}
	return q.bucket(q.keyHash(alias))
}

// bucket is the bucket of a key hash.
func (q *SQL) bucket(keyHash string) string {
	return q.d.ShiftRight(keyHash, 64-q.spec.BucketBits)
}
