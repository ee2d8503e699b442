package duckdb

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

const benchRows = 1_000_000

// benchTable has the shape of the documented benchmark model: eight
// columns as a CRM sync reads them.
const benchTable = `CREATE TABLE users AS SELECT
	i::BIGINT AS id,
	'user' || i || '@example.com' AS email,
	'First' || (i % 1000) AS first_name,
	'Last' || (i % 5000) AS last_name,
	(['free', 'pro', 'team'])[1 + i % 3] AS plan,
	((i % 100000) / 100)::DECIMAL(12,2) AS ltv,
	TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS created_at,
	'{"tier":' || (i % 10) || ',"src":"ads"}' AS props
FROM range(` + "1000000" + `) t(i)`

// BenchmarkScan reads a 1M-row, 8-column model through the source, with
// the conversion to canonical values; ns/row is the figure to compare.
func BenchmarkScan(b *testing.B) {
	s := openMemory(b, benchTable)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rows, err := s.Query(ctx, "SELECT * FROM users")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			_ = rows.Values()
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if n != benchRows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
}

// BenchmarkScanDatabaseSQL is the baseline: the same table read through the
// database/sql driver into driver values, without canonical conversion
// (and with the whole result materialised inside DuckDB first).
func BenchmarkScanDatabaseSQL(b *testing.B) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	if _, err := db.Exec(benchTable); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.Query("SELECT * FROM users")
		if err != nil {
			b.Fatal(err)
		}
		vals := make([]any, 8)
		ptrs := make([]any, 8)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if n != benchRows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
}
