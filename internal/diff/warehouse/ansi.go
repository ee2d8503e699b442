package warehouse

import (
	"fmt"
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
func (ansi) Hash16(text string) string { return "substr(md5(" + text + "), 1, 16)" }
func (a ansi) replace(lit func(string) string, expr, from, to string) string {
	return fmt.Sprintf("replace(%s, %s, %s)", expr, lit(from), lit(to))
}
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
func mergeStatement(quote func(string) string, snapshot, stage string) string {
	key, hash, removed := quote("key"), quote("hash"), quote("removed")
	return fmt.Sprintf("MERGE INTO %s AS t USING %s AS s ON t.%s = s.%s\n"+
		"WHEN MATCHED AND s.%s THEN DELETE\n"+
		"WHEN MATCHED THEN UPDATE SET %s = s.%s\n"+
		"WHEN NOT MATCHED AND NOT s.%s THEN INSERT (%s, %s) VALUES (s.%s, s.%s)",
		snapshot, stage, key, key, removed, hash, hash, removed, key, hash, key, hash)
}

// upsertStatements delete the removed keys and upsert the others with
// INSERT … ON CONFLICT, for the warehouses that have it.
func upsertStatements(quote func(string) string, snapshot, stage string) []string {
	key, hash, removed := quote("key"), quote("hash"), quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s)", snapshot, key, key, stage, removed),
		fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, %s FROM %s WHERE NOT %s\nON CONFLICT (%s) DO UPDATE SET %s = excluded.%s",
			snapshot, key, hash, key, hash, stage, removed, key, hash, hash),
	}
}

// tables is the DDL of the two tables with the given column types and
// table options.
func tables(quote func(string) string, snapshot, stage, text, hash, boolean, snapTail, stageTail string) []string {
	key := quote("key")
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL PRIMARY KEY, %s %s NOT NULL)%s",
			snapshot, key, text, quote("hash"), hash, snapTail),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s %s, %s %s NOT NULL)%s",
			stage, key, text, quote("hash"), hash, quote("removed"), boolean, stageTail),
	}
}
