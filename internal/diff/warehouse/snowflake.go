package warehouse

// Snowflake: string literals treat the backslash as an escape; the
// staging table is transient (no fail-safe storage for rows that live
// one commit point); MERGE applies a commit point.
type Snowflake struct{ ansi }

func (Snowflake) Name() string            { return "snowflake" }
func (Snowflake) Literal(s string) string { return escapedLiteral(s) }
func (Snowflake) Text(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }
func (d Snowflake) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Snowflake) Setup(schema, snapshot, stage string) []string {
	t := tables(d.Quote, snapshot, stage, "VARCHAR", "VARCHAR(16)", "BOOLEAN", "", "")
	t[1] = "CREATE TRANSIENT TABLE" + t[1][len("CREATE TABLE"):]
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + schema}, t...)
}

func (d Snowflake) Merge(snapshot, stage string) []string {
	return []string{mergeStatement(d.Quote, snapshot, stage)}
}
