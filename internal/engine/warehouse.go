package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/diff/warehouse"
	"github.com/riptide-data/riptide/internal/transform"
	"github.com/riptide-data/riptide/internal/value"
)

// whPlan is a sync's plan computed by the warehouse (diff: warehouse):
// the plan query's rows — only the added, changed and removed keys and
// the rejected rows — kept in a local file so that the guards judge the
// plan whole before anything is sent, and the source that holds the
// snapshot table, open until the run ends for the commits.
type whPlan struct {
	src    connector.Source
	ex     connector.Executor
	sql    *warehouse.SQL
	counts diff.Counts
	// base is how many keys the snapshot table held.
	base uint64
	// rows is how many rows the model has; read the rows read out.
	rows, read uint64
	rej        *rejections
	path       string
}

// committer makes acknowledged records part of a sync's snapshot: the
// local snapshot's delta log (diff.DeltaWriter) or the warehouse's
// snapshot table.
type committer interface {
	Commit(set, del []diff.Entry) error
	// Confirm makes what a deferred destination acknowledged durable.
	Confirm() error
	Close() error
}

func (sr *syncRun) counts() diff.Counts {
	if sr.wh != nil {
		return sr.wh.counts
	}
	return sr.plan.Counts
}

func (sr *syncRun) planned() bool { return sr.plan != nil || sr.wh != nil }

func (sr *syncRun) eachOp(ctx context.Context, fn func(diff.Op) error) error {
	if sr.wh != nil {
		return sr.wh.each(ctx, fn)
	}
	return sr.plan.Each(ctx, fn)
}

// snapshotLen is how many keys the sync's snapshot holds.
func (sr *syncRun) snapshotLen() uint64 {
	if sr.wh != nil {
		return sr.wh.base
	}
	return sr.snap.Len()
}

// delta opens what the loader commits acknowledged records to. tag marks
// a deferred destination's commits, durable only once confirmed.
func (sr *syncRun) delta(ctx context.Context, tag string) (committer, error) {
	if sr.wh != nil {
		// Acknowledged records are committed even when the run is being
		// canceled: they were delivered.
		return &whCommitter{ctx: context.WithoutCancel(ctx), wh: sr.wh, deferred: tag != ""}, nil
	}
	return sr.snap.Delta(tag)
}

func (sr *syncRun) closePlan() {
	if sr.plan != nil {
		sr.plan.Close()
	}
	if sr.wh != nil {
		sr.wh.close()
	}
}

// modelSource opens a model's source.
func (e *Engine) modelSource(ctx context.Context, model *config.Model) (connector.Source, connector.Spec, error) {
	srcCfg := e.Project.Sources[model.Source]
	plugin, ok := e.Sources[srcCfg.Type]
	if !ok {
		return nil, connector.Spec{}, fmt.Errorf("source %s: unknown type %q", srcCfg.Name, srcCfg.Type)
	}
	src, err := plugin.New(ctx, srcCfg.Settings, e.Project.Dir)
	if err != nil {
		return nil, plugin.Spec, fmt.Errorf("source %s: %s", srcCfg.Name, e.Redactor.Error(err))
	}
	return src, plugin.Spec, nil
}

// usesWarehouseDiff says whether a sync's diff runs in the warehouse
// (config.Sync.UseWarehouseDiff).
func (e *Engine) usesWarehouseDiff(s *config.Sync, lastRows uint64) bool {
	m := e.Project.Models[s.Model]
	if m == nil {
		return false
	}
	plugin, ok := e.Sources[e.Project.Sources[m.Source].Type]
	return ok && s.UseWarehouseDiff(plugin.Spec.WarehouseDiff, plugin.Spec.WarehouseDiffAuto, lastRows)
}

// planWarehouse plans, in the warehouse, every sync of runs whose diff
// runs there; the others are left to the local diff. A sync whose plan
// fails has its error set.
func (e *Engine) planWarehouse(ctx context.Context, model *config.Model, runs []*syncRun, opts Options, send bool) {
	for _, sr := range runs {
		if sr.failed() || !e.usesWarehouseDiff(sr.sync, sr.prev.LastRows) {
			continue
		}
		sr.wh = &whPlan{rej: &rejections{}}
		if send && sr.sync.WriteBack != nil {
			sr.wh.rej.spool, sr.wh.rej.spoolErr = newOutcomeSpool(e.tmpDir())
		}
		if err := e.planOne(ctx, model, sr, opts, send); err != nil {
			sr.result.Err = fmt.Errorf("sync %s: warehouse diff: %w", sr.sync.Name, err)
		}
	}
}

func (e *Engine) planOne(ctx context.Context, model *config.Model, sr *syncRun, opts Options, send bool) error {
	start := time.Now()
	wh := sr.wh
	src, _, err := e.modelSource(ctx, model)
	if err != nil {
		return err
	}
	wh.src = src
	ex, ok := src.(connector.Executor)
	if !ok {
		return fmt.Errorf("source %s cannot run statements; use diff: local", model.Source)
	}
	wh.ex = ex
	dialect, ok := warehouse.Dialects[ex.Dialect()]
	if !ok {
		return fmt.Errorf("source %s speaks %q, a dialect Riptide cannot write; use diff: local", model.Source, ex.Dialect())
	}
	var spec warehouse.Spec
	if spec, sr.mapper, err = e.warehouseSpec(ctx, src, model, sr.sync); err != nil {
		return err
	}
	spec.FullResync = opts.FullResync
	if wh.sql, err = warehouse.New(dialect, spec); err != nil {
		return fmt.Errorf("%s: %w", model.Pos, err)
	}
	// The tables are created for a plan too: the plan query joins with
	// the snapshot table, empty until the first run commits.
	if err := ex.Exec(ctx, wh.sql.Setup()...); err != nil {
		return fmt.Errorf("create the snapshot table %s: %s", wh.sql.Snapshot(), e.Redactor.Error(err))
	}
	if spec.BucketBits, wh.base, err = e.checkSnapshot(ctx, src, ex, wh.sql, sr.sync.Name); err != nil {
		return err
	}
	if wh.sql, err = warehouse.New(dialect, spec); err != nil {
		return fmt.Errorf("%s: %w", model.Pos, err)
	}
	if err := e.readPlan(ctx, model, sr, send); err != nil {
		return err
	}
	e.Observer.Extracting(model.Name, wh.read, true)
	sr.phase("diff", start)
	e.Logger.Info("warehouse diff", "sync", sr.sync.Name, "rows", wh.rows, "read", wh.read,
		"added", wh.counts.Added, "changed", wh.counts.Changed, "removed", wh.counts.Removed)
	return nil
}

// WarehouseSpec describes a sync's warehouse diff from its model's
// columns as the source reports them (the bench fills a snapshot with it).
func (e *Engine) WarehouseSpec(ctx context.Context, src connector.Source, sync *config.Sync) (warehouse.Spec, error) {
	spec, _, err := e.warehouseSpec(ctx, src, e.Project.Models[sync.Model], sync)
	return spec, err
}

// warehouseSpec reads the model's columns and describes the sync's diff:
// the columns its mapping hashes, the mapping's seed, the key's type.
func (e *Engine) warehouseSpec(ctx context.Context, src connector.Source, model *config.Model, sync *config.Sync) (warehouse.Spec, *transform.Mapper, error) {
	cols, err := e.modelColumns(ctx, src, model)
	if err != nil {
		return warehouse.Spec{}, nil, err
	}
	names := columnNames(cols)
	mapper, err := transform.New(sync, names)
	if err != nil {
		return warehouse.Spec{}, nil, err
	}
	var hashed []string
	if idx := mapper.HashColumns(); idx != nil {
		hashed = []string{}
		for _, i := range idx {
			hashed = append(hashed, names[i])
		}
	}
	spec := warehouse.Spec{
		Schema: sync.DiffSchema, Sync: sync.Name, ModelSQL: model.SQL, Columns: names,
		PrimaryKey: model.PrimaryKey, HashColumns: hashed, Seed: mapper.Fingerprint(),
	}
	if len(model.PrimaryKey) == 1 {
		spec.KeyType = cols[slices.Index(names, model.PrimaryKey[0])].DatabaseType
	}
	return spec, mapper, nil
}

// checkSnapshot makes sure the sync's snapshot tables can be diffed
// against: written in this layout, with the hash functions the plan
// uses. A new (empty) snapshot is set up for them; one written by an
// older Riptide or with another hash function is refused, since its
// hashes cannot be compared with the plan's: every row would read as
// changed (a flood of sends) or, were a function to change for some
// values only, changes could be missed. It returns the bucket bits to
// plan with, having bucketed the snapshot anew when it grew or shrank
// past them, and how many keys the snapshot holds.
func (e *Engine) checkSnapshot(ctx context.Context, src connector.Source, ex connector.Executor, q *warehouse.SQL, sync string) (int, uint64, error) {
	base, err := e.countRows(ctx, src, "SELECT count(*) FROM "+q.Snapshot())
	if err != nil {
		return 0, 0, fmt.Errorf("count the snapshot %s: %w", q.Snapshot(), err)
	}
	want, err := e.queryText(ctx, src, q.HashFunction())
	if err != nil {
		return 0, 0, fmt.Errorf("name the warehouse's hash function: %w", err)
	}
	rows, err := src.Query(ctx, q.ReadMeta())
	if err != nil {
		return 0, 0, fmt.Errorf("read the snapshot's meta table: %s", e.Redactor.Error(err))
	}
	var (
		found        bool
		format, bits uint64
		fn           string
	)
	for rows.Next() {
		v := rows.Values()
		found = true
		fn, _ = v[1].(string)
		if format, err = count(v[0]); err == nil {
			bits, err = count(v[2])
		}
	}
	if rerr := rows.Err(); rerr != nil {
		err = errors.New(e.Redactor.Error(rerr))
	}
	rows.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("read the snapshot's meta table: %w", err)
	}
	switch {
	case !found && base > 0:
		return 0, 0, fmt.Errorf("the snapshot table %s was written by an older Riptide (MD5 text hashes, no bucket table), which this one cannot compare with; "+
			"run `riptide reset %s` to rebuild it (the next run sends every row again)", q.Snapshot(), sync)
	case !found:
		// A new snapshot, an empty one of the older layout, or one `riptide
		// reset` emptied: made anew.
		if err := ex.Exec(ctx, append(q.Reset(), q.Rebucket(warehouse.MinBucketBits)...)...); err != nil {
			return 0, 0, fmt.Errorf("set up the snapshot tables of %s: %s", q.Snapshot(), e.Redactor.Error(err))
		}
		return warehouse.MinBucketBits, 0, nil
	case format != warehouse.Format:
		return 0, 0, fmt.Errorf("the snapshot table %s has layout %d, this Riptide writes layout %d; run `riptide reset %s` to rebuild it (the next run sends every row again)",
			q.Snapshot(), format, warehouse.Format, sync)
	case fn != want:
		return 0, 0, fmt.Errorf("the snapshot table %s holds hashes of %q, but the warehouse now hashes with %q (a new version?), and the two cannot be compared; "+
			"run `riptide reset %s` to rebuild it (the next run sends every row again)", q.Snapshot(), fn, want, sync)
	}
	var span uint64
	if q.IntegerKey() && base > 0 {
		if span, err = e.keySpan(ctx, src, q, int(bits)); err != nil {
			return 0, 0, fmt.Errorf("read the key range of the snapshot %s: %w", q.Snapshot(), err)
		}
	}
	b := int(bits)
	if want := q.WantBucketBits(base, span); warehouse.RebucketNeeded(b, want) {
		b = want
		if err := ex.Exec(ctx, q.Rebucket(b)...); err != nil {
			return 0, 0, fmt.Errorf("bucket the snapshot %s anew: %s", q.Snapshot(), e.Redactor.Error(err))
		}
		e.Logger.Info("warehouse diff: snapshot bucketed anew", "sync", sync, "keys", base, "bucket_bits", b)
	}
	return b, base, nil
}

// keySpan is how many values a warehouse snapshot's integer keys span,
// bucketed by bits: from its bucket table when it has buckets enough,
// else from its keys (WarehouseKeySpan).
func (e *Engine) keySpan(ctx context.Context, src connector.Source, q *warehouse.SQL, bits int) (uint64, error) {
	res, err := src.Query(ctx, q.BucketRange())
	if err != nil {
		return 0, errors.New(e.Redactor.Error(err))
	}
	var lo, hi int64
	var perr error
	if res.Next() {
		v := res.Values()
		s0, _ := v[0].(string)
		s1, _ := v[1].(string)
		if lo, perr = strconv.ParseInt(s0, 10, 64); perr == nil {
			hi, perr = strconv.ParseInt(s1, 10, 64)
		}
	}
	err = res.Err()
	res.Close()
	if err != nil {
		return 0, errors.New(e.Redactor.Error(err))
	}
	if span, ok := warehouse.BucketSpan(lo, hi, bits); ok && perr == nil {
		return span, nil
	}
	return e.WarehouseKeySpan(ctx, src, q)
}

// WarehouseKeySpan reads how many values a warehouse snapshot's integer
// keys span: the largest key hash minus the smallest.
func (e *Engine) WarehouseKeySpan(ctx context.Context, src connector.Source, q *warehouse.SQL) (uint64, error) {
	res, err := src.Query(ctx, q.KeyRange())
	if err != nil {
		return 0, errors.New(e.Redactor.Error(err))
	}
	defer res.Close()
	var span uint64
	if res.Next() {
		v := res.Values()
		lo, err := parseHash(v[0])
		if err != nil {
			return 0, err
		}
		hi, err := parseHash(v[1])
		if err != nil {
			return 0, err
		}
		// Signed or not, hi - lo in two's complement is the span.
		span = hi - lo
	}
	return span, res.Err()
}

// queryText reads a query's one text value.
func (e *Engine) queryText(ctx context.Context, src connector.Source, sql string) (string, error) {
	rows, err := src.Query(ctx, sql)
	if err != nil {
		return "", errors.New(e.Redactor.Error(err))
	}
	defer rows.Close()
	var s string
	if rows.Next() {
		v, ok := rows.Values()[0].(string)
		if !ok {
			return "", fmt.Errorf("%T, not a text", rows.Values()[0])
		}
		s = v
	}
	return s, rows.Err()
}

// modelColumns reads a model's result columns without reading a row.
func (e *Engine) modelColumns(ctx context.Context, src connector.Source, model *config.Model) ([]connector.Column, error) {
	rows, err := src.Query(ctx, "SELECT * FROM (\n"+trimSQL(model.SQL)+"\n) AS q LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("model %s: %s", model.Name, e.Redactor.Error(err))
	}
	defer rows.Close()
	cols := slices.Clone(rows.Columns())
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("model %s: %s", model.Name, e.Redactor.Error(err))
	}
	names := columnNames(cols)
	for _, k := range model.PrimaryKey {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("%s: model %s: primary key column %q is not in the query's result (columns: %s)",
				model.Pos, model.Name, k, joinNames(names))
		}
	}
	return cols, nil
}

func columnNames(cols []connector.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

func (e *Engine) countRows(ctx context.Context, src connector.Source, sql string) (uint64, error) {
	rows, err := src.Query(ctx, sql)
	if err != nil {
		return 0, errors.New(e.Redactor.Error(err))
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		n, err = count(rows.Values()[0])
		if err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// readPlan runs the plan query and writes its rows into the plan file.
func (e *Engine) readPlan(ctx context.Context, model *config.Model, sr *syncRun, send bool) error {
	wh := sr.wh
	f, err := os.CreateTemp(e.tmpDir(), diff.TempPrefix()+"wh-*")
	if err != nil {
		if err := os.MkdirAll(e.tmpDir(), 0o755); err != nil {
			return fmt.Errorf("create plan file: %w", err)
		}
		if f, err = os.CreateTemp(e.tmpDir(), diff.TempPrefix()+"wh-*"); err != nil {
			return fmt.Errorf("create plan file: %w", err)
		}
	}
	wh.path = f.Name()
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)

	rows, err := wh.src.Query(ctx, wh.sql.Plan())
	if err != nil {
		return fmt.Errorf("model %s: plan query: %s", model.Name, e.Redactor.Error(err))
	}
	defer rows.Close()
	ncols := len(rows.Columns()) - warehouse.MetaColumns
	var (
		buf, payload []byte
		offs         = make([]int, ncols+1)
		keyed        uint64 // the model's rows with a key (OpKeyed)
		sawKeyed     bool
		dupRows      uint64
	)
	for rows.Next() {
		wh.read++
		if wh.read%16384 == 0 {
			e.Observer.Extracting(model.Name, wh.read, false)
		}
		vals := rows.Values()
		op, _ := vals[0].(string)
		key, _ := vals[1].(string)
		n, err := count(vals[4])
		if err != nil {
			return fmt.Errorf("model %s: plan query: %w", model.Name, err)
		}
		row := vals[warehouse.MetaColumns:]
		var kind diff.Kind
		switch op {
		case warehouse.OpUnchanged:
			wh.counts.Unchanged++
			kind = diff.Unchanged
		case warehouse.OpAdded:
			wh.counts.Added++
			kind = diff.Added
		case warehouse.OpChanged:
			wh.counts.Changed++
			kind = diff.Changed
		case warehouse.OpRemoved:
			wh.counts.Removed++
			kind = diff.Removed
		case warehouse.OpKeyed:
			keyed, sawKeyed = n, true
			continue
		case warehouse.OpDuplicate:
			dupRows++
			wh.rows++
			wh.rej.add(key, fmt.Sprintf("duplicate primary key: %d rows share it", n))
			continue
		case warehouse.OpNullKey:
			wh.rows++
			wh.rej.add("", fmt.Sprintf("primary key column %q is null", nullColumn(model, rows.Columns(), row)))
			continue
		default:
			return fmt.Errorf("model %s: plan query: unknown op %q", model.Name, op)
		}
		var rowHash, keyHash uint64
		if kind != diff.Removed {
			wh.rows++
			if rowHash, err = parseHash(vals[2]); err != nil {
				return fmt.Errorf("model %s: plan query: row hash of key %q: %w", model.Name, key, err)
			}
			if keyHash, err = parseHash(vals[3]); err != nil {
				return fmt.Errorf("model %s: plan query: key hash of key %q: %w", model.Name, key, err)
			}
		}
		payload = payload[:0]
		if kind != diff.Removed && send {
			payload = value.AppendRow(payload, row, offs)
		}
		buf = append(buf[:0], byte(kind))
		buf = binary.AppendUvarint(buf, uint64(len(key)))
		buf = append(buf, key...)
		buf = binary.LittleEndian.AppendUint64(buf, rowHash)
		buf = binary.LittleEndian.AppendUint64(buf, keyHash)
		buf = binary.AppendUvarint(buf, uint64(len(payload)))
		buf = append(buf, payload...)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write plan file: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("model %s: plan query: %s", model.Name, e.Redactor.Error(err))
	}
	if sawKeyed {
		// The keyed rows the plan did not return are the unchanged ones.
		returned := wh.counts.Added + wh.counts.Changed + wh.counts.Unchanged + dupRows
		if keyed < returned {
			return fmt.Errorf("model %s: plan query: %d rows with a key, but %d of them returned", model.Name, keyed, returned)
		}
		wh.counts.Unchanged += keyed - returned
		wh.rows += keyed - returned
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	return f.Sync()
}

// nullColumn names the first primary key column that is null in a row.
func nullColumn(model *config.Model, cols []connector.Column, row []any) string {
	for _, k := range model.PrimaryKey {
		for i, c := range cols[warehouse.MetaColumns:] {
			if c.Name == k && row[i] == nil {
				return k
			}
		}
	}
	return model.PrimaryKey[0]
}

// each reads the plan file back as ops.
func (wh *whPlan) each(ctx context.Context, fn func(diff.Op) error) error {
	f, err := os.Open(wh.path)
	if err != nil {
		return fmt.Errorf("open plan: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var key, payload []byte
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		kind, err := r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		if key, err = readChunk(r, key); err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		var h [16]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		if payload, err = readChunk(r, payload); err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		// The entry carries the warehouse's own key hash, not the local
		// diff's: the commit stages it, so that the merge knows the key's
		// bucket.
		op := diff.Op{Kind: diff.Kind(kind), Payload: payload, Entry: diff.Entry{
			KeyHash: binary.LittleEndian.Uint64(h[8:]), RowHash: binary.LittleEndian.Uint64(h[:8]), Key: string(key)}}
		if err := fn(op); err != nil {
			return err
		}
	}
}

func readChunk(r *bufio.Reader, buf []byte) ([]byte, error) {
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	buf = slices.Grow(buf[:0], int(l))[:l]
	_, err = io.ReadFull(r, buf)
	return buf, err
}

func (wh *whPlan) close() {
	if wh.path != "" {
		os.Remove(wh.path)
	}
	if wh.src != nil {
		wh.src.Close()
	}
	wh.rej.spool.close()
}

// whCommitter merges acknowledged keys into the warehouse's snapshot
// table: one transaction per commit point (a delivered batch), staging
// the keys then merging them. A crash before the transaction commits
// leaves the keys as they were, so they are sent again: at least once.
// For a deferred destination, batches are only staged, and merged by
// Confirm once the destination made them durable.
type whCommitter struct {
	ctx      context.Context
	wh       *whPlan
	deferred bool
	rows     []warehouse.Row
}

func (c *whCommitter) Commit(set, del []diff.Entry) error {
	if len(set)+len(del) == 0 {
		return nil
	}
	c.rows = c.rows[:0]
	for _, e := range set {
		c.rows = append(c.rows, warehouse.Row{Key: e.Key, KeyHash: e.KeyHash, Hash: e.RowHash})
	}
	for _, e := range del {
		c.rows = append(c.rows, warehouse.Row{Key: e.Key, Removed: true})
	}
	var stmts []string
	var err error
	if c.deferred {
		stmts, err = c.wh.sql.Stage(c.rows)
	} else {
		stmts, err = c.wh.sql.Commit(c.rows)
	}
	if err != nil {
		return err
	}
	if err := c.wh.ex.Exec(c.ctx, stmts...); err != nil {
		return fmt.Errorf("commit %d keys to the snapshot table %s: %w", len(c.rows), c.wh.sql.Snapshot(), err)
	}
	return nil
}

func (c *whCommitter) Confirm() error {
	if !c.deferred {
		return nil
	}
	if err := c.wh.ex.Exec(c.ctx, c.wh.sql.Merge()...); err != nil {
		return fmt.Errorf("merge staged keys into the snapshot table %s: %w", c.wh.sql.Snapshot(), err)
	}
	return nil
}

func (c *whCommitter) Close() error { return nil }

// resetWarehouse empties the warehouse snapshot of a sync whose diff runs
// there.
func (e *Engine) resetWarehouse(ctx context.Context, s *config.Sync, lastRows uint64) error {
	if !e.usesWarehouseDiff(s, lastRows) {
		return nil
	}
	model := e.Project.Models[s.Model]
	src, _, err := e.modelSource(ctx, model)
	if err != nil {
		return err
	}
	defer src.Close()
	ex, ok := src.(connector.Executor)
	if !ok {
		return fmt.Errorf("source %s cannot run statements", model.Source)
	}
	dialect, ok := warehouse.Dialects[ex.Dialect()]
	if !ok {
		return fmt.Errorf("source %s speaks %q, a dialect Riptide cannot write", model.Source, ex.Dialect())
	}
	// Only the table names matter here.
	q, err := warehouse.New(dialect, warehouse.Spec{Schema: s.DiffSchema, Sync: s.Name, ModelSQL: model.SQL,
		Columns: model.PrimaryKey, PrimaryKey: model.PrimaryKey})
	if err != nil {
		return err
	}
	if err := ex.Exec(ctx, q.Reset()...); err != nil {
		return fmt.Errorf("empty the snapshot table %s: %s", q.Snapshot(), e.Redactor.Error(err))
	}
	return nil
}

// parseHash reads a plan's hash: the decimal text of a 64-bit integer,
// signed or not as the warehouse stores it.
func parseHash(v any) (uint64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%v (%T), not a text", v, v)
	}
	if strings.HasPrefix(s, "-") {
		n, err := strconv.ParseInt(s, 10, 64)
		return uint64(n), err
	}
	return strconv.ParseUint(s, 10, 64)
}

// count reads a count column's value.
func count(v any) (uint64, error) {
	switch x := v.(type) {
	case int64:
		if x >= 0 {
			return uint64(x), nil
		}
	case value.Decimal:
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n, nil
		}
	case float64:
		if x >= 0 {
			return uint64(x), nil
		}
	}
	return 0, fmt.Errorf("a count of %v (%T), not a non-negative integer", v, v)
}

func trimSQL(sql string) string {
	for len(sql) > 0 {
		switch sql[len(sql)-1] {
		case ';', ' ', '\n', '\t', '\r':
			sql = sql[:len(sql)-1]
			continue
		}
		break
	}
	return sql
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
