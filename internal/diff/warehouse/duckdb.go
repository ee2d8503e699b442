package warehouse

// DuckDB is the embedded warehouse: INSERT … ON CONFLICT upserts, and
// DuckDB's transactions make a commit point atomic.
type DuckDB struct{ ansi }

func (DuckDB) Name() string            { return "duckdb" }
func (DuckDB) Text(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }
func (d DuckDB) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d DuckDB) Setup(schema, snapshot, stage string) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + schema},
		tables(d.Quote, snapshot, stage, "VARCHAR", "VARCHAR", "BOOLEAN", "", "")...)
}

func (d DuckDB) Merge(snapshot, stage string) []string {
	return upsertStatements(d.Quote, snapshot, stage)
}
