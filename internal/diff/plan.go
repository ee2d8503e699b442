package diff

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Kind is how a key differs from the snapshot.
type Kind byte

const (
	Added Kind = iota + 1
	Changed
	Removed
	// Unchanged rows are written to a plan only for a full resync.
	Unchanged
)

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	case Unchanged:
		return "unchanged"
	}
	return "unknown"
}

// Target is one sync to diff a model's rows for.
type Target struct {
	Name     string
	Snapshot *Snapshot
	// Seed is folded into every row hash: a fingerprint of the sync's
	// mapping, so that changing the mapping re-sends the rows it affects.
	Seed uint64
	// Columns are the indices of the columns the sync's hash covers, in
	// order; nil means every column.
	Columns []int
	// FullResync writes unchanged rows into the plan too.
	FullResync bool
}

// Counts are a plan's figures.
type Counts struct {
	Added, Changed, Removed, Unchanged uint64
}

// Op is one entry of a plan.
type Op struct {
	Kind  Kind
	Entry Entry
	// Payload is the row's encoded columns (the Planner's input), empty
	// for removed keys and when the planner keeps no payloads.
	Payload []byte
}

// Plan is the diff of a model against one target's snapshot, kept in a
// temporary file so that the guards can judge it whole before anything is
// sent.
type Plan struct {
	Target *Target
	Counts Counts
	path   string
	w      *bufio.Writer
	f      *os.File
	buf    []byte
}

// Each calls fn for every op in the plan, in key-hash order. The op's
// payload is valid only during the call.
func (pl *Plan) Each(ctx context.Context, fn func(Op) error) error {
	f, err := os.Open(pl.path)
	if err != nil {
		return fmt.Errorf("open plan: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var scratch, payload []byte
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
		var e Entry
		e, scratch, err = readEntry(r, scratch)
		if err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		payload = slices.Grow(payload[:0], int(l))[:l]
		if _, err := io.ReadFull(r, payload); err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		if err := fn(Op{Kind: Kind(kind), Entry: e, Payload: payload}); err != nil {
			return err
		}
	}
}

// Close removes the plan's file.
func (pl *Plan) Close() error {
	if pl.f != nil {
		pl.f.Close()
	}
	return os.Remove(pl.path)
}

func (pl *Plan) write(k Kind, e Entry, payload []byte) error {
	pl.buf = append(pl.buf[:0], byte(k))
	pl.buf = appendEntry(pl.buf, e)
	pl.buf = binary.AppendUvarint(pl.buf, uint64(len(payload)))
	if _, err := pl.w.Write(pl.buf); err != nil {
		return err
	}
	_, err := pl.w.Write(payload)
	return err
}

// TempPrefix starts the names of this process's temporary files and
// directories, so that a later process can tell the leftovers of a dead
// one (see TempOwnerAlive).
func TempPrefix() string { return fmt.Sprintf("plan-%d-", os.Getpid()) }

// TempOwnerAlive reports whether the process that made a temporary file
// (named with TempPrefix) is still running; false for names it did not
// make.
func TempOwnerAlive(name string) bool {
	var pid int
	if _, err := fmt.Sscanf(name, "plan-%d-", &pid); err != nil || pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// Rejection is a row refused before diffing.
type Rejection struct {
	Key    string
	Reason string
}

// PlannerOptions tune a Planner.
type PlannerOptions struct {
	// EstimatedRows sizes the partitions (the snapshot's size or the last
	// run's row count); a low estimate only costs memory per partition.
	EstimatedRows uint64
	// KeepPayload keeps each row's encoded columns for delivery; a plan
	// that only counts leaves it off.
	KeepPayload bool
	// MaxPartitionBytes is the most of one partition loaded at once (0:
	// 32 MiB); larger partitions are split and loaded in parts.
	MaxPartitionBytes int64
}

// Planner diffs one model's rows against the snapshots of the syncs it
// feeds. Rows are added one at a time during extraction and spilled;
// Finish diffs them partition by partition.
type Planner struct {
	tmpDir  string // where plans go
	dir     string // the planner's own spill directory
	targets []*Target
	opts    PlannerOptions
	spill   *spill
	rec     []byte
	scratch []byte
	rows    uint64
}

// NewPlanner starts a plan for targets, spilling under tmpDir.
func NewPlanner(tmpDir string, targets []*Target, opts PlannerOptions) (*Planner, error) {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmpDir, TempPrefix())
	if err != nil {
		return nil, err
	}
	est := opts.EstimatedRows
	for _, t := range targets {
		// The diff reads a snapshot's base only: fold in what earlier
		// deliveries acknowledged.
		if err := t.Snapshot.Compact(); err != nil {
			return nil, err
		}
		est = max(est, t.Snapshot.Len())
	}
	// Without an estimate (a first run) assume a sizeable model: too many
	// partitions cost time (more, smaller writes), too few cost memory.
	bits := partitionBits(est)
	if est == 0 {
		bits = 6
	}
	sp, err := newSpill(filepath.Join(dir, "rows"), bits)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Planner{tmpDir: tmpDir, dir: dir, targets: targets, opts: opts, spill: sp}, nil
}

// Rows is the number of rows added so far.
func (p *Planner) Rows() uint64 { return p.rows }

// Add records one row: its key text and its encoded columns, column i
// being payload[offs[i]:offs[i+1]].
func (p *Planner) Add(key string, payload []byte, offs []int) error {
	p.rows++
	kh := KeyHash(key)
	rec := binary.LittleEndian.AppendUint64(p.rec[:0], kh)
	for _, t := range p.targets {
		rec = binary.LittleEndian.AppendUint64(rec, p.rowHash(t, payload, offs))
	}
	rec = binary.AppendUvarint(rec, uint64(len(key)))
	rec = append(rec, key...)
	if p.opts.KeepPayload {
		rec = append(rec, payload...)
	}
	p.rec = rec
	return p.spill.add(kh, rec)
}

func (p *Planner) rowHash(t *Target, payload []byte, offs []int) uint64 {
	if t.Columns == nil {
		return xxh3.HashSeed(payload, t.Seed)
	}
	b := p.scratch[:0]
	for _, c := range t.Columns {
		b = append(b, payload[offs[c]:offs[c+1]]...)
	}
	p.scratch = b
	return xxh3.HashSeed(b, t.Seed)
}

// RowHash is the hash a target's snapshot keeps for a row.
func RowHash(t *Target, payload []byte, offs []int) uint64 {
	return (&Planner{}).rowHash(t, payload, offs)
}

// inRow is one spilled row: offsets into its partition's arena (24
// bytes, so that a partition of tens of thousands of rows stays small).
// end is 0 for a key rejected as duplicated.
type inRow struct {
	keyHash uint64
	start   uint32 // the record
	keyOff  uint32 // its key
	keyLen  uint32
	end     uint32
}

func (r *inRow) key(arena []byte) string {
	if r.keyLen == 0 {
		return ""
	}
	// The arena outlives every use of the key within the partition.
	return unsafe.String(&arena[r.keyOff], int(r.keyLen))
}

// Finish diffs the spilled rows against every target's snapshot and
// returns one plan per target, in the order of the targets. Rows sharing a
// key are all rejected, reported through reject, and never planned; a key
// rejected this way is not "removed" either.
func (p *Planner) Finish(ctx context.Context, reject func(Rejection) error) ([]*Plan, error) {
	defer p.spill.close()
	if err := p.spill.finish(); err != nil {
		return nil, err
	}
	plans := make([]*Plan, len(p.targets))
	readers := make([]*baseReader, len(p.targets))
	cleanup := func() {
		for _, r := range readers {
			if r != nil {
				r.close()
			}
		}
	}
	defer cleanup()
	for i, t := range p.targets {
		f, err := os.CreateTemp(p.tmpDir, TempPrefix()+"*")
		if err != nil {
			p.closePlans(plans)
			return nil, err
		}
		plans[i] = &Plan{Target: t, path: f.Name(), f: f, w: bufio.NewWriterSize(f, 256<<10)}
		if readers[i], err = t.Snapshot.reader(); err != nil {
			p.closePlans(plans)
			return nil, fmt.Errorf("open snapshot of %s: %w", t.Name, err)
		}
	}
	// Partitions are loaded and sorted on one goroutine while the previous
	// one is merged on this one: the two halves of the work take about
	// as long, and there are two cores.
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *partition)
	free := make(chan *partition, 2)
	for range 2 {
		free <- &partition{}
	}
	go p.loadPartitions(loadCtx, ready, free)
	fail := func(err error) ([]*Plan, error) {
		cancel()
		for range ready { // let the loader finish before files go away
		}
		p.closePlans(plans)
		return nil, err
	}
	for part := range ready {
		if part.err != nil {
			return fail(part.err)
		}
		for _, r := range part.rejected {
			if err := reject(r); err != nil {
				return fail(err)
			}
		}
		for ti := range p.targets {
			if err := p.mergePartition(part.last, part.rows, part.arena, ti, readers[ti], plans[ti]); err != nil {
				return fail(fmt.Errorf("diff %s: %w", p.targets[ti].Name, err))
			}
		}
		free <- part
	}
	if err := ctx.Err(); err != nil {
		p.closePlans(plans)
		return nil, err
	}
	for _, pl := range plans {
		if err := pl.w.Flush(); err != nil {
			p.closePlans(plans)
			return nil, err
		}
		pl.f.Close()
		pl.f, pl.w = nil, nil
	}
	return plans, nil
}

// partition is one spill partition, loaded and sorted for the merge.
type partition struct {
	last     uint64 // the largest key hash of the partition's range
	arena    []byte
	offs     []uint32
	idx      []hashIndex
	scratch  []hashIndex
	rows     []inRow
	rejected []Rejection
	err      error
}

// defaultMaxPartitionBytes is the most of a partition loaded at once; a
// larger one (a first run's estimate was low, or rows are wide) is split
// by the next bits of the key hash and loaded in parts.
const defaultMaxPartitionBytes = 32 << 20

// loadPartitions loads, sorts and de-duplicates the spill partitions in
// key-hash order, handing each to ready; it closes ready when done or
// cancelled.
func (p *Planner) loadPartitions(ctx context.Context, ready chan<- *partition, free <-chan *partition) {
	defer close(ready)
	limit := p.opts.MaxPartitionBytes
	if limit <= 0 {
		limit = defaultMaxPartitionBytes
	}
	send := func(sp *spill, n int) bool {
		var part *partition
		select {
		case part = <-free:
		case <-ctx.Done():
			return false
		}
		p.prepare(part, sp, n)
		select {
		case ready <- part:
		case <-ctx.Done():
			return false
		}
		return part.err == nil
	}
	for n := 0; n < p.spill.partitions(); n++ {
		size := p.spill.size(n)
		if size <= limit {
			if !send(p.spill, n) {
				return
			}
			continue
		}
		extra := uint(1)
		for extra < 8 && size>>extra > limit {
			extra++
		}
		sub, err := p.spill.split(n, extra, filepath.Join(p.dir, fmt.Sprintf("split-%d", n)))
		if err != nil {
			select {
			case part := <-free:
				part.err = err
				ready <- part
			case <-ctx.Done():
			}
			return
		}
		for m := 0; m < sub.partitions(); m++ {
			if !send(sub, m) {
				sub.close()
				return
			}
		}
		sub.close()
	}
}

// prepare loads partition n of sp into part, sorted by key and with
// duplicated keys reported and marked.
func (p *Planner) prepare(part *partition, sp *spill, n int) {
	nt := len(p.targets)
	part.last, part.err, part.rejected = sp.lastHash(n), nil, part.rejected[:0]
	part.arena, part.offs, part.err = sp.load(n, part.arena, part.offs)
	if part.err != nil {
		return
	}
	part.idx = part.idx[:0]
	for i := 0; i+1 < len(part.offs); i++ {
		part.idx = append(part.idx, hashIndex{h: binary.LittleEndian.Uint64(part.arena[part.offs[i]:]), i: uint32(i)})
	}
	part.idx, part.scratch = sortByHash(part.idx, part.scratch)
	part.rows = part.rows[:0]
	for _, it := range part.idx {
		start, end := part.offs[it.i], part.offs[it.i+1]
		kl, m := binary.Uvarint(part.arena[start+8+8*uint32(nt):])
		ks := start + 8 + 8*uint32(nt) + uint32(m)
		part.rows = append(part.rows, inRow{keyHash: it.h, start: start, keyOff: ks, keyLen: uint32(kl), end: end})
	}
	sortTies(part.rows, part.arena)
	part.rows, part.err = dropDuplicates(part.rows, part.arena, func(r Rejection) error {
		part.rejected = append(part.rejected, r)
		return nil
	})
}

func (p *Planner) closePlans(plans []*Plan) {
	for _, pl := range plans {
		if pl != nil {
			pl.Close()
		}
	}
}

// Close removes the planner's spill files. Plans returned by Finish live
// on until closed.
func (p *Planner) Close() error { return os.RemoveAll(p.dir) }

// sortTies orders rows of equal key hash by key: rows sorted by hash are
// then in (hash, key) order, which the merge needs.
func sortTies(rows []inRow, arena []byte) {
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].keyHash == rows[i].keyHash {
			j++
		}
		if j-i > 1 {
			slices.SortStableFunc(rows[i:j], func(a, b inRow) int { return strings.Compare(a.key(arena), b.key(arena)) })
		}
		i = j
	}
}

// dropDuplicates removes every row whose key appears more than once,
// reporting each; a removed key is kept as a marker (rec nil) so that the
// merge neither plans nor removes it.
func dropDuplicates(rows []inRow, arena []byte, reject func(Rejection) error) ([]inRow, error) {
	out := rows[:0]
	for i := 0; i < len(rows); {
		key := rows[i].key(arena)
		j := i + 1
		for j < len(rows) && rows[j].keyHash == rows[i].keyHash && rows[j].key(arena) == key {
			j++
		}
		if j-i == 1 {
			out = append(out, rows[i])
			i = j
			continue
		}
		reason := fmt.Sprintf("duplicate primary key: %d rows share it", j-i)
		for k := i; k < j; k++ {
			if err := reject(Rejection{Key: strings.Clone(key), Reason: reason}); err != nil {
				return nil, err
			}
		}
		marker := rows[i]
		marker.end = 0
		out = append(out, marker)
		i = j
	}
	return out, nil
}

func (p *Planner) mergePartition(last uint64, rows []inRow, arena []byte, ti int, base *baseReader, pl *Plan) error {
	t := p.targets[ti]
	emitRemoved := func(e Entry) error {
		pl.Counts.Removed++
		return pl.write(Removed, e, nil)
	}
	for _, r := range rows {
		rkey := r.key(arena)
		// Snapshot keys before this row's are gone from the model.
		var old Entry
		found := false
		for {
			e, ok, err := base.peek()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			c := compare(e.KeyHash, e.Key, r.keyHash, rkey)
			if c > 0 {
				break
			}
			base.next()
			if c == 0 {
				old, found = e, true
				break
			}
			if err := emitRemoved(e); err != nil {
				return err
			}
		}
		if r.end == 0 {
			continue // rejected duplicate: neither planned nor removed
		}
		h := binary.LittleEndian.Uint64(arena[r.start+8+8*uint32(ti):])
		e := Entry{KeyHash: r.keyHash, RowHash: h, Key: rkey}
		var payload []byte
		if p.opts.KeepPayload {
			payload = arena[r.keyOff+r.keyLen : r.end]
		}
		var err error
		switch {
		case !found:
			pl.Counts.Added++
			err = pl.write(Added, e, payload)
		case old.RowHash != h:
			pl.Counts.Changed++
			err = pl.write(Changed, e, payload)
		default:
			pl.Counts.Unchanged++
			if t.FullResync {
				err = pl.write(Unchanged, e, payload)
			}
		}
		if err != nil {
			return err
		}
	}
	// The rest of this partition's range of the snapshot is gone too.
	for {
		e, ok, err := base.peek()
		if err != nil {
			return err
		}
		if !ok || e.KeyHash > last {
			return nil
		}
		base.next()
		if err := emitRemoved(e); err != nil {
			return err
		}
	}
}
