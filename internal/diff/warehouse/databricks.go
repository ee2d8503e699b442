package warehouse

import (
	"fmt"
	"strings"
)

// Databricks (Spark SQL on Delta tables): identifiers in backticks,
// literals with backslash escapes, concat is NULL if any argument is,
// xxhash64 hashes (Spark's, with a fixed seed), and Delta's MERGE applies
// a commit point atomically.
type Databricks struct{ ansi }

func (Databricks) Name() string              { return "databricks" }
func (Databricks) Quote(ident string) string { return quoteWith("`", ident) }
func (Databricks) Literal(s string) string   { return escapedLiteral(s) }
func (Databricks) Text(expr string) string   { return "CAST(" + expr + " AS STRING)" }
func (Databricks) Concat(parts ...string) string {
	return "concat(" + strings.Join(parts, ", ") + ")"
}
func (Databricks) Hash64(text string) string { return "xxhash64(" + text + ")" }
func (Databricks) HashFunction() string      { return "'xxhash64'" }
func (Databricks) ShiftRight(e string, n int) string {
	return fmt.Sprintf("shiftright(%s, %d)", e, n)
}
func (d Databricks) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Databricks) Setup(t Tables) []string {
	q := d.Quote
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + t.Schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s BIGINT NOT NULL, %s BIGINT NOT NULL) USING DELTA",
			t.Snapshot, q("key"), q("key_hash"), q("hash")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s BIGINT, %s BIGINT, %s BOOLEAN NOT NULL) USING DELTA",
			t.Stage, q("key"), q("key_hash"), q("hash"), q("removed")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s BIGINT NOT NULL, %s BIGINT NOT NULL, %s DECIMAL(38, 0) NOT NULL) USING DELTA",
			t.Buckets, q("bucket"), q("n"), q("digest")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s BIGINT NOT NULL, %s STRING NOT NULL, %s BIGINT NOT NULL) USING DELTA",
			t.Meta, q("format"), q("hash_function"), q("bucket_bits")),
	}
}

func (d Databricks) AddBuckets(t Tables, deltas string) []string {
	return mergeBuckets(d, t, deltas)
}

func (d Databricks) Merge(t Tables) []string { return []string{mergeStatement(d.Quote, t)} }
