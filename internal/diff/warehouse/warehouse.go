// Package warehouse generates the SQL of a diff that runs inside the
// warehouse: each sync's snapshot (key → hash of the mapped columns) is a
// table in a schema Riptide owns, the plan is one query the warehouse
// runs against it, and acknowledged keys are merged back through a
// staging table, one transaction per commit point. Only the SQL differs
// between warehouses, and only through a Dialect.
package warehouse

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zeebo/xxh3"
)

// Dialect is what one warehouse's SQL needs: how it quotes, casts and
// hashes, and how it creates and merges the snapshot tables.
type Dialect interface {
	// Name is the dialect's name, as sources report it (connector.Executor).
	Name() string
	// Quote quotes an identifier.
	Quote(ident string) string
	// Literal writes a string literal.
	Literal(s string) string
	// Text casts an expression to the warehouse's text type.
	Text(expr string) string
	// Length is the length of a text expression.
	Length(expr string) string
	// Concat concatenates text expressions; NULL if any of them is NULL.
	Concat(parts ...string) string
	// Hash16 is the first 64 bits of the MD5 of a text expression, as 16
	// lowercase hexadecimal digits: MD5 because every warehouse has it and
	// computes it the same way, on every version.
	Hash16(text string) string
	// Replace replaces every occurrence of a literal in a text expression.
	Replace(expr, from, to string) string
	// Setup creates the schema, the snapshot table (key primary key, hash)
	// and the staging table (key, hash, removed) when they are missing.
	Setup(schema, snapshot, stage string) []string
	// Merge applies the staged rows to the snapshot: removed keys are
	// deleted, the others upserted with their new hash. The statements
	// run in one transaction where the warehouse has them.
	Merge(snapshot, stage string) []string
	// Clear empties a table.
	Clear(table string) string
	// Bool is the literal of a boolean.
	Bool(b bool) string
	// PlanSuffix ends the plan query (settings some warehouses need).
	PlanSuffix() string
}

// Dialects are the built-in dialects by name.
var Dialects = map[string]Dialect{
	"duckdb":     DuckDB{},
	"postgres":   Postgres{},
	"snowflake":  Snowflake{},
	"bigquery":   BigQuery{},
	"clickhouse": ClickHouse{},
	"redshift":   Redshift{},
	"databricks": Databricks{},
}

// DefaultSchema is the schema Riptide owns in the warehouse.
const DefaultSchema = "riptide"

// Plan result columns, before the model's own columns.
const (
	ColOp   = "__riptide_op"
	ColKey  = "__riptide_key"
	ColHash = "__riptide_hash"
	ColN    = "__riptide_n"
	// MetaColumns is how many columns come before the model's.
	MetaColumns = 4
)

// Ops of a plan row. OpUnchanged rows carry only a count in ColN, unless
// the plan is a full resync; OpDuplicate rows carry in ColN how many rows
// share the key.
const (
	OpAdded     = "added"
	OpChanged   = "changed"
	OpRemoved   = "removed"
	OpUnchanged = "unchanged"
	OpDuplicate = "duplicate"
	OpNullKey   = "null_key"
)

// Spec is one sync's diff: the model and the columns its mapping uses.
type Spec struct {
	// Schema holds the snapshot and staging tables (DefaultSchema when
	// empty).
	Schema string
	Sync   string
	// ModelSQL is the model's query; it becomes a subquery.
	ModelSQL string
	// Columns are the model's result columns, in order.
	Columns    []string
	PrimaryKey []string
	// HashColumns are the columns whose values decide the mapped output
	// (nil: every column).
	HashColumns []string
	// Seed identifies the mapping, so that a new mapping changes every
	// hash (transform.Mapper.Fingerprint).
	Seed uint64
	// FullResync returns unchanged rows one by one instead of a count.
	FullResync bool
}

// SQL generates one sync's statements in one dialect.
type SQL struct {
	d               Dialect
	spec            Spec
	snapshot, stage string // qualified
}

// New checks a spec and prepares its SQL.
func New(d Dialect, spec Spec) (*SQL, error) {
	if d == nil {
		return nil, errors.New("warehouse diff: no dialect")
	}
	if spec.Schema == "" {
		spec.Schema = DefaultSchema
	}
	if strings.TrimSpace(spec.ModelSQL) == "" {
		return nil, fmt.Errorf("warehouse diff of sync %s: the model has no SQL", spec.Sync)
	}
	if len(spec.PrimaryKey) == 0 {
		return nil, fmt.Errorf("warehouse diff of sync %s: the model has no primary key", spec.Sync)
	}
	seen := map[string]bool{}
	for _, c := range spec.Columns {
		if strings.HasPrefix(c, "__riptide_") {
			return nil, fmt.Errorf("warehouse diff of sync %s: the model's column %q uses the prefix __riptide_, which the plan query reserves", spec.Sync, c)
		}
		if seen[c] {
			return nil, fmt.Errorf("warehouse diff of sync %s: the model returns two columns named %q; name them apart", spec.Sync, c)
		}
		seen[c] = true
	}
	for _, group := range [][]string{spec.PrimaryKey, spec.HashColumns} {
		for _, c := range group {
			if !seen[c] {
				return nil, fmt.Errorf("warehouse diff of sync %s: column %q is not in the model's result (columns: %s)",
					spec.Sync, c, strings.Join(spec.Columns, ", "))
			}
		}
	}
	base := TableName(spec.Sync)
	return &SQL{
		d: d, spec: spec,
		snapshot: d.Quote(spec.Schema) + "." + d.Quote("snapshot_"+base),
		stage:    d.Quote(spec.Schema) + "." + d.Quote("stage_"+base),
	}, nil
}

// TableName turns a sync's name into the part of a table name every
// warehouse accepts unquoted (letters, digits, underscores, at most 40):
// a name that had to change gets a hash of the original, so that two
// syncs never share a table.
func TableName(sync string) string {
	var b strings.Builder
	changed := false
	for _, r := range sync {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
			changed = true
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	name := b.String()
	if len(name) > 40 {
		name, changed = name[:40], true
	}
	if changed || name == "" {
		name += fmt.Sprintf("_%08x", uint32(xxh3.HashString(sync)))
	}
	return name
}

// Snapshot is the qualified name of the snapshot table.
func (q *SQL) Snapshot() string { return q.snapshot }

// Setup creates the schema and tables, and empties the staging table of
// what a crashed run may have left there (staged, never merged: those
// rows are re-sent).
func (q *SQL) Setup() []string {
	return append(q.d.Setup(q.d.Quote(q.spec.Schema), q.snapshot, q.stage), q.d.Clear(q.stage))
}

// Reset forgets the snapshot: every key reads as added next time.
func (q *SQL) Reset() []string {
	return []string{q.d.Clear(q.stage), q.d.Clear(q.snapshot)}
}

// KeyExpr is the key's text, as value.JoinKey writes it: one column's
// text, or the columns' texts with \ and | escaped, joined by |. NULL
// when a key column is.
func (q *SQL) KeyExpr(alias string) string {
	d := q.d
	if len(q.spec.PrimaryKey) == 1 {
		return d.Text(alias + "." + d.Quote(q.spec.PrimaryKey[0]))
	}
	var parts []string
	for i, c := range q.spec.PrimaryKey {
		if i > 0 {
			parts = append(parts, d.Literal("|"))
		}
		t := d.Text(alias + "." + d.Quote(c))
		parts = append(parts, d.Replace(d.Replace(t, `\`, `\\`), "|", `\|`))
	}
	return d.Concat(parts...)
}

// HashExpr is the row hash: the mapping's seed, then for each hashed
// column N for NULL or V, the length of its text, a colon and the text —
// a length prefix, so that no two rows' texts concatenate alike.
func (q *SQL) HashExpr(alias string) string {
	d := q.d
	cols := q.spec.HashColumns
	if cols == nil {
		cols = q.spec.Columns
	}
	parts := []string{d.Literal(fmt.Sprintf("%016x:", q.spec.Seed))}
	for _, c := range cols {
		ref := alias + "." + d.Quote(c)
		t := d.Text(ref)
		parts = append(parts, fmt.Sprintf("CASE WHEN %s IS NULL THEN 'N' ELSE %s END", ref,
			d.Concat(d.Literal("V"), d.Text(d.Length(t)), d.Literal(":"), t)))
	}
	return d.Hash16(d.Concat(parts...))
}

// Plan is the query that diffs the model against the snapshot. Its rows
// are ColOp, ColKey, ColHash, ColN and the model's columns: one row per
// added, changed or removed key, per row with a null key and per row of
// a duplicated key, and one row counting the unchanged keys (or, for a
// full resync, one per unchanged key).
func (q *SQL) Plan() string {
	d := q.d
	qt := d.Quote
	var cols, nulls strings.Builder
	for _, c := range q.spec.Columns {
		cols.WriteString(", m." + qt(c))
		nulls.WriteString(", NULL")
	}
	var modelCols strings.Builder
	for _, c := range q.spec.Columns {
		modelCols.WriteString(", " + qt(c))
	}
	op, key, hash, n := qt(ColOp), qt(ColKey), qt(ColHash), qt(ColN)
	var b strings.Builder
	fmt.Fprintf(&b, "WITH m AS (\n  SELECT %s AS %s, %s AS %s, q.*\n  FROM (\n%s\n  ) AS q\n),\n",
		q.KeyExpr("q"), key, q.HashExpr("q"), hash, strings.TrimRight(strings.TrimSpace(q.spec.ModelSQL), ";"))
	fmt.Fprintf(&b, "dup AS (\n  SELECT %s, count(*) AS %s FROM m WHERE %s IS NOT NULL GROUP BY %s HAVING count(*) > 1\n),\n", key, n, key, key)
	fmt.Fprintf(&b, "j AS (\n  SELECT CASE\n")
	fmt.Fprintf(&b, "      WHEN m.%s IS NULL AND s.%s IS NULL THEN '%s'\n", key, qt("key"), OpNullKey)
	fmt.Fprintf(&b, "      WHEN m.%s IS NULL THEN '%s'\n", key, OpRemoved)
	fmt.Fprintf(&b, "      WHEN dup.%s IS NOT NULL THEN '%s'\n", key, OpDuplicate)
	fmt.Fprintf(&b, "      WHEN s.%s IS NULL THEN '%s'\n", qt("key"), OpAdded)
	fmt.Fprintf(&b, "      WHEN s.%s <> m.%s THEN '%s'\n", qt("hash"), hash, OpChanged)
	fmt.Fprintf(&b, "      ELSE '%s'\n    END AS %s,\n", OpUnchanged, op)
	fmt.Fprintf(&b, "    COALESCE(m.%s, s.%s) AS %s, m.%s, COALESCE(dup.%s, 1) AS %s%s\n", key, qt("key"), key, hash, n, n, cols.String())
	fmt.Fprintf(&b, "  FROM m\n  FULL OUTER JOIN %s AS s ON s.%s = m.%s\n  LEFT JOIN dup ON dup.%s = m.%s\n)\n",
		q.snapshot, qt("key"), key, key, key)
	if q.spec.FullResync {
		fmt.Fprintf(&b, "SELECT %s, %s, %s, %s%s FROM j", op, key, hash, n, modelCols.String())
	} else {
		fmt.Fprintf(&b, "SELECT %s, %s, %s, %s%s FROM j WHERE %s <> '%s'\n", op, key, hash, n, modelCols.String(), op, OpUnchanged)
		fmt.Fprintf(&b, "UNION ALL\nSELECT '%s', NULL, NULL, count(*)%s FROM j WHERE %s = '%s'", OpUnchanged, nulls.String(), op, OpUnchanged)
	}
	b.WriteString(d.PlanSuffix())
	return b.String()
}

// Row is an acknowledged key to merge into the snapshot: its new hash,
// or Removed.
type Row struct {
	Key     string
	Hash    string
	Removed bool
}

// stageChunk is how many rows one INSERT of the staging table carries.
const stageChunk = 500

// Stage adds rows to the staging table.
func (q *SQL) Stage(rows []Row) ([]string, error) {
	var stmts []string
	qt := q.d.Quote
	head := fmt.Sprintf("INSERT INTO %s (%s, %s, %s) VALUES ", q.stage, qt("key"), qt("hash"), qt("removed"))
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
			hash := "NULL"
			if !r.Removed {
				if !isHash16(r.Hash) {
					return nil, fmt.Errorf("stage key %q: hash %q is not 16 hexadecimal digits", r.Key, r.Hash)
				}
				hash = q.d.Literal(r.Hash)
			}
			fmt.Fprintf(&b, "(%s, %s, %s)", q.d.Literal(r.Key), hash, q.d.Bool(r.Removed))
		}
		stmts = append(stmts, b.String())
	}
	return stmts, nil
}

// Merge applies the staged rows to the snapshot and empties the staging
// table.
func (q *SQL) Merge() []string {
	return append(q.d.Merge(q.snapshot, q.stage), q.d.Clear(q.stage))
}

// Commit is one commit point: empty the staging table, stage the rows
// and merge them, to be run as one transaction.
func (q *SQL) Commit(rows []Row) ([]string, error) {
	stmts, err := q.Stage(rows)
	if err != nil {
		return nil, err
	}
	stmts = append([]string{q.d.Clear(q.stage)}, stmts...)
	return append(stmts, q.d.Merge(q.snapshot, q.stage)...), nil
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

func isHash16(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
