package diff

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/xxh3"
)

// A base file holds a snapshot generation: a header, the entries sorted by
// (key hash, key), and a footer with the entry count and a checksum of
// everything before it. It is written once, fsynced, and only then made
// current, so a crash never leaves a half-written base in use.
var baseMagic = []byte("RTSNAP1\n")

const footerSize = 8 + 8 + 8 // count, checksum, magic tail

var footerMagic = []byte("RTSNAPEN")

type baseWriter struct {
	f     *os.File
	w     *bufio.Writer
	h     *xxh3.Hasher
	buf   []byte
	count uint64
	last  Entry
}

func createBase(path string) (*baseWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	bw := &baseWriter{f: f, w: bufio.NewWriterSize(f, 256<<10), h: xxh3.New()}
	if err := bw.write(baseMagic); err != nil {
		f.Close()
		return nil, err
	}
	return bw, nil
}

func (bw *baseWriter) write(b []byte) error {
	bw.h.Write(b)
	_, err := bw.w.Write(b)
	return err
}

// add appends an entry; entries must come in order.
func (bw *baseWriter) add(e Entry) error {
	if bw.count > 0 && !less(bw.last.KeyHash, bw.last.Key, e.KeyHash, e.Key) {
		return fmt.Errorf("snapshot entries out of order at key %q", e.Key)
	}
	bw.last = e
	bw.count++
	bw.buf = appendEntry(bw.buf[:0], e)
	return bw.write(bw.buf)
}

// finish writes the footer and makes the file durable.
func (bw *baseWriter) finish() error {
	var foot [footerSize]byte
	binary.LittleEndian.PutUint64(foot[0:], bw.count)
	binary.LittleEndian.PutUint64(foot[8:], bw.h.Sum64())
	copy(foot[16:], footerMagic)
	if _, err := bw.w.Write(foot[:]); err != nil {
		bw.f.Close()
		return err
	}
	if err := bw.w.Flush(); err != nil {
		bw.f.Close()
		return err
	}
	if err := bw.f.Sync(); err != nil {
		bw.f.Close()
		return err
	}
	return bw.f.Close()
}

func (bw *baseWriter) abort() {
	bw.f.Close()
	os.Remove(bw.f.Name())
}

// baseReader reads a base file's entries in order, verifying the checksum
// when it reaches the end.
type baseReader struct {
	f       *os.File
	r       *bufio.Reader
	h       *xxh3.Hasher
	remain  uint64 // entries not yet read
	want    uint64 // checksum from the footer
	scratch []byte
	peeked  bool
	cur     Entry
	err     error
	raw     []byte
}

// openBase opens a base file; a missing path reads as an empty snapshot.
func openBase(path string) (*baseReader, error) {
	if path == "" {
		return &baseReader{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() < int64(len(baseMagic)+footerSize) {
		f.Close()
		return nil, fmt.Errorf("snapshot %s is truncated", path)
	}
	var foot [footerSize]byte
	if _, err := f.ReadAt(foot[:], st.Size()-footerSize); err != nil {
		f.Close()
		return nil, err
	}
	if !bytes.Equal(foot[16:], footerMagic) {
		f.Close()
		return nil, fmt.Errorf("snapshot %s has no footer: corrupt", path)
	}
	br := &baseReader{
		f:      f,
		r:      bufio.NewReaderSize(io.NewSectionReader(f, 0, st.Size()-footerSize), 256<<10),
		h:      xxh3.New(),
		remain: binary.LittleEndian.Uint64(foot[0:]),
		want:   binary.LittleEndian.Uint64(foot[8:]),
	}
	magic := make([]byte, len(baseMagic))
	if _, err := io.ReadFull(br.r, magic); err != nil || !bytes.Equal(magic, baseMagic) {
		f.Close()
		return nil, fmt.Errorf("snapshot %s: not a snapshot file", path)
	}
	br.h.Write(magic)
	return br, nil
}

// count is the number of entries in the file.
func (br *baseReader) count() uint64 { return br.remain }

// peek returns the next entry without consuming it; ok is false at the end.
func (br *baseReader) peek() (Entry, bool, error) {
	if br.err != nil {
		return Entry{}, false, br.err
	}
	if br.peeked {
		return br.cur, true, nil
	}
	if br.remain == 0 {
		if br.f != nil && br.h.Sum64() != br.want {
			br.err = errors.New("snapshot checksum mismatch: the file is corrupt; run `riptide reset` for this sync")
			return Entry{}, false, br.err
		}
		return Entry{}, false, nil
	}
	e, scratch, err := readEntry(br.r, br.scratch)
	br.scratch = scratch
	if err != nil {
		br.err = fmt.Errorf("read snapshot: %w", err)
		return Entry{}, false, br.err
	}
	br.raw = appendEntry(br.raw[:0], e)
	br.h.Write(br.raw)
	br.remain--
	br.cur, br.peeked = e, true
	return e, true, nil
}

// next consumes the peeked entry.
func (br *baseReader) next() { br.peeked = false }

func (br *baseReader) close() error {
	if br.f == nil {
		return nil
	}
	return br.f.Close()
}
