package warehouse

import (
	"fmt"
	"strconv"
)

// Snowflake: string literals treat the backslash as an escape; hashes
// are MD5_NUMBER_LOWER64 (unsigned, the same on every release); the
// staging table is transient (no fail-safe storage for rows that live
// one commit point); MERGE applies a commit point.
type Snowflake struct{ ansi }

func (Snowflake) Name() string            { return "snowflake" }
func (Snowflake) Literal(s string) string { return escapedLiteral(s) }
func (Snowflake) Text(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }
func (d Snowflake) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}
func (Snowflake) Hash64(text string) string   { return "MD5_NUMBER_LOWER64(" + text + ")" }
func (Snowflake) HashFunction() string        { return "'md5_number_lower64'" }
func (Snowflake) HashLiteral(h uint64) string { return strconv.FormatUint(h, 10) }

// ShiftRight divides: the hashes are unsigned NUMBERs beyond BIGINT.
func (Snowflake) ShiftRight(e string, n int) string {
	return fmt.Sprintf("FLOOR(%s / %d)", e, uint64(1)<<n)
}

func (d Snowflake) Setup(t Tables) []string {
	ts := tables(d.Quote, t, types{"VARCHAR", "NUMBER(20, 0)", "NUMBER(38, 0)", "BIGINT", "BOOLEAN"}, "")
	ts[1] = "CREATE TRANSIENT TABLE" + ts[1][len("CREATE TABLE"):]
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema}, ts...)
}

func (d Snowflake) AddBuckets(t Tables, deltas string) []string {
	return mergeBuckets(d, t, deltas)
}

func (d Snowflake) Merge(t Tables) []string { return []string{mergeStatement(d.Quote, t)} }
