// Package diff works out what changed in a model since a sync's last
// successful delivery: it hashes rows, keeps each sync's snapshot (key →
// hash of the row as last delivered) in crash-safe files, and diffs a
// model's rows against snapshots with memory bounded by a partition, not by
// the model: rows are spilled to disk partitioned by key hash, and each
// partition is merged with the matching, sorted range of the snapshot.
package diff

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zeebo/xxh3"
)

// Entry is one key of a snapshot.
type Entry struct {
	KeyHash uint64
	RowHash uint64
	Key     string
}

// KeyHash hashes a key's text. Snapshots and spills are ordered by it.
func KeyHash(key string) uint64 { return xxh3.HashString(key) }

// less orders entries by key hash, then key text (so that two keys whose
// hashes collide are still told apart).
func less(ah uint64, ak string, bh uint64, bk string) bool {
	if ah != bh {
		return ah < bh
	}
	return ak < bk
}

func compare(ah uint64, ak string, bh uint64, bk string) int {
	switch {
	case ah < bh:
		return -1
	case ah > bh:
		return 1
	}
	return strings.Compare(ak, bk)
}

// partitionOf maps a key hash to one of 1<<bits partitions. Partitions are
// contiguous ranges of the hash order, so a snapshot sorted by key hash can
// be read partition by partition in one sequential pass.
func partitionOf(h uint64, bits uint) int {
	if bits == 0 {
		return 0
	}
	return int(h >> (64 - bits))
}

func appendEntry(buf []byte, e Entry) []byte {
	buf = binary.LittleEndian.AppendUint64(buf, e.KeyHash)
	buf = binary.LittleEndian.AppendUint64(buf, e.RowHash)
	buf = binary.AppendUvarint(buf, uint64(len(e.Key)))
	return append(buf, e.Key...)
}

// decodeEntry decodes an entry from b, returning the bytes used.
func decodeEntry(b []byte) (Entry, int, error) {
	if len(b) < 17 {
		return Entry{}, 0, errTruncated
	}
	e := Entry{KeyHash: binary.LittleEndian.Uint64(b), RowHash: binary.LittleEndian.Uint64(b[8:])}
	l, n := binary.Uvarint(b[16:])
	if n <= 0 || uint64(len(b)-16-n) < l {
		return Entry{}, 0, errTruncated
	}
	e.Key = string(b[16+n : 16+n+int(l)])
	return e, 16 + n + int(l), nil
}

var errTruncated = errors.New("truncated entry")

// readEntry reads one entry from a buffered reader; io.EOF at a clean end.
func readEntry(r *bufio.Reader, scratch []byte) (Entry, []byte, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = errTruncated
		}
		return Entry{}, scratch, err
	}
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return Entry{}, scratch, fmt.Errorf("read key length: %w", err)
	}
	if l > 1<<20 {
		return Entry{}, scratch, fmt.Errorf("key of %d bytes: corrupt snapshot", l)
	}
	if cap(scratch) < int(l) {
		scratch = make([]byte, l)
	}
	scratch = scratch[:l]
	if _, err := io.ReadFull(r, scratch); err != nil {
		return Entry{}, scratch, errTruncated
	}
	return Entry{
		KeyHash: binary.LittleEndian.Uint64(hdr[:]),
		RowHash: binary.LittleEndian.Uint64(hdr[8:]),
		Key:     string(scratch),
	}, scratch, nil
}
