package diff

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

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
	// lastKey backs last.Key: entries handed to add may point into a
	// reader's buffer that changes after the call.
	lastKey []byte
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
	bw.lastKey = append(bw.lastKey[:0], e.Key...)
	bw.last = Entry{KeyHash: e.KeyHash, RowHash: e.RowHash, Key: unsafe.String(unsafe.SliceData(bw.lastKey), len(bw.lastKey))}
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
// when it reaches the end. It decodes entries in place in its buffer: the
// Key of an entry returned by peek is valid only until the next call to
// next — callers copy what they keep.
type baseReader struct {
	f      *os.File
	r      io.Reader
	h      *xxh3.Hasher
	remain uint64 // entries not yet read
	want   uint64 // checksum from the footer
	buf    []byte
	pos    int // start of unread bytes in buf
	end    int // end of valid bytes in buf
	eof    bool
	peeked bool
	cur    Entry
	curLen int
	err    error
}

const baseBufSize = 256 << 10

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
		r:      io.NewSectionReader(f, 0, st.Size()-footerSize),
		h:      xxh3.New(),
		remain: binary.LittleEndian.Uint64(foot[0:]),
		want:   binary.LittleEndian.Uint64(foot[8:]),
		buf:    make([]byte, baseBufSize),
	}
	if err := br.fill(len(baseMagic)); err != nil || !bytes.Equal(br.buf[:len(baseMagic)], baseMagic) {
		f.Close()
		return nil, fmt.Errorf("snapshot %s: not a snapshot file", path)
	}
	br.consume(len(baseMagic))
	return br, nil
}

// consume marks n bytes as read, folding them into the checksum.
func (br *baseReader) consume(n int) {
	br.h.Write(br.buf[br.pos : br.pos+n])
	br.pos += n
}

// fill makes at least n unread bytes available, unless the file ends.
func (br *baseReader) fill(n int) error {
	if br.end-br.pos >= n || br.eof {
		return nil
	}
	if n > len(br.buf) {
		grown := make([]byte, n)
		copy(grown, br.buf[br.pos:br.end])
		br.buf, br.end, br.pos = grown, br.end-br.pos, 0
	} else {
		br.end = copy(br.buf, br.buf[br.pos:br.end])
		br.pos = 0
	}
	for br.end-br.pos < n && !br.eof {
		m, err := br.r.Read(br.buf[br.end:])
		br.end += m
		if err == io.EOF {
			br.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
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
	if err := br.fill(16 + binary.MaxVarintLen64); err != nil {
		br.err = fmt.Errorf("read snapshot: %w", err)
		return Entry{}, false, br.err
	}
	b := br.buf[br.pos:br.end]
	if len(b) < 17 {
		br.err = fmt.Errorf("read snapshot: %w", errTruncated)
		return Entry{}, false, br.err
	}
	l, n := binary.Uvarint(b[16:])
	if n <= 0 || l > 1<<20 {
		br.err = errors.New("read snapshot: corrupt key length")
		return Entry{}, false, br.err
	}
	size := 16 + n + int(l)
	if err := br.fill(size); err != nil || br.end-br.pos < size {
		br.err = fmt.Errorf("read snapshot: %w", errTruncated)
		return Entry{}, false, br.err
	}
	b = br.buf[br.pos:br.end]
	br.cur = Entry{
		KeyHash: binary.LittleEndian.Uint64(b),
		RowHash: binary.LittleEndian.Uint64(b[8:]),
		Key:     unsafe.String(unsafe.SliceData(b[16+n:]), int(l)),
	}
	if l == 0 {
		br.cur.Key = ""
	}
	br.curLen = size
	br.remain--
	br.peeked = true
	return br.cur, true, nil
}

// next consumes the peeked entry.
func (br *baseReader) next() {
	if br.peeked {
		br.consume(br.curLen)
		br.peeked = false
	}
}

func (br *baseReader) close() error {
	if br.f == nil {
		return nil
	}
	return br.f.Close()
}
