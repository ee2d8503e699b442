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
func (DuckDB) Sum(expr string) string      { return "sum(" + expr + ")" }
func (DuckDB) Materialized() string        { return "MATERIALIZED " }

func (d DuckDB) Setup(t Tables) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema},
		tables(d.Quote, t, types{"VARCHAR", "UBIGINT", "HUGEINT", "BIGINT", "BOOLEAN"}, "")...)
}

func (d DuckDB) AddBuckets(t Tables, deltas string) []string {
	return upsertBuckets(d.Quote, t, "", deltas)
}

func (d DuckDB) Merge(t Tables) []string { return upsertStatements(d.Quote, t) }
