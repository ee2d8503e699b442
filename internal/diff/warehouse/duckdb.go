package warehouse

import (
	"fmt"
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

// MarkJoins: DuckDB runs an IN (subquery) under an OR as a mark join.
func (DuckDB) MarkJoins() {}

// PlanSettings lets DuckDB forget the order of the rows, which nothing in
// a plan needs: the 100,000,000-row benchmark plans 2-3% faster.
func (DuckDB) PlanSettings() string { return "SET preserve_insertion_order = false;\n" }

func (d DuckDB) Setup(t Tables) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema},
		tables(d.Quote, t, types{"VARCHAR", "UBIGINT", "UBIGINT", "BIGINT", "BOOLEAN"}, "")...)
}

func (d DuckDB) AddBuckets(t Tables, deltas string) []string {
	return upsertBuckets(d, t, "", deltas)
}

func (d DuckDB) Merge(t Tables) []string { return upsertStatements(d.Quote, t) }

// KeyListLen keeps a commit point's key lists within what the ART index is used for (index_scan_max_count, 2,048).
func (DuckDB) KeyListLen() int { return 1000 }

// ShiftRight casts the bucket to the bucket column's BIGINT: compared
// with a UBIGINT, DuckDB would join the buckets on HUGEINTs.
func (DuckDB) ShiftRight(e string, n int) string {
	return "CAST((" + e + " >> " + strconv.Itoa(n) + ") AS BIGINT)"
}

// KeyValue offsets a key by 2^63 into the UBIGINT key hash (offset
// binary: order kept, so that consecutive keys share a bucket). UBIGINT
// keys, which may not fit, are hashed like the others.
func (DuckDB) KeyValue(expr, dbType string) string {
	if !duckdbInteger(dbType) {
		return ""
	}
	return "CAST(CAST(" + expr + " AS HUGEINT) + " + signBit + " AS UBIGINT)"
}

// KeyBucket shifts the key itself, arithmetically, and moves the result
// by 2^(63-n): the same as shifting the offset key hash, without its
// 128-bit sum.
func (DuckDB) KeyBucket(expr, dbType string, n int) string {
	return fmt.Sprintf("((CAST(%s AS BIGINT) >> %d) + %d)", expr, n, int64(1)<<(63-n))
}

func duckdbInteger(dbType string) bool {
	switch dbType {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER":
		return true
	}
	return false
}

// signBit is 2^63.
const signBit = "9223372036854775808"

func (DuckDB) KeyText(kh string) string {
	return "CAST(CAST(" + kh + " AS HUGEINT) - " + signBit + " AS VARCHAR)"
}
