package diff

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// A snapshot lives in its own directory:
//
//	CURRENT           {"generation": N, "entries": M}, replaced atomically
//	base-N.snap       the entries of generation N, sorted, checksummed
//	delta-N.log       what runs acknowledged since: appended per batch
//	LOCK              flock'd by the process using the snapshot
//
// A run appends one group to the delta log per acknowledged batch (one
// write; a process killed mid-write leaves a torn tail that the CRC
// rejects). Compaction merges base and delta into generation N+1 and only
// then switches CURRENT, so a crash at any point leaves a consistent
// snapshot: the old generation with its delta, or the new one.
//
// With a Storage (OpenWith) the directory is a cache of the durable copy
// kept there; see Storage.
type Snapshot struct {
	dir     string
	gen     uint64
	entries uint64
	lock    *os.File

	remote        Storage
	releaseRemote func() error
	// ctx is the opening context without its cancellation, for calls to
	// remote from commit points, which take none (storageTimeout).
	ctx context.Context
}

type current struct {
	Generation uint64 `json:"generation"`
	Entries    uint64 `json:"entries"`
}

// ErrLocked is returned when another process holds the snapshot.
var ErrLocked = errors.New("another riptide process is running this sync")

// Open opens (creating if needed) the snapshot in dir, locks it for this
// process, and folds any delta left by an earlier run into a new base.
func Open(dir string) (*Snapshot, error) {
	return open(context.Background(), dir, nil)
}

func open(ctx context.Context, dir string, remote Storage) (*Snapshot, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create snapshot dir: %w", err)
	}
	s := &Snapshot{dir: dir, remote: remote, ctx: context.WithoutCancel(ctx)}
	if remote != nil {
		release, ok, err := remote.TryLock(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock snapshot: %w", err)
		}
		if !ok {
			return nil, ErrLocked
		}
		s.releaseRemote = release
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open snapshot lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		s.Close()
		return nil, ErrLocked
	}
	s.lock = lock
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		s.Close()
		return nil, fmt.Errorf("read snapshot CURRENT: %w", err)
	default:
		var c current
		if err := json.Unmarshal(b, &c); err != nil {
			s.Close()
			return nil, fmt.Errorf("snapshot %s: CURRENT is corrupt: %w", dir, err)
		}
		s.gen, s.entries = c.Generation, c.Entries
	}
	if remote != nil {
		if err := s.syncFromStorage(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.Compact(); err != nil {
		s.Close()
		return nil, err
	}
	s.removeStale()
	return s, nil
}

// Close releases the locks.
func (s *Snapshot) Close() error {
	var err error
	if s.lock != nil {
		err = s.lock.Close() // closing the descriptor releases the flock
		s.lock = nil
	}
	if s.releaseRemote != nil {
		if rerr := s.releaseRemote(); rerr != nil && err == nil {
			err = fmt.Errorf("release snapshot lock: %w", rerr)
		}
		s.releaseRemote = nil
	}
	return err
}

// Len is the number of keys in the snapshot (as of its base; a compacted
// snapshot has no delta).
func (s *Snapshot) Len() uint64 { return s.entries }

func (s *Snapshot) basePath(gen uint64) string {
	if gen == 0 {
		return ""
	}
	return filepath.Join(s.dir, fmt.Sprintf("base-%d.snap", gen))
}

func (s *Snapshot) deltaPath(gen uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("delta-%d.log", gen))
}

// removeStale deletes files of other generations: leftovers of a crash
// between writing a new generation and deleting the old one.
func (s *Snapshot) removeStale() {
	names, _ := filepath.Glob(filepath.Join(s.dir, "*"))
	keep := map[string]bool{
		"CURRENT": true, "LOCK": true,
		filepath.Base(s.deltaPath(s.gen)): true,
	}
	if s.gen > 0 {
		keep[filepath.Base(s.basePath(s.gen))] = true
	}
	for _, n := range names {
		base := filepath.Base(n)
		if !keep[base] && (strings.HasPrefix(base, "base-") || strings.HasPrefix(base, "delta-") || strings.HasSuffix(base, ".tmp") || strings.HasPrefix(base, "compact-")) {
			os.RemoveAll(n)
		}
	}
}

// reader opens the base of the current generation.
func (s *Snapshot) reader() (*baseReader, error) {
	return openBase(s.basePath(s.gen))
}

// Reset empties the snapshot: the next run sees every row as added.
func (s *Snapshot) Reset() error {
	if s.remote != nil {
		if err := s.publish(0, 0); err != nil {
			return err
		}
	}
	if err := s.writeCurrent(current{}); err != nil {
		return err
	}
	old := s.gen
	s.gen, s.entries = 0, 0
	os.Remove(s.basePath(old))
	os.Remove(s.deltaPath(old))
	return nil
}

func (s *Snapshot) writeCurrent(c current) error {
	b, _ := json.Marshal(c)
	tmp := filepath.Join(s.dir, "CURRENT.tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("write snapshot CURRENT: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "CURRENT")); err != nil {
		return fmt.Errorf("switch snapshot CURRENT: %w", err)
	}
	return syncDir(s.dir)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Delta log groups.
const (
	deltaMagic   = 0x31445452 // "RTD1"
	groupEntries = 1
	groupConfirm = 2
	opSet        = 1
	opDelete     = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// DeltaWriter appends acknowledged changes to a snapshot's delta log.
type DeltaWriter struct {
	f   *os.File
	tag string
	buf []byte
	// snap and gen are where groups are recorded in storage first, when
	// the snapshot has one.
	snap *Snapshot
	gen  uint64
}

// Delta opens the delta log for appending. A non-empty tag makes every
// group provisional until Confirm is called: changes delivered to a
// destination that makes them durable only at the end of a run.
func (s *Snapshot) Delta(tag string) (*DeltaWriter, error) {
	f, err := os.OpenFile(s.deltaPath(s.gen), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open snapshot delta: %w", err)
	}
	return &DeltaWriter{f: f, tag: tag, snap: s, gen: s.gen}, nil
}

// Commit appends one group: keys whose new row hash was delivered (set)
// and keys deleted or dropped (del). It is one write, durable against a
// process crash once it returns; with a Storage, recorded there first.
func (d *DeltaWriter) Commit(set, del []Entry) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	d.buf = d.group(groupEntries, func(b []byte) []byte {
		for _, e := range set {
			b = appendEntry(append(b, opSet), e)
		}
		for _, e := range del {
			b = appendEntry(append(b, opDelete), e)
		}
		return b
	})
	if err := d.appendRemote(d.buf); err != nil {
		return fmt.Errorf("commit snapshot delta: %w", err)
	}
	_, err := d.f.Write(d.buf)
	if err != nil {
		return fmt.Errorf("commit snapshot delta: %w", err)
	}
	return nil
}

// Confirm makes the provisional groups of this writer's tag count.
func (d *DeltaWriter) Confirm() error {
	d.buf = d.group(groupConfirm, func(b []byte) []byte { return b })
	if err := d.appendRemote(d.buf); err != nil {
		return fmt.Errorf("confirm snapshot delta: %w", err)
	}
	if _, err := d.f.Write(d.buf); err != nil {
		return fmt.Errorf("confirm snapshot delta: %w", err)
	}
	return d.f.Sync()
}

func (d *DeltaWriter) group(kind byte, body func([]byte) []byte) []byte {
	b := d.buf[:0]
	b = append(b, make([]byte, 12)...)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(d.tag)))
	b = append(b, d.tag...)
	b = body(b)
	payload := b[12:]
	binary.LittleEndian.PutUint32(b[0:], deltaMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(payload, crcTable))
	return b
}

// Close syncs and closes the log.
func (d *DeltaWriter) Close() error {
	if err := d.f.Sync(); err != nil {
		d.f.Close()
		return err
	}
	return d.f.Close()
}

// readGroups calls fn for each intact group of a delta log, stopping at
// the first torn or corrupt one (the tail a crash can leave).
func readGroups(path string, fn func(kind byte, tag string, body []byte) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [12]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil // clean end or torn header
		}
		if binary.LittleEndian.Uint32(hdr[0:]) != deltaMagic {
			return nil
		}
		n := binary.LittleEndian.Uint32(hdr[4:])
		if n > 1<<30 {
			return nil
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[8:]) || len(payload) < 2 {
			return nil
		}
		kind := payload[0]
		l, m := binary.Uvarint(payload[1:])
		if m <= 0 || uint64(len(payload)-1-m) < l {
			return nil
		}
		tag := string(payload[1+m : 1+m+int(l)])
		if err := fn(kind, tag, payload[1+m+int(l):]); err != nil {
			return err
		}
	}
}
