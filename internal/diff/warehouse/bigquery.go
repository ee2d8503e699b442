package warehouse

import (
	"fmt"
	"strings"
)

// BigQuery: identifiers in backticks, CONCAT (NULL if any argument is),
// FARM_FINGERPRINT hashes (documented stable), sums in BIGNUMERIC,
// primary keys declared NOT ENFORCED, and DELETE needs a WHERE clause.
// The schema is a dataset.
type BigQuery struct{ ansi }

func (BigQuery) Name() string              { return "bigquery" }
func (BigQuery) Quote(ident string) string { return quoteWith("`", ident) }
func (BigQuery) Literal(s string) string   { return escapedLiteral(s) }
func (BigQuery) Text(expr string) string   { return "CAST(" + expr + " AS STRING)" }
func (BigQuery) Concat(parts ...string) string {
	return "CONCAT(" + strings.Join(parts, ", ") + ")"
}
func (BigQuery) Hash64(text string) string { return "FARM_FINGERPRINT(" + text + ")" }
func (BigQuery) HashFunction() string      { return "'farm_fingerprint'" }
func (BigQuery) Digest(expr string) string { return "SUM(CAST(" + expr + " AS BIGNUMERIC))" }
func (d BigQuery) Replace(expr, from, to string) string {
	return fmt.Sprintf("REPLACE(%s, %s, %s)", expr, d.Literal(from), d.Literal(to))
}
func (BigQuery) Clear(table string) string { return "DELETE FROM " + table + " WHERE TRUE" }

func (d BigQuery) Setup(t Tables) []string {
	q := d.Quote
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + t.Schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s INT64 NOT NULL, %s INT64 NOT NULL, PRIMARY KEY (%s) NOT ENFORCED)",
			t.Snapshot, q("key"), q("key_hash"), q("hash"), q("key")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s INT64, %s INT64, %s BOOL NOT NULL)",
			t.Stage, q("key"), q("key_hash"), q("hash"), q("removed")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s INT64 NOT NULL, %s INT64 NOT NULL, %s BIGNUMERIC NOT NULL, PRIMARY KEY (%s) NOT ENFORCED)",
			t.Buckets, q("bucket"), q("n"), q("digest"), q("bucket")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s INT64 NOT NULL, %s STRING NOT NULL, %s INT64 NOT NULL)",
			t.Meta, q("format"), q("hash_function"), q("bucket_bits")),
	}
}

func (d BigQuery) AddBuckets(t Tables, deltas string) []string {
	return mergeBuckets(d, t, deltas)
}

func (d BigQuery) Merge(t Tables) []string { return []string{mergeStatement(d.Quote, t)} }
