package diff

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	dir     string
	bits    uint
	files   []*os.File
	writers []*bufio.Writer
	counts  []int
	hdr     [binary.MaxVarintLen64]byte
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
	p := partitionOf(keyHash, s.bits)
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
