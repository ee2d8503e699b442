package warehouse

import (
	"fmt"
	"strconv"
	"strings"
)

// ClickHouse: toString keeps NULL (a CAST to String refuses it), the
// FULL JOIN needs join_use_nulls to yield NULLs for missing sides, the
// schema is a database, hashes are sipHash64 (UInt64), and tables are
// MergeTree ordered by key. The bucket table is a SummingMergeTree:
// merges insert per-bucket deltas, which ClickHouse adds up in the
// background, so the plan sums them per bucket when it reads.
// ClickHouse has no multi-statement transactions: a commit point adds
// the bucket deltas, deletes the staged keys, then inserts the new
// hashes. A crash in between leaves buckets that disagree with the
// snapshot, so their keys are compared row by row next run, and keys
// missing from the snapshot read as added and are sent again — at least
// once, never lost.
type ClickHouse struct{ ansi }

func (ClickHouse) Name() string              { return "clickhouse" }
func (ClickHouse) Quote(ident string) string { return quoteWith("`", ident) }
func (ClickHouse) Literal(s string) string   { return escapedLiteral(s) }
func (ClickHouse) Text(expr string) string   { return "toString(" + expr + ")" }
func (ClickHouse) Concat(parts ...string) string {
	return "concat(" + strings.Join(parts, ", ") + ")"
}
func (ClickHouse) Hash64(text string) string   { return "sipHash64(" + text + ")" }
func (ClickHouse) HashFunction() string        { return "'sipHash64'" }
func (ClickHouse) HashLiteral(h uint64) string { return strconv.FormatUint(h, 10) }
func (ClickHouse) ShiftRight(e string, n int) string {
	return fmt.Sprintf("bitShiftRight(%s, %d)", e, n)
}
func (ClickHouse) Digest(expr string) string { return "sum(toInt128(" + expr + "))" }
func (d ClickHouse) bucketsFrom(table string) string {
	q := d.Quote
	return fmt.Sprintf("(SELECT %s, sum(%s) AS %s, sum(%s) AS %s FROM %s GROUP BY %s)",
		q("bucket"), q("n"), q("n"), q("digest"), q("digest"), table, q("bucket"))
}
func (d ClickHouse) Replace(expr, from, to string) string {
	return fmt.Sprintf("replaceAll(%s, %s, %s)", expr, d.Literal(from), d.Literal(to))
}
func (ClickHouse) Clear(table string) string { return "TRUNCATE TABLE " + table }
func (ClickHouse) Bool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
func (ClickHouse) PlanSuffix() string { return "\nSETTINGS join_use_nulls = 1" }

func (d ClickHouse) Setup(t Tables) []string {
	q := d.Quote
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + t.Schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s String, %s UInt64, %s UInt64) ENGINE = MergeTree ORDER BY %s",
			t.Snapshot, q("key"), q("key_hash"), q("hash"), q("key")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s String, %s Nullable(UInt64), %s Nullable(UInt64), %s Bool) ENGINE = MergeTree ORDER BY %s",
			t.Stage, q("key"), q("key_hash"), q("hash"), q("removed"), q("key")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s Int64, %s Int64, %s Int128) ENGINE = SummingMergeTree ORDER BY %s",
			t.Buckets, q("bucket"), q("n"), q("digest"), q("bucket")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s Int64, %s String, %s Int64) ENGINE = MergeTree ORDER BY tuple()",
			t.Meta, q("format"), q("hash_function"), q("bucket_bits")),
	}
}

func (d ClickHouse) AddBuckets(t Tables, deltas string) []string {
	q := d.Quote
	return []string{fmt.Sprintf("INSERT INTO %s (%s, %s, %s)\n%s", t.Buckets, q("bucket"), q("n"), q("digest"), deltas)}
}

func (d ClickHouse) Merge(t Tables) []string {
	key, kh, hash, removed := d.Quote("key"), d.Quote("key_hash"), d.Quote("hash"), d.Quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s)", t.Snapshot, key, key, t.Stage),
		fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT %s, assumeNotNull(%s), assumeNotNull(%s) FROM %s WHERE NOT %s",
			t.Snapshot, key, kh, hash, key, kh, hash, t.Stage, removed),
	}
}
