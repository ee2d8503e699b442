package warehouse

import (
	"fmt"
	"strings"
)

// ClickHouse: toString keeps NULL (a CAST to String refuses it), the
// FULL JOIN needs join_use_nulls to yield NULLs for missing sides, the
// schema is a database, and tables are MergeTree ordered by key.
// ClickHouse has no multi-statement transactions: a commit point deletes
// the staged keys, then inserts the new hashes. A crash between the two
// leaves those keys out of the snapshot, so they read as added and are
// sent again next run — at least once, never lost.
type ClickHouse struct{ ansi }

func (ClickHouse) Name() string              { return "clickhouse" }
func (ClickHouse) Quote(ident string) string { return quoteWith("`", ident) }
func (ClickHouse) Literal(s string) string   { return escapedLiteral(s) }
func (ClickHouse) Text(expr string) string   { return "toString(" + expr + ")" }
func (ClickHouse) Concat(parts ...string) string {
	return "concat(" + strings.Join(parts, ", ") + ")"
}
func (ClickHouse) Hash16(text string) string {
	return "substring(lower(hex(MD5(" + text + "))), 1, 16)"
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

func (d ClickHouse) Setup(schema, snapshot, stage string) []string {
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + schema,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s String, %s String) ENGINE = MergeTree ORDER BY %s",
			snapshot, d.Quote("key"), d.Quote("hash"), d.Quote("key")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s String, %s Nullable(String), %s Bool) ENGINE = MergeTree ORDER BY %s",
			stage, d.Quote("key"), d.Quote("hash"), d.Quote("removed"), d.Quote("key")),
	}
}

func (d ClickHouse) Merge(snapshot, stage string) []string {
	key, hash, removed := d.Quote("key"), d.Quote("hash"), d.Quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s)", snapshot, key, key, stage),
		fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, assumeNotNull(%s) FROM %s WHERE NOT %s",
			snapshot, key, hash, key, hash, stage, removed),
	}
}
