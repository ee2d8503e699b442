package warehouse

import "fmt"

// Redshift: a CAST to VARCHAR without a length truncates to 256
// characters, so texts are cast to the longest VARCHAR; literals treat
// the backslash as an escape; no ON CONFLICT, so a commit point deletes
// the staged keys and inserts the new hashes in one transaction. Tables
// are distributed and sorted by key, so that the plan's join is local to
// each slice.
type Redshift struct{ ansi }

func (Redshift) Name() string              { return "redshift" }
func (Redshift) Literal(s string) string   { return escapedLiteral(s) }
func (Redshift) Text(expr string) string   { return "CAST(" + expr + " AS VARCHAR(65535))" }
func (Redshift) Length(expr string) string { return "LEN(" + expr + ")" }
func (Redshift) Hash16(text string) string { return "SUBSTRING(MD5(" + text + "), 1, 16)" }
func (d Redshift) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Redshift) Setup(schema, snapshot, stage string) []string {
	tail := fmt.Sprintf(" DISTKEY(%s) SORTKEY(%s)", d.Quote("key"), d.Quote("key"))
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + schema},
		tables(d.Quote, snapshot, stage, "VARCHAR(65535)", "CHAR(16)", "BOOLEAN", tail, tail)...)
}

func (d Redshift) Merge(snapshot, stage string) []string {
	key, hash, removed := d.Quote("key"), d.Quote("hash"), d.Quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s USING %s AS s WHERE %s.%s = s.%s", snapshot, stage, snapshot, key, key),
		fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, %s FROM %s WHERE NOT %s", snapshot, key, hash, key, hash, stage, removed),
	}
}
