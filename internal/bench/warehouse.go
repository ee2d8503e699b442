package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff/warehouse"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/state"
)

// whSync is the benchmark's second sync: the same model and mapping as
// "bench", with its diff in the warehouse.
const whSync = "bench_wh"

// DiffResult is one diff strategy's plan of the changed model.
type DiffResult struct {
	Diff           string  `json:"diff"`
	PlanSeconds    float64 `json:"plan_seconds"`
	PlanCPUSeconds float64 `json:"plan_cpu_seconds"`
	// RowsRead is how many rows came out of the warehouse: the whole
	// model for the local diff; for the warehouse diff, the plan query's
	// rows (the added, changed and removed keys, plus one row counting the
	// unchanged keys).
	RowsRead uint64 `json:"rows_read"`
	Added    uint64 `json:"added"`
	Changed  uint64 `json:"changed"`
	Removed  uint64 `json:"removed"`
	// PeakRSSBytes is the process's peak resident memory during the plan;
	// DuckDB runs in the process, so the warehouse's own work counts.
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
	Phases       []state.Phase `json:"phases"`
}

// WarehouseResult is what `riptide bench warehouse` reports: the local
// and the warehouse diff planning the same changed model, one after the
// other in one process.
type WarehouseResult struct {
	Rows       int     `json:"rows"`
	ChangedPct float64 `json:"changed_pct"`
	// Key is the type of the model's key column: KeyInteger or KeyText.
	Key string `json:"key"`
	// Source is the warehouse's type: duckdb or postgres.
	Source string `json:"source"`
	// MemoryLimit is the DuckDB source's memory_limit, "" for its default.
	MemoryLimit string `json:"memory_limit"`
	// ChangedRows is how many rows the change touched, counted in SQL:
	// what both plans must find.
	ChangedRows uint64     `json:"changed_rows"`
	GoMaxProcs  int        `json:"gomaxprocs"`
	Local       DiffResult `json:"local"`
	Warehouse   DiffResult `json:"warehouse"`
	// CommitKeys is how many keys each timed commit point into the
	// warehouse's snapshot carries, and CommitSeconds what each took, in
	// order (the first one finds the snapshot's index cold).
	CommitKeys    int       `json:"commit_keys"`
	CommitSeconds []float64 `json:"commit_seconds"`
	// Speedup is the local plan's seconds over the warehouse plan's.
	Speedup float64 `json:"speedup"`
	// ReadsOnlyChanged says the warehouse plan read no row beyond the
	// changed ones and its count of the unchanged.
	ReadsOnlyChanged bool `json:"reads_only_changed"`
}

// The key types of the warehouse benchmark's model: an integer key is its
// own key hash in the warehouse, a text key is hashed.
const (
	KeyInteger = "integer"
	KeyText    = "text"
)

// WarehouseOptions is one warehouse benchmark.
type WarehouseOptions struct {
	Rows       int
	ChangedPct float64
	// Key is the key column's type, KeyInteger ("" too) or KeyText.
	Key string
	// MemoryLimit is the DuckDB source's memory_limit for both plans
	// ("": the source's default).
	MemoryLimit string
	// Dir "" works in a temporary directory, removed after; another dir
	// is kept, and a later run of the same options but MemoryLimit plans
	// again what it holds (a plan commits nothing), without generating and
	// syncing anew (minutes at 100,000,000 rows).
	Dir string
	// Postgres, an admin connection URL, puts the model (and the
	// warehouse's snapshot) in a PostgreSQL database created through it
	// and dropped at the end, instead of a DuckDB file; Dir must be "".
	Postgres string
}

// Warehouse runs the diff strategies side by side: one generated model,
// a first sync for each (the local snapshot, and the warehouse's snapshot
// table in the DuckDB file), some of the rows changed, then a plan of
// each.
func Warehouse(ctx context.Context, o WarehouseOptions) (*WarehouseResult, error) {
	rows, changedPct, memoryLimit, dir := o.Rows, o.ChangedPct, o.MemoryLimit, o.Dir
	switch o.Key {
	case "":
		o.Key = KeyInteger
	case KeyInteger, KeyText:
	default:
		return nil, fmt.Errorf("key type %q: want %s or %s", o.Key, KeyInteger, KeyText)
	}
	if o.Postgres != "" && dir != "" {
		return nil, errors.New("a PostgreSQL model is generated anew each time: give no directory to keep")
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "riptide-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "bench.duckdb")
	ready := filepath.Join(dir, "ready")
	mark := fmt.Sprintf("rows %d, changed %g%%\n", rows, changedPct)
	if o.Key != KeyInteger {
		mark = fmt.Sprintf("rows %d, changed %g%%, %s key\n", rows, changedPct, o.Key)
	}
	reuse := false
	if b, err := os.ReadFile(ready); err == nil {
		if string(b) != mark {
			return nil, fmt.Errorf("%s holds a benchmark of %s, not of %s", dir, strings.TrimSpace(string(b)), strings.TrimSpace(mark))
		}
		reuse = true
	}
	var pgURL string
	switch {
	case o.Postgres != "":
		var drop func()
		var err error
		if pgURL, _, drop, err = TempPostgres(ctx, o.Postgres); err != nil {
			return nil, err
		}
		defer drop()
		if err := generatePostgres(ctx, pgURL, rows, o.Key); err != nil {
			return nil, fmt.Errorf("generate model: %w", err)
		}
	case !reuse:
		if err := generate(ctx, db, rows); err != nil {
			return nil, fmt.Errorf("generate model: %w", err)
		}
		if o.Key == KeyText {
			if err := execDuckDB(ctx, db, `ALTER TABLE customers ALTER id TYPE VARCHAR`); err != nil {
				return nil, fmt.Errorf("make the key text: %w", err)
			}
		}
	}
	pr, err := newProject(ctx, dir, &config.Destination{Name: "hook", Type: "webhook",
		Settings: connector.Settings{"url": "http://127.0.0.1:9/unused"}})
	if err != nil {
		return nil, err
	}
	defer pr.store.Close()
	if pgURL != "" {
		pr.project.Sources["warehouse"] = &config.Source{Name: "warehouse", Type: "postgres",
			Settings: builtin.Sources()["postgres"].Spec.WithDefaults(connector.Settings{"url": pgURL})}
		memoryLimit = ""
	} else if memoryLimit != "" {
		pr.project.Sources["warehouse"].Settings["memory_limit"] = memoryLimit
	}
	// Each strategy chosen outright: diff auto would move "bench" to the
	// warehouse above 5,000,000 rows.
	local := pr.project.Syncs["bench"]
	local.Diff = config.DiffLocal
	wh := *local
	wh.Name, wh.Diff, wh.DiffSchema = whSync, config.DiffWarehouse, config.DefaultDiffSchema
	pr.project.Syncs[whSync] = &wh
	if !reuse {
		if err := syncAll(ctx, pr); err != nil {
			return nil, fmt.Errorf("first sync (local): %w", err)
		}
		if err := syncWarehouse(ctx, pr, &wh, rows); err != nil {
			return nil, fmt.Errorf("first sync (warehouse): %w", err)
		}
		alter := func() error { return change(ctx, db, changedPct) }
		if pgURL != "" {
			alter = func() error { return changePostgres(ctx, pgURL, changedPct) }
		}
		if err := alter(); err != nil {
			return nil, fmt.Errorf("change rows: %w", err)
		}
		if err := os.WriteFile(ready, []byte(mark), 0o644); err != nil {
			return nil, err
		}
	}
	res := &WarehouseResult{Rows: rows, ChangedPct: changedPct, Key: o.Key, Source: pr.project.Sources["warehouse"].Type,
		MemoryLimit: memoryLimit, GoMaxProcs: runtime.GOMAXPROCS(0)}
	if res.ChangedRows, err = countChanged(ctx, pr); err != nil {
		return nil, fmt.Errorf("count changed rows: %w", err)
	}
	obs := &readCounter{}
	pr.engine.Observer = obs
	for _, m := range []struct {
		sync string
		out  *DiffResult
	}{{"bench", &res.Local}, {whSync, &res.Warehouse}} {
		if err := planOnce(ctx, pr, obs, m.sync, m.out); err != nil {
			return nil, err
		}
	}
	res.Local.Diff, res.Warehouse.Diff = config.DiffLocal, config.DiffWarehouse
	res.CommitKeys = min(commitKeys, rows)
	if res.CommitSeconds, err = commitPoints(ctx, pr, &wh, res.CommitKeys, 5); err != nil {
		return nil, fmt.Errorf("commit points: %w", err)
	}
	res.Speedup = res.Local.PlanSeconds / res.Warehouse.PlanSeconds
	w := res.Warehouse
	res.ReadsOnlyChanged = w.RowsRead <= w.Added+w.Changed+w.Removed+1
	return res, nil
}

// planOnce times one sync's plan after settling the process.
func planOnce(ctx context.Context, pr *project, obs *readCounter, sync string, out *DiffResult) error {
	quiesce()
	obs.rows = 0
	start, cpu0 := time.Now(), cpuSeconds()
	results, err := pr.engine.Plan(ctx, []string{sync}, engine.Options{})
	if err != nil {
		return fmt.Errorf("plan %s: %w", sync, err)
	}
	out.PlanSeconds = time.Since(start).Seconds()
	out.PlanCPUSeconds = cpuSeconds() - cpu0
	out.PeakRSSBytes = peakRSS()
	r := results[0]
	if r.Err != nil {
		return fmt.Errorf("plan %s: %w", sync, r.Err)
	}
	c := r.Run.Counts
	out.RowsRead, out.Added, out.Changed, out.Removed = obs.rows, c.Added, c.Changed, c.Removed
	out.Phases = r.Run.Phases
	runtime.GC()
	debug.FreeOSMemory()
	return nil
}

// readCounter keeps the row count an extraction ends with.
type readCounter struct{ rows uint64 }

func (o *readCounter) Extracting(_ string, rows uint64, done bool) {
	if done {
		o.rows = rows
	}
}

func (o *readCounter) Loading(string, uint64, uint64) {}

// syncWarehouse fills a warehouse-diff sync's snapshot table as if every
// row had been delivered: the key, key hash and row hash of each row,
// computed by the same SQL the plan query uses, inserted in one
// statement (warehouse.SQL.Fill), then the bucket table summed from it. This is
// what a first run of n rows commits, without sending them anywhere.
func syncWarehouse(ctx context.Context, pr *project, s *config.Sync, n int) error {
	wh, err := openWarehouse(ctx, pr, s)
	if err != nil {
		return err
	}
	defer wh.src.Close()
	src, ex, q, spec := wh.src, wh.ex, wh.q, wh.spec
	// DuckDB builds the snapshot table's primary key index in memory, more
	// than the source's default memory_limit holds for millions of keys;
	// the limit applies to this connection only, closed after the fill.
	var stmts []string
	if ex.Dialect() == "duckdb" {
		limit := "4GB"
		if n > 20_000_000 {
			limit = "12GB"
		}
		stmts = append(stmts, "SET memory_limit = '"+limit+"'")
	}
	stmts = append(stmts, q.Setup()...)
	if err := ex.Exec(ctx, append(stmts, q.Fill())...); err != nil {
		return fmt.Errorf("fill the snapshot table %s: %w", q.Snapshot(), err)
	}
	// Bucketed as the plan would bucket it, so that the plan does not.
	var span uint64
	if q.IntegerKey() {
		if span, err = pr.engine.WarehouseKeySpan(ctx, src, q); err != nil {
			return fmt.Errorf("read the key range of %s: %w", q.Snapshot(), err)
		}
	}
	if err := ex.Exec(ctx, q.Rebucket(q.WantBucketBits(uint64(n), span))...); err != nil {
		return fmt.Errorf("bucket the snapshot table %s: %w", q.Snapshot(), err)
	}
	return pr.store.SetSyncState(ctx, state.SyncState{Sync: s.Name, MappingHash: fmt.Sprintf("%016x", spec.Seed),
		PrimaryKey: "id", LastRows: uint64(n)})
}

// whSource is a warehouse-diff sync's source, open, and its SQL.
type whSource struct {
	src  connector.Source
	ex   connector.Executor
	spec warehouse.Spec
	q    *warehouse.SQL
}

// openWarehouse opens the source of a warehouse-diff sync and describes
// its diff with the least bucket bits; the caller closes src.
func openWarehouse(ctx context.Context, pr *project, s *config.Sync) (*whSource, error) {
	model := pr.project.Models[s.Model]
	srcCfg := pr.project.Sources[model.Source]
	src, err := builtin.Sources()[srcCfg.Type].New(ctx, srcCfg.Settings, pr.dir)
	if err != nil {
		return nil, err
	}
	wh := &whSource{src: src}
	var ok bool
	if wh.ex, ok = src.(connector.Executor); !ok {
		src.Close()
		return nil, fmt.Errorf("source %s cannot run statements", model.Source)
	}
	if wh.spec, err = pr.engine.WarehouseSpec(ctx, src, s); err == nil {
		wh.q, err = warehouse.New(warehouse.Dialects[wh.ex.Dialect()], wh.spec)
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return wh, nil
}

// commitKeys is how many keys a timed commit point carries: a large
// destination batch.
const commitKeys = 1000

// commitPoints times n commit points of keys keys each into the
// warehouse sync's snapshot table, as a run commits a delivered batch.
// Each commits keys the snapshot holds, drawn at random, with the hashes
// they have, so that the snapshot and its buckets stay as they were and
// a later run of the benchmark plans the same changes.
func commitPoints(ctx context.Context, pr *project, s *config.Sync, keys, n int) ([]float64, error) {
	wh, err := openWarehouse(ctx, pr, s)
	if err != nil {
		return nil, err
	}
	defer wh.src.Close()
	src, ex := wh.src, wh.ex
	// The statements bucket by the bits the snapshot is bucketed by.
	bits, err := queryUint(ctx, src, "SELECT bucket_bits FROM "+wh.q.Tables().Meta)
	if err != nil {
		return nil, fmt.Errorf("read the bucket bits: %w", err)
	}
	wh.spec.BucketBits = int(bits)
	q, err := warehouse.New(warehouse.Dialects[ex.Dialect()], wh.spec)
	if err != nil {
		return nil, err
	}
	var secs []float64
	for range n {
		rows, err := sampleSnapshot(ctx, src, ex.Dialect(), q.Snapshot(), keys)
		if err != nil {
			return nil, fmt.Errorf("draw keys from %s: %w", q.Snapshot(), err)
		}
		stmts, err := q.Commit(rows)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := ex.Exec(ctx, stmts...); err != nil {
			return nil, fmt.Errorf("commit %d keys to %s: %w", len(rows), q.Snapshot(), err)
		}
		secs = append(secs, time.Since(start).Seconds())
	}
	return secs, nil
}

// sampleSnapshot draws n rows of a snapshot table at random.
func sampleSnapshot(ctx context.Context, src connector.Source, dialect, table string, n int) ([]warehouse.Row, error) {
	sql := fmt.Sprintf(`SELECT key, CAST(key_hash AS VARCHAR), CAST(hash AS VARCHAR) FROM %s USING SAMPLE %d ROWS`, table, n)
	if dialect == "postgres" {
		sql = fmt.Sprintf(`SELECT key, CAST(key_hash AS text), CAST(hash AS text) FROM %s ORDER BY random() LIMIT %d`, table, n)
	}
	res, err := src.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var rows []warehouse.Row
	for res.Next() {
		v := res.Values()
		key, _ := v[0].(string)
		kh, err := parseHash(fmt.Sprint(v[1]))
		if err != nil {
			return nil, fmt.Errorf("key hash of %q: %w", key, err)
		}
		h, err := parseHash(fmt.Sprint(v[2]))
		if err != nil {
			return nil, fmt.Errorf("hash of %q: %w", key, err)
		}
		rows = append(rows, warehouse.Row{Key: key, KeyHash: kh, Hash: h})
	}
	return rows, res.Err()
}

// parseHash reads a 64-bit hash as a warehouse writes it: unsigned
// (DuckDB's UBIGINT) or signed (PostgreSQL's bigint).
func parseHash(s string) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, 64)
		return uint64(v), err
	}
	return strconv.ParseUint(s, 10, 64)
}

// generatePostgres writes the benchmark's model of n rows into the
// PostgreSQL database at url, as generate does into a DuckDB file.
func generatePostgres(ctx context.Context, url string, n int, key string) error {
	stmts := []string{fmt.Sprintf(`CREATE TABLE customers AS
		SELECT
			i AS id,
			'user' || i || '@example.com' AS email,
			(ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara'])[1 + i %% 5] AS first_name,
			'Last' || (i %% 1000) AS last_name,
			(ARRAY['free', 'pro', 'team'])[1 + i %% 3] AS plan,
			CAST((i %% 100000) / 100.0 AS numeric(12, 2)) AS amount,
			TIMESTAMPTZ '2024-01-01 00:00:00+00' + make_interval(secs => i) AS updated_at,
			'{"score":' || (i %% 97) || ',"tier":"t' || (i %% 4) || '"}' AS attrs
		FROM generate_series(1::bigint, %d) AS t(i)`, n)}
	if key == KeyText {
		stmts = append(stmts, `ALTER TABLE customers ALTER id TYPE text`)
	}
	return execPostgres(ctx, url, append(stmts, `ANALYZE customers`)...)
}

// changePostgres alters pct percent of the rows, spread over the table.
func changePostgres(ctx context.Context, url string, pct float64) error {
	return execPostgres(ctx, url,
		fmt.Sprintf(`UPDATE customers SET plan = plan || '-changed' WHERE abs(hashtext(CAST(id AS text)) %% 10000) < %d`, int(pct*100)),
		`VACUUM ANALYZE customers`)
}

func execPostgres(ctx context.Context, url string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// queryUint reads a query's one unsigned integer.
func queryUint(ctx context.Context, src connector.Source, sql string) (uint64, error) {
	res, err := src.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	defer res.Close()
	if !res.Next() {
		return 0, fmt.Errorf("no row: %w", res.Err())
	}
	return strconv.ParseUint(fmt.Sprint(res.Values()[0]), 10, 64)
}

// countChanged counts the rows change altered.
func countChanged(ctx context.Context, pr *project) (uint64, error) {
	srcCfg := pr.project.Sources["warehouse"]
	src, err := builtin.Sources()[srcCfg.Type].New(ctx, srcCfg.Settings, pr.dir)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	rows, err := src.Query(ctx, `SELECT count(*) FROM customers WHERE plan LIKE '%-changed'`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, fmt.Errorf("no count: %w", rows.Err())
	}
	n, ok := rows.Values()[0].(int64)
	if !ok {
		return 0, fmt.Errorf("count is %T, not int64", rows.Values()[0])
	}
	return uint64(n), rows.Err()
}
