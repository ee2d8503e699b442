package warehouse

import (
	"strconv"
	"strings"
)

// DuckDB is the embedded warehouse: its own hash() of the typed values
// (no text casts, no MD5), INSERT … ON CONFLICT upserts, and DuckDB's
// transactions make a commit point atomic. DuckDB does not promise that
// hash() stays the same between versions, so the version is part of the
// hash function's name the meta table records: a snapshot written by
// another DuckDB version is refused until `riptide reset`.
type DuckDB struct{ ansi }

func (DuckDB) Name() string            { return "duckdb" }
func (DuckDB) Text(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }
func (d DuckDB) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}
func (DuckDB) Hash64(text string) string { return "hash(" + text + ")" }
func (DuckDB) HashValues(exprs ...string) string {
	return "hash(" + strings.Join(exprs, ", ") + ")"
}
func (DuckDB) HashFunction() string        { return "'duckdb hash() ' || version()" }
func (DuckDB) HashLiteral(h uint64) string { return strconv.FormatUint(h, 10) }

// Digest is the XOR of the row hashes: its aggregate state is a UBIGINT
// where a sum's is a HUGEINT, which makes summing 100,000,000 rows into
// 4,194,304 buckets a third cheaper. An XOR cannot tell two copies of a
// row from none, but the count beside it can, and the snapshot's keys are
// distinct, so equal counts and XORs mean equal rows but by chance (one
// in 2^64 per bucket).
func (DuckDB) Digest(expr string) string    { return "bit_xor(" + expr + ")" }
func (DuckDB) DigestAdd(a, b string) string { return "xor(" + a + ", " + b + ")" }
func (DuckDB) DigestSub(a, b string) string { return "xor(" + a + ", " + b + ")" }
func (DuckDB) Materialized() string         { return "MATERIALIZED " }

func (d DuckDB) Setup(t Tables) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema},
		tables(d.Quote, t, types{"VARCHAR", "UBIGINT", "UBIGINT", "BIGINT", "BOOLEAN"}, "")...)
}

func (d DuckDB) AddBuckets(t Tables, deltas string) []string {
	return upsertBuckets(d, t, "", deltas)
}

func (d DuckDB) Merge(t Tables) []string { return upsertStatements(d.Quote, t) }

// ShiftRight casts the bucket to the bucket column's BIGINT: compared
// with a UBIGINT, DuckDB would join the buckets on HUGEINTs.
func (DuckDB) ShiftRight(e string, n int) string {
	return "CAST((" + e + " >> " + strconv.Itoa(n) + ") AS BIGINT)"
}

// KeyValue maps a key v ≥ 0 to 2^63 + v and a key v < 0 to -(v + 1),
// into the UBIGINT key hash: consecutive keys stay consecutive, so
// that they share a bucket, and each branch of the CASE stays in range
// for the rows it sees (v + 2^63 would not: DuckDB folds the constants
// first). UBIGINT keys, which may not fit, are hashed like the others.
func (DuckDB) KeyValue(expr, dbType string) string {
	switch dbType {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER":
		return "CASE WHEN " + expr + " >= 0 THEN CAST(" + expr + " AS UBIGINT) + " + signBit +
			" ELSE CAST(-(CAST(" + expr + " AS BIGINT) + 1) AS UBIGINT) END"
	}
	return ""
}

// signBit is 2^63 as a UBIGINT.
const signBit = "CAST(9223372036854775808 AS UBIGINT)"

func (DuckDB) KeyText(kh string) string {
	return "CASE WHEN " + kh + " >= " + signBit + " THEN CAST(" + kh + " - " + signBit + " AS VARCHAR)" +
		" ELSE CAST(-CAST(" + kh + " AS BIGINT) - 1 AS VARCHAR) END"
}
