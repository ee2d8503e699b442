package warehouse

import (
	"fmt"
	"strings"
)

// BigQuery: identifiers in backticks, CONCAT (NULL if any argument is),
// MD5 returns bytes, primary keys are declared NOT ENFORCED, and DELETE
// needs a WHERE clause. The schema is a dataset.
type BigQuery struct{ ansi }

func (BigQuery) Name() string              { return "bigquery" }
func (BigQuery) Quote(ident string) string { return quoteWith("`", ident) }
func (BigQuery) Literal(s string) string   { return escapedLiteral(s) }
func (BigQuery) Text(expr string) string   { return "CAST(" + expr + " AS STRING)" }
func (BigQuery) Concat(parts ...string) string {
	return "CONCAT(" + strings.Join(parts, ", ") + ")"
}
func (BigQuery) Hash16(text string) string { return "SUBSTR(TO_HEX(MD5(" + text + ")), 1, 16)" }
func (d BigQuery) Replace(expr, from, to string) string {
	return fmt.Sprintf("REPLACE(%s, %s, %s)", expr, d.Literal(from), d.Literal(to))
}
func (BigQuery) Clear(table string) string { return "DELETE FROM " + table + " WHERE TRUE" }

func (d BigQuery) Setup(schema, snapshot, stage string) []string {
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s STRING NOT NULL, PRIMARY KEY (%s) NOT ENFORCED)",
			snapshot, d.Quote("key"), d.Quote("hash"), d.Quote("key")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s STRING, %s BOOL NOT NULL)",
			stage, d.Quote("key"), d.Quote("hash"), d.Quote("removed")),
	}
}

func (d BigQuery) Merge(snapshot, stage string) []string {
	return []string{mergeStatement(d.Quote, snapshot, stage)}
}
