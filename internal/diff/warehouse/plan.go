package warehouse

import (
	"fmt"
	"strings"
)

// Plan is the query that diffs the model against the snapshot. Its rows
// are ColOp, ColKey, ColHash, ColKeyHash, ColN and the model's columns:
// one row per added, changed or removed key, per row with a null key and
// per row of a duplicated key, and one OpKeyed row counting the model's
// rows with a key (or, for a full resync, one row per unchanged key).
// Counting those rather than the unchanged ones spares the warehouse a
// second read of the joined rows. The hashes are decimal texts of 64-bit
// integers, signed or not as the dialect stores them.
//
// CTEs: a sums the model's rows per bucket (the only pass over every
// row); d lists the buckets whose count or sum differ from the bucket
// table's; m and s are the model's and the snapshot's rows of those
// buckets (and the model's rows with a null key); j joins them.
func (q *SQL) Plan() string {
	d := q.d
	qt := d.Quote
	mat := d.Materialized()
	op, key, hash, kh, n := qt(ColOp), qt(ColKey), qt(ColHash), qt(ColKeyHash), qt(ColN)
	b := qt("__riptide_bucket")
	var cols, mcols, nulls strings.Builder
	for i, c := range q.spec.Columns {
		if i > 0 {
			cols.WriteString(", ")
		}
		cols.WriteString(qt(c))
		mcols.WriteString(", m." + qt(c))
		nulls.WriteString(", NULL")
	}
	var sb strings.Builder
	if ps, ok := d.(planSettings); ok {
		sb.WriteString(ps.PlanSettings())
	}
	sb.WriteString("WITH ")
	pruned := !q.spec.FullResync
	if pruned {
		fmt.Fprintf(&sb, "a AS %s(\n  SELECT %s AS %s, count(*) AS %s, %s AS %s\n  FROM (\n%s\n  ) AS q\n  WHERE %s\n  GROUP BY %s\n),\n",
			mat, q.keyBucket("q"), b, n, d.Digest(q.rowHash("q")), hash, q.model(), q.keyNotNull("q"), q.keyBucket("q"))
		fmt.Fprintf(&sb, "d AS %s(\n  SELECT COALESCE(a.%s, k.%s) AS %s\n  FROM a FULL OUTER JOIN %s AS k ON k.%s = a.%s\n"+
			"  WHERE COALESCE(a.%s, 0) <> COALESCE(k.%s, 0) OR COALESCE(a.%s, 0) <> COALESCE(k.%s, 0)\n),\n",
			mat, b, qt("bucket"), b, q.d.(bucketReader).bucketsFrom(q.t.Buckets), qt("bucket"), b,
			n, qt("n"), hash, qt("digest"))
	}
	// The key hash of the rows that pass: the bucket filter computes its
	// own from the key (for an integer key, without the key hash).
	fmt.Fprintf(&sb, "m AS (\n  SELECT %s AS %s, %s AS %s, %s AS %s, %s\n  FROM (\n%s\n  ) AS q\n",
		q.KeyExpr("q"), key, q.keyHash("q"), kh, q.rowHash("q"), hash, prefixed("q.", q.quoted(q.spec.Columns)), q.model())
	switch _, mark := d.(markJoins); {
	case pruned && mark:
		fmt.Fprintf(&sb, "  WHERE %s OR %s IN (SELECT %s FROM d)\n", q.keyNull("q"), q.keyBucket("q"), b)
	case pruned:
		// d's buckets are distinct, so the join adds no row; DISTINCT all
		// the same, for PostgreSQL, which estimates d as large as the model
		// and sorted the model (10,000,000 rows: 6.8 s) for a merge join,
		// but estimates a DISTINCT small and hashes it (1.7 s).
		fmt.Fprintf(&sb, "  LEFT JOIN (SELECT DISTINCT %s FROM d) AS d ON d.%s = %s\n  WHERE %s OR d.%s IS NOT NULL\n",
			b, b, q.keyBucket("q"), q.keyNull("q"), b)
	}
	sb.WriteString("),\n")
	// An integer key's rows join on its exact key hash: the snapshot's
	// key texts are not read, a removed key's text comes from its hash.
	sKey, mKey, removedKey := qt("key"), key, "s."+qt("key")
	if q.ik != nil {
		sKey, mKey, removedKey = qt("key_hash"), kh, q.ik.KeyText("s."+qt("key_hash"))
		fmt.Fprintf(&sb, "s AS (\n  SELECT %s, %s FROM %s", qt("key_hash"), qt("hash"), q.t.Snapshot)
	} else {
		fmt.Fprintf(&sb, "s AS (\n  SELECT %s, %s, %s FROM %s", qt("key"), qt("key_hash"), qt("hash"), q.t.Snapshot)
	}
	if pruned {
		fmt.Fprintf(&sb, "\n  WHERE %s IN (SELECT %s FROM d)", q.bucket(qt("key_hash")), b)
	}
	sb.WriteString("\n),\n")
	fmt.Fprintf(&sb, "dup AS (\n  SELECT %s, count(*) AS %s FROM m WHERE %s IS NOT NULL GROUP BY %s HAVING count(*) > 1\n),\n", mKey, n, mKey, mKey)
	// j is materialized although read once: DuckDB streams a plan's
	// result (the source fetches it as it goes), and a full outer join
	// left in the streamed part ran for more than 15 minutes at 100M
	// rows where its materialized form takes seconds.
	fmt.Fprintf(&sb, "j AS %s(\n  SELECT CASE\n", mat)
	fmt.Fprintf(&sb, "      WHEN m.%s IS NULL AND s.%s IS NULL THEN '%s'\n", mKey, sKey, OpNullKey)
	fmt.Fprintf(&sb, "      WHEN m.%s IS NULL THEN '%s'\n", mKey, OpRemoved)
	fmt.Fprintf(&sb, "      WHEN dup.%s IS NOT NULL THEN '%s'\n", mKey, OpDuplicate)
	fmt.Fprintf(&sb, "      WHEN s.%s IS NULL THEN '%s'\n", sKey, OpAdded)
	fmt.Fprintf(&sb, "      WHEN s.%s <> m.%s THEN '%s'\n", qt("hash"), hash, OpChanged)
	fmt.Fprintf(&sb, "      ELSE '%s'\n    END AS %s,\n", OpUnchanged, op)
	fmt.Fprintf(&sb, "    COALESCE(m.%s, %s) AS %s, %s AS %s, %s AS %s, COALESCE(dup.%s, 1) AS %s%s\n",
		key, removedKey, key, d.Text("m."+hash), hash, d.Text(fmt.Sprintf("COALESCE(m.%s, s.%s)", kh, qt("key_hash"))), kh, n, n, mcols.String())
	fmt.Fprintf(&sb, "  FROM m\n  FULL OUTER JOIN s ON s.%s = m.%s\n  LEFT JOIN dup ON dup.%s = m.%s\n)\n",
		sKey, mKey, mKey, mKey)
	if !pruned {
		fmt.Fprintf(&sb, "SELECT %s, %s, %s, %s, %s, %s FROM j", op, key, hash, kh, n, cols.String())
	} else {
		fmt.Fprintf(&sb, "SELECT %s, %s, %s, %s, %s, %s FROM j WHERE %s <> '%s'\n", op, key, hash, kh, n, cols.String(), op, OpUnchanged)
		fmt.Fprintf(&sb, "UNION ALL\nSELECT '%s', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a.%s) FROM a), 0) AS BIGINT)%s",
			OpKeyed, n, nulls.String())
	}
	sb.WriteString(d.PlanSuffix())
	return sb.String()
}

func (q *SQL) quoted(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = q.d.Quote(c)
	}
	return out
}

func prefixed(prefix string, items []string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = prefix + it
	}
	return strings.Join(out, ", ")
}

// markJoins is implemented by dialects that run "x OR b IN (SELECT b FROM
// d)" as one pass over the rows against a hash table of d (DuckDB's mark
// join), the form the plan's benchmark was measured with. The others
// pick the model's rows of the differing buckets with a left join:
// PostgreSQL, estimating d as large as the model, ran that IN as a scan
// of d for every row (33 s for 1,000,000 rows against 0.7 s locally).
type markJoins interface {
	MarkJoins()
}

// planSettings is implemented by dialects whose plan query runs faster
// with some settings: statements put before the query.
type planSettings interface {
	PlanSettings() string
}

// bucketReader is how a plan reads the bucket table: the table itself,
// or, where the warehouse sums rows of one bucket lazily (ClickHouse's
// SummingMergeTree), an aggregate of it.
type bucketReader interface {
	bucketsFrom(table string) string
}

// Row is an acknowledged key to merge into the snapshot: its key hash
// and new row hash as the plan returned them, or Removed.
type Row struct {
	Key     string
	KeyHash uint64
	Hash    uint64
	Removed bool
}

// stageChunk is how many rows one INSERT of the staging table carries.
const stageChunk = 500

// Stage adds rows to the staging table.
func (q *SQL) Stage(rows []Row) ([]string, error) {
	var stmts []string
	qt := q.d.Quote
	head := fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s) VALUES ", q.t.Stage, qt("key"), qt("key_hash"), qt("hash"), qt("removed"))
	for start := 0; start < len(rows); start += stageChunk {
		var b strings.Builder
		b.WriteString(head)
		for i, r := range rows[start:min(start+stageChunk, len(rows))] {
			if strings.IndexByte(r.Key, 0) >= 0 {
				return nil, fmt.Errorf("stage key %q: it holds a NUL byte, which warehouses' text cannot", r.Key)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			kh, hash := "NULL", "NULL"
			if !r.Removed {
				kh, hash = q.d.HashLiteral(r.KeyHash), q.d.HashLiteral(r.Hash)
			}
			fmt.Fprintf(&b, "(%s, %s, %s, %s)", q.d.Literal(r.Key), kh, hash, q.d.Bool(r.Removed))
		}
		stmts = append(stmts, b.String())
	}
	return stmts, nil
}

// bucketDeltas is what merging the staged rows changes per bucket: the
// snapshot rows of staged keys leave their buckets, the staged rows that
// are not removed enter theirs.
func (q *SQL) bucketDeltas() string {
	d, qt := q.d, q.d.Quote
	key, kh, hash := qt("key"), qt("key_hash"), qt("hash")
	return fmt.Sprintf("SELECT b AS %s, sum(dn) AS %s, %s AS %s FROM (\n"+
		"  SELECT %s AS b, -1 AS dn, NULL AS added, s.%s AS gone FROM %s AS s WHERE s.%s IN (SELECT %s FROM %s)\n"+
		"  UNION ALL\n"+
		"  SELECT %s, 1, st.%s, NULL FROM %s AS st WHERE NOT st.%s\n"+
		") AS x GROUP BY b",
		qt("bucket"), qt("n"), d.DigestSub("COALESCE("+d.Digest("added")+", 0)", "COALESCE("+d.Digest("gone")+", 0)"), qt("digest"),
		q.bucket("s."+kh), hash, q.t.Snapshot, key, key, q.t.Stage,
		q.bucket("st."+kh), hash, q.t.Stage, qt("removed"))
}

// Merge applies the staged rows to the bucket table and the snapshot,
// and empties the staging table.
func (q *SQL) Merge() []string {
	stmts := append(q.d.AddBuckets(q.t, q.bucketDeltas()), q.d.Merge(q.t)...)
	return append(stmts, q.d.Clear(q.t.Stage))
}

// Commit is one commit point: empty the staging table, stage the rows
// and merge them, to be run as one transaction.
func (q *SQL) Commit(rows []Row) ([]string, error) {
	stmts, err := q.Stage(rows)
	if err != nil {
		return nil, err
	}
	stmts = append([]string{q.d.Clear(q.t.Stage)}, stmts...)
	if kl, ok := q.d.(keyLists); ok {
		return append(stmts, q.mergeNamed(rows, kl.KeyListLen())...), nil
	}
	stmts = append(stmts, q.d.AddBuckets(q.t, q.bucketDeltas())...)
	return append(stmts, q.d.Merge(q.t)...), nil
}

// keyLists is implemented by dialects whose snapshot's primary key index
// finds a list of keys without reading the table (DuckDB's ART,
// PostgreSQL's B-tree), where a semi join with the staging table reads
// it whole. At 100,000,000 keys on DuckDB, taking a commit point's 1,000
// keys out of their buckets took 1.1 s and upserting them 1.0 s; 0.12 s
// and 0.11 s with their keys named. The commit point as a whole went
// from 2.1–2.2 s to 1.5–1.9 s: DuckDB checkpoints the file at each such
// commit (about 1 s), which also keeps the index's changed nodes from
// filling memory (deferring it ran a 2 GB memory_limit out).
type keyLists interface {
	// KeyListLen is how many keys one IN list names at most: within what
	// the warehouse looks up by index.
	KeyListLen() int
}

// mergeNamed merges the staged rows, which are rows, naming their keys:
// each key's old row leaves its bucket and the snapshot, looked up by the
// snapshot's primary key, then the rows that are not removed enter.
func (q *SQL) mergeNamed(rows []Row, chunk int) []string {
	d, qt := q.d, q.d.Quote
	key, kh, hash := qt("key"), qt("key_hash"), qt("hash")
	var gone, del []string
	for start := 0; start < len(rows); start += chunk {
		keys := make([]string, 0, chunk)
		for _, r := range rows[start:min(start+chunk, len(rows))] {
			keys = append(keys, d.Literal(r.Key))
		}
		list := strings.Join(keys, ", ")
		gone = append(gone, d.AddBuckets(q.t, fmt.Sprintf(
			"SELECT %s AS %s, -count(*) AS %s, %s AS %s FROM %s AS s WHERE s.%s IN (%s) GROUP BY %s",
			q.bucket("s."+kh), qt("bucket"), qt("n"), d.DigestSub("0", d.Digest("s."+hash)), qt("digest"),
			q.t.Snapshot, key, list, q.bucket("s."+kh)))...)
		del = append(del, fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s)", q.t.Snapshot, key, list))
	}
	added := d.AddBuckets(q.t, fmt.Sprintf(
		"SELECT %s AS %s, count(*) AS %s, %s AS %s FROM %s AS st WHERE NOT st.%s GROUP BY %s",
		q.bucket("st."+kh), qt("bucket"), qt("n"), d.Digest("st."+hash), qt("digest"),
		q.t.Stage, qt("removed"), q.bucket("st."+kh)))
	stmts := append(append(gone, added...), del...)
	return append(stmts, fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT %s, %s, %s FROM %s WHERE NOT %s",
		q.t.Snapshot, key, kh, hash, key, kh, hash, q.t.Stage, qt("removed")))
}
