package warehouse

import (
	"fmt"
	"strings"
)

// Databricks (Spark SQL on Delta tables): identifiers in backticks,
// literals with backslash escapes, concat is NULL if any argument is,
// and Delta's MERGE applies a commit point atomically.
type Databricks struct{ ansi }

func (Databricks) Name() string              { return "databricks" }
func (Databricks) Quote(ident string) string { return quoteWith("`", ident) }
func (Databricks) Literal(s string) string   { return escapedLiteral(s) }
func (Databricks) Text(expr string) string   { return "CAST(" + expr + " AS STRING)" }
func (Databricks) Concat(parts ...string) string {
	return "concat(" + strings.Join(parts, ", ") + ")"
}
func (d Databricks) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Databricks) Setup(schema, snapshot, stage string) []string {
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s STRING NOT NULL) USING DELTA",
			snapshot, d.Quote("key"), d.Quote("hash")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s STRING NOT NULL, %s STRING, %s BOOLEAN NOT NULL) USING DELTA",
			stage, d.Quote("key"), d.Quote("hash"), d.Quote("removed")),
	}
}

func (d Databricks) Merge(snapshot, stage string) []string {
	return []string{mergeStatement(d.Quote, snapshot, stage)}
}
