// Package arena copies values out of a driver's short-lived buffers into
// strings that live on, allocating large blocks rather than one object per
// value: a source converting millions of text cells allocates a few blocks
// per chunk instead of one string per cell.
package arena

import "unsafe"

// blockSize is large enough to amortise allocation over hundreds of
// typical cells and small enough that a retained string does not pin much
// unrelated memory.
const blockSize = 32 << 10

// Arena hands out strings carved from append-only blocks. A block is never
// written again once a string points into it, so the strings are as
// immutable as any other. Keeping one string keeps its whole block alive:
// give each column its own Arena, so that keeping one column's values (the
// primary keys) keeps only that column's bytes.
//
// The zero value is ready to use. An Arena is not safe for concurrent use.
type Arena struct {
	buf []byte
}

// String returns a string holding a copy of b.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		if len(b) > blockSize/4 {
			// A large value gets its own allocation rather than wasting
			// the rest of a block.
			return string(b)
		}
		a.buf = make([]byte, 0, blockSize)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}
