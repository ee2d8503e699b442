package warehouse

// Postgres is PostgreSQL (standard_conforming_strings on, the default
// since 9.1): md5 of the canonical text, INSERT … ON CONFLICT upserts.
type Postgres struct{ ansi }

func (Postgres) Name() string            { return "postgres" }
func (Postgres) Text(expr string) string { return "CAST(" + expr + " AS text)" }
func (d Postgres) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}

func (d Postgres) Setup(schema, snapshot, stage string) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + schema},
		tables(d.Quote, snapshot, stage, "text", "text", "boolean", "", "")...)
}

func (d Postgres) Merge(snapshot, stage string) []string {
	return upsertStatements(d.Quote, snapshot, stage)
}
