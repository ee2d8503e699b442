package diff

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// maxPartitionBits bounds the number of spill files open at once (256).
const maxPartitionBits = 8

// partitionBits picks the number of partitions for about n records so that
// one partition holds some tens of thousands of them: enough to keep the
// files few and large, few enough to keep a partition's memory small.
func partitionBits(n uint64) uint {
	const perPartition = 40_000
	bits := uint(0)
	for bits < maxPartitionBits && n > perPartition<<bits {
		bits++
	}
	return bits
}

// spill writes length-prefixed records into one temporary file per
// partition of the key-hash space, to be read back a partition at a time.
type spill struct {
	dir string
	// skip leading bits of the key hash are the same in every record (a
	// sub-spill of one partition); the next bits choose the partition.
	skip    uint
	bits    uint
	files   []*os.File
	writers []*bufio.Writer
	counts  []int
	hdr     [binary.MaxVarintLen64]byte
	// parent is the index of the partition a sub-spill splits (its top
	// skip bits).
	parent uint64
}

func newSpill(dir string, bits uint) (*spill, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n := 1 << bits
	s := &spill{dir: dir, bits: bits, files: make([]*os.File, n), writers: make([]*bufio.Writer, n), counts: make([]int, n)}
	bufSize := 64 << 10
	if n > 16 {
		bufSize = 16 << 10
	}
	for i := range s.files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%03d", i)))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("create spill file: %w", err)
		}
		s.files[i] = f
		s.writers[i] = bufio.NewWriterSize(f, bufSize)
	}
	return s, nil
}

func (s *spill) partitions() int { return len(s.files) }

func (s *spill) add(keyHash uint64, rec []byte) error {
	p := partitionOf(keyHash<<s.skip, s.bits)
	w := s.writers[p]
	n := binary.PutUvarint(s.hdr[:], uint64(len(rec)))
	if _, err := w.Write(s.hdr[:n]); err != nil {
		return fmt.Errorf("write spill: %w", err)
	}
	if _, err := w.Write(rec); err != nil {
		return fmt.Errorf("write spill: %w", err)
	}
	s.counts[p]++
	return nil
}

// size is the number of bytes partition p holds.
func (s *spill) size(p int) int64 {
	st, err := s.files[p].Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// split spreads partition p's records over a new spill of 1<<extra
// sub-partitions, by the key-hash bits that follow this spill's, read
// sequentially: for a partition too large to load whole.
func (s *spill) split(p int, extra uint, dir string) (*spill, error) {
	sub, err := newSpill(dir, extra)
	if err != nil {
		return nil, err
	}
	sub.skip = s.skip + s.bits
	sub.parent = s.parent<<s.bits | uint64(p)
	r := bufio.NewReaderSize(io.NewSectionReader(s.files[p], 0, s.size(p)), 256<<10)
	var rec []byte
	for {
		l, err := binary.ReadUvarint(r)
		if err == io.EOF {
			break
		}
		if err == nil {
			rec = slices.Grow(rec[:0], int(l))[:l]
			_, err = io.ReadFull(r, rec)
		}
		if err == nil && len(rec) < 8 {
			err = errors.New("short record")
		}
		if err != nil {
			sub.close()
			return nil, fmt.Errorf("split spill partition %d: %w", p, err)
		}
		if err := sub.add(binary.LittleEndian.Uint64(rec), rec); err != nil {
			sub.close()
			return nil, err
		}
	}
	if err := sub.finish(); err != nil {
		sub.close()
		return nil, err
	}
	return sub, nil
}

// lastHash is the largest key hash partition p of this spill can hold: its
// range ends there, which is where the merge stops reading the snapshot.
func (s *spill) lastHash(p int) uint64 {
	used := s.skip + s.bits
	if used == 0 {
		return math.MaxUint64
	}
	prefix := uint64(p)
	if s.skip > 0 {
		prefix |= s.parent << s.bits
	}
	lo := prefix << (64 - used)
	return lo | (math.MaxUint64 >> used)
}

// finish flushes every partition; add must not be called after it.
func (s *spill) finish() error {
	for _, w := range s.writers {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("flush spill: %w", err)
		}
	}
	return nil
}

// load reads partition p whole into arena (reused) and returns the record
// boundaries: record i is arena[offs[i]:offs[i+1]].
func (s *spill) load(p int, arena []byte, offs []uint32) ([]byte, []uint32, error) {
	f := s.files[p]
	st, err := f.Stat()
	if err != nil {
		return arena, offs, err
	}
	if st.Size() >= 1<<32 {
		return arena, offs, fmt.Errorf("spill partition %d is over 4 GiB", p)
	}
	size := int(st.Size())
	if cap(arena) < size {
		arena = make([]byte, size)
	}
	arena = arena[:size]
	if _, err := f.ReadAt(arena, 0); err != nil && err != io.EOF {
		return arena, offs, fmt.Errorf("read spill: %w", err)
	}
	// Strip the length prefixes in place: records are moved down over their
	// headers so that each record is one contiguous slice.
	offs = append(offs[:0], 0)
	w := 0
	for r := 0; r < size; {
		l, n := binary.Uvarint(arena[r:])
		if n <= 0 || r+n+int(l) > size {
			return arena, offs, fmt.Errorf("spill partition %d is corrupt", p)
		}
		copy(arena[w:], arena[r+n:r+n+int(l)])
		w += int(l)
		r += n + int(l)
		offs = append(offs, uint32(w))
	}
	return arena[:w], offs, nil
}

// close removes the spill files.
func (s *spill) close() {
	for _, f := range s.files {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
	os.Remove(s.dir)
}
