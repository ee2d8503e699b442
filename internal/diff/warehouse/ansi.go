package warehouse

import (
	"fmt"
	"strconv"
	"strings"
)

// ansi holds what most dialects write the same way; each dialect embeds it
// and overrides the rest.
type ansi struct{}

func (ansi) Quote(ident string) string { return quoteWith(`"`, ident) }
func (ansi) Literal(s string) string   { return literal(s) }
func (ansi) Length(expr string) string { return "length(" + expr + ")" }
func (ansi) Concat(parts ...string) string {
	return "(" + strings.Join(parts, " || ") + ")"
}

// Hash64 is the first 64 bits of the text's MD5, as a signed BIGINT (the
// PostgreSQL way): MD5 because it is computed the same on every version.
func (ansi) Hash64(text string) string {
	return "CAST(CAST(('x' || substr(md5(" + text + "), 1, 16)) AS bit(64)) AS bigint)"
}
func (ansi) HashValues(...string) string       { return "" }
func (ansi) HashFunction() string              { return "'md5'" }
func (ansi) HashLiteral(h uint64) string       { return strconv.FormatInt(int64(h), 10) }
func (ansi) ShiftRight(e string, n int) string { return fmt.Sprintf("(%s >> %d)", e, n) }
func (ansi) Digest(expr string) string         { return "sum(CAST(" + expr + " AS DECIMAL(38, 0)))" }
func (ansi) DigestAdd(a, b string) string      { return a + " + " + b }
func (ansi) DigestSub(a, b string) string      { return a + " - " + b }
func (ansi) Materialized() string              { return "" }
func (ansi) bucketsFrom(table string) string   { return table }
func (a ansi) replace(lit func(string) string, expr, from, to string) string {
	return fmt.Sprintf("replace(%s, %s, %s)", expr, lit(from), lit(to))
}
func (ansi) Drop(table string) string  { return "DROP TABLE IF EXISTS " + table }
func (ansi) Clear(table string) string { return "DELETE FROM " + table }
func (ansi) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}
func (ansi) PlanSuffix() string { return "" }

// mergeStatement is a standard MERGE of the staging table into the
// snapshot, for the warehouses that have one.
func mergeStatement(quote func(string) string, t Tables) string {
	key, kh, hash, removed := quote("key"), quote("key_hash"), quote("hash"), quote("removed")
	return fmt.Sprintf("MERGE INTO %s AS t USING %s AS s ON t.%s = s.%s\n"+
		"WHEN MATCHED AND s.%s THEN DELETE\n"+
		"WHEN MATCHED THEN UPDATE SET %s = s.%s, %s = s.%s\n"+
		"WHEN NOT MATCHED AND NOT s.%s THEN INSERT (%s, %s, %s) VALUES (s.%s, s.%s, s.%s)",
		t.Snapshot, t.Stage, key, key, removed, kh, kh, hash, hash, removed, key, kh, hash, key, kh, hash)
}

// mergeBuckets adds per-bucket deltas with a standard MERGE.
func mergeBuckets(d Dialect, t Tables, deltas string) []string {
	b, n, digest := d.Quote("bucket"), d.Quote("n"), d.Quote("digest")
	return []string{fmt.Sprintf("MERGE INTO %s AS t USING (\n%s\n) AS s ON t.%s = s.%s\n"+
		"WHEN MATCHED THEN UPDATE SET %s = t.%s + s.%s, %s = %s\n"+
		"WHEN NOT MATCHED THEN INSERT (%s, %s, %s) VALUES (s.%s, s.%s, s.%s)",
		t.Buckets, deltas, b, b, n, n, n, digest, d.DigestAdd("t."+digest, "s."+digest), b, n, digest, b, n, digest)}
}

// upsertStatements delete the removed keys and upsert the others with
// INSERT … ON CONFLICT, for the warehouses that have it.
func upsertStatements(quote func(string) string, t Tables) []string {
	key, kh, hash, removed := quote("key"), quote("key_hash"), quote("hash"), quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s)", t.Snapshot, key, key, t.Stage, removed),
		fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT %s, %s, %s FROM %s WHERE NOT %s\n"+
			"ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s, %s = excluded.%s",
			t.Snapshot, key, kh, hash, key, kh, hash, t.Stage, removed, key, kh, kh, hash, hash),
	}
}

// upsertBuckets adds per-bucket deltas with INSERT … ON CONFLICT; old
// names the existing row (the table's unqualified name, or nothing where
// an unqualified column means it).
func upsertBuckets(d Dialect, t Tables, old, deltas string) []string {
	b, n, digest := d.Quote("bucket"), d.Quote("n"), d.Quote("digest")
	return []string{fmt.Sprintf("INSERT INTO %s (%s, %s, %s)\n%s\nON CONFLICT (%s) DO UPDATE SET %s = %s%s + excluded.%s, %s = %s",
		t.Buckets, b, n, digest, deltas, b, n, old, n, n, digest, d.DigestAdd(old+digest, "excluded."+digest))}
}

// types are the column types of a dialect's tables.
type types struct{ text, hash, digest, integer, boolean string }

// tables is the DDL of the four tables with the given column types and
// table options (tail).
func tables(quote func(string) string, t Tables, ty types, tail string) []string {
	q := quote
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL PRIMARY KEY, %s %s NOT NULL, %s %s NOT NULL)%s",
			t.Snapshot, q("key"), ty.text, q("key_hash"), ty.hash, q("hash"), ty.hash, tail),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s, %s %s, %s %s NOT NULL)%s",
			t.Stage, q("key"), ty.text, q("key_hash"), ty.hash, q("hash"), ty.hash, q("removed"), ty.boolean, tail),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL PRIMARY KEY, %s %s NOT NULL, %s %s NOT NULL)",
			t.Buckets, q("bucket"), ty.integer, q("n"), ty.integer, q("digest"), ty.digest),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s NOT NULL, %s %s NOT NULL)",
			t.Meta, q("format"), ty.integer, q("hash_function"), ty.text, q("bucket_bits"), ty.integer),
	}
}

// literal is a standard SQL string literal: quotes doubled.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// escapedLiteral is a literal for warehouses whose literals treat the
// backslash as an escape character.
func escapedLiteral(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// quoteWith quotes an identifier between q characters, doubling them
// inside.
func quoteWith(q, ident string) string {
	return q + strings.ReplaceAll(ident, q, q+q) + q
}
