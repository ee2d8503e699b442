package warehouse

import "strings"

// Postgres is PostgreSQL (standard_conforming_strings on, the default
// since 9.1): hashes are the first 64 bits of the MD5 of canonical texts,
// the same on every version, and INSERT … ON CONFLICT upserts.
type Postgres struct{ ansi }

func (Postgres) Name() string            { return "postgres" }
func (Postgres) Text(expr string) string { return "CAST(" + expr + " AS text)" }
func (d Postgres) Replace(expr, from, to string) string {
	return d.replace(d.Literal, expr, from, to)
}
func (Postgres) Digest(expr string) string { return "sum(CAST(" + expr + " AS numeric))" }
func (Postgres) Materialized() string      { return "MATERIALIZED " }

func (d Postgres) Setup(t Tables) []string {
	return append([]string{"CREATE SCHEMA IF NOT EXISTS " + t.Schema},
		tables(d.Quote, t, types{"text", "bigint", "numeric", "bigint", "boolean"}, "")...)
}

// AddBuckets names the existing row by the table's unqualified name, as
// ON CONFLICT DO UPDATE wants it.
func (d Postgres) AddBuckets(t Tables, deltas string) []string {
	name := t.Buckets[strings.LastIndex(t.Buckets, `"."`)+2:]
	return upsertBuckets(d, t, name+".", deltas)
}

func (d Postgres) Merge(t Tables) []string { return upsertStatements(d.Quote, t) }

// KeyListLen keeps a commit point's key lists within what the planner looks up by the primary key.
func (Postgres) KeyListLen() int { return 1000 }

// KeyValue is the key itself: the key hash column is a bigint.
func (Postgres) KeyValue(expr, dbType string) string {
	switch dbType {
	case "smallint", "integer", "bigint":
		return "CAST(" + expr + " AS bigint)"
	}
	return ""
}

func (Postgres) KeyText(kh string) string { return "CAST(" + kh + " AS text)" }

func (d Postgres) KeyBucket(expr, dbType string, n int) string {
	return d.ShiftRight(d.KeyValue(expr, dbType), n)
}
