package diff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
)

// lookupStride is how many entries of a base file one index entry of a
// Lookup covers: a lookup reads about two strides (about 5 KB for keys
// of 10 bytes) where a denser index would cost memory (16 bytes an index
// entry: 12.5 MB for 100,000,000 keys).
const lookupStride = 128

// Lookup finds keys in a snapshot as of when it was made, without
// reading it whole: a sparse index of the base file (the key hash and
// offset of every lookupStride-th entry), built in one checked pass, and
// one read of a stretch of the file per lookup. Made right after Open,
// which folds any delta into the base, it sees the whole snapshot; what
// is committed after is not in it, so its holder keeps track of that.
type Lookup struct {
	f       *os.File
	hashes  []uint64
	offsets []int64
	end     int64 // where the entries end
	buf     []byte
}

// Lookup indexes the snapshot's base; the delta must be empty (as after
// Open).
func (s *Snapshot) Lookup() (*Lookup, error) {
	if st, err := os.Stat(s.deltaPath(s.gen)); err == nil && st.Size() > 0 {
		return nil, errors.New("snapshot lookup: the snapshot has a delta not folded in")
	}
	path := s.basePath(s.gen)
	if path == "" {
		return &Lookup{}, nil
	}
	br, err := openBase(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot lookup: %w", err)
	}
	defer br.close()
	l := &Lookup{}
	off := int64(len(baseMagic))
	for i := uint64(0); ; i++ {
		e, ok, err := br.peek()
		if err != nil {
			return nil, fmt.Errorf("snapshot lookup: %w", err)
		}
		if !ok {
			break
		}
		if i%lookupStride == 0 {
			l.hashes = append(l.hashes, e.KeyHash)
			l.offsets = append(l.offsets, off)
		}
		off += int64(br.curLen)
		br.next()
	}
	// The pass ended with the checksum verified; the lookups read the
	// same file through a descriptor of their own.
	if l.f, err = os.Open(path); err != nil {
		return nil, fmt.Errorf("snapshot lookup: %w", err)
	}
	l.end = off
	return l, nil
}

// Get returns the row hash the snapshot holds for a key, and whether it
// holds the key.
func (l *Lookup) Get(keyHash uint64, key string) (uint64, bool, error) {
	if len(l.hashes) == 0 {
		return 0, false, nil
	}
	// The stretch from the last index entry below the key hash (entries of
	// an equal hash may begin in the stride before) to the first above it.
	first := sort.Search(len(l.hashes), func(i int) bool { return l.hashes[i] >= keyHash })
	if first > 0 {
		first--
	}
	last := sort.Search(len(l.hashes), func(i int) bool { return l.hashes[i] > keyHash })
	from, to := l.offsets[first], l.end
	if last < len(l.offsets) {
		to = l.offsets[last]
	}
	if n := int(to - from); cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	b := l.buf[:to-from]
	if _, err := l.f.ReadAt(b, from); err != nil {
		return 0, false, fmt.Errorf("snapshot lookup: read: %w", err)
	}
	for len(b) > 0 {
		if len(b) < 17 {
			return 0, false, fmt.Errorf("snapshot lookup: %w", errTruncated)
		}
		h, row := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		n, m := binary.Uvarint(b[16:])
		if m <= 0 || len(b) < 16+m+int(n) {
			return 0, false, errors.New("snapshot lookup: corrupt entry")
		}
		switch {
		case h > keyHash:
			return 0, false, nil
		case h == keyHash && string(b[16+m:16+m+int(n)]) == key:
			return row, true, nil
		}
		b = b[16+m+int(n):]
	}
	return 0, false, nil
}

// Close closes the base file.
func (l *Lookup) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
