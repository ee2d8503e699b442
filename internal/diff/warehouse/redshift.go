package warehouse

import "fmt"

// Redshift: a CAST to VARCHAR without a length truncates to 256
// characters, so texts are cast to the longest VARCHAR; literals treat
// the backslash as an escape; hashes are FNV_HASH (64-bit FNV-1a, a fixed
// algorithm); no ON CONFLICT, so a commit point deletes the staged keys
// and inserts the new hashes in one transaction. The snapshot and
// staging tables are distributed and sorted by key, so that the plan's
// join is local to each slice.
type Redshift struct{ ansi }

func (Redshift) Name() string              { return "redshift" }
func (Redshift) Literal(s string) string   { return escapedLiteral(s) }
func (Redshift) Text(expr string) string   { return "CAST(" + expr + " AS VARCHAR(65535))" }
func (Redshift) Length(expr string) string { return "LEN(" + expr + ")" }
func (Redshift) Hash64(text string) string { return "FNV_HASH(" + text + ")" }
func (Redshift) HashFunction() string      { return "'fnv_hash'" }
func (d Redshift) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Redshift) Setup(t Tables) []string {
	tail := fmt.Sprintf(" DISTKEY(%s) SORTKEY(%s)", d.Quote("key"), d.Quote("key"))
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema},
		tables(d.Quote, t, types{"VARCHAR(65535)", "BIGINT", "DECIMAL(38, 0)", "BIGINT", "BOOLEAN"}, tail)...)
}

func (d Redshift) AddBuckets(t Tables, deltas string) []string {
	return mergeBuckets(d, t, deltas)
}

func (d Redshift) Merge(t Tables) []string {
	key, kh, hash, removed := d.Quote("key"), d.Quote("key_hash"), d.Quote("hash"), d.Quote("removed")
	return []string{
		fmt.Sprintf("DELETE FROM %s USING %s AS s WHERE %s.%s = s.%s", t.Snapshot, t.Stage, t.Snapshot, key, key),
		fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT %s, %s, %s FROM %s WHERE NOT %s",
			t.Snapshot, key, kh, hash, key, kh, hash, t.Stage, removed),
	}
}
