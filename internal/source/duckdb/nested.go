package duckdb

import (
	"fmt"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/riptide-data/riptide/internal/value"
)

// Nested types: their readers hold the readers of their children and bind
// them to the child vectors of each chunk.

// elementValue is a child's value at i, NULL included.
func elementValue(r reader, i uint64) (any, error) {
	if r.null(i) {
		return nil, nil
	}
	return r.value(i)
}

type listEntry struct {
	offset uint64
	length uint64
}

type listReader struct {
	vec
	child reader
}

func (r *listReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.child.bind(bindings.ListVectorGetChild(x))
}

func (r *listReader) value(row uint64) (any, error) {
	e := at[listEntry](r.data, row)
	return elements(r.child, e.offset, e.length)
}

func elements(child reader, offset, n uint64) ([]any, error) {
	out := make([]any, n)
	for i := range n {
		v, err := elementValue(child, offset+i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

type arrayReader struct {
	vec
	child reader
	size  uint64
}

func (r *arrayReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.child.bind(bindings.ArrayVectorGetChild(x))
}

func (r *arrayReader) value(row uint64) (any, error) {
	return elements(r.child, row*r.size, r.size)
}

type structReader struct {
	vec
	names    []string
	children []reader
}

func (r *structReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	for i, c := range r.children {
		c.bind(bindings.StructVectorGetChild(x, bindings.IdxT(i)))
	}
}

func (r *structReader) value(row uint64) (any, error) {
	m := make(map[string]any, len(r.children))
	for i, c := range r.children {
		v, err := elementValue(c, row)
		if err != nil {
			return nil, err
		}
		m[r.names[i]] = v
	}
	return value.Normalize(m)
}

// mapReader reads a MAP, which the C API lays out as a LIST of
// STRUCT(key, value); it becomes a JSON object keyed by the keys' text.
type mapReader struct {
	vec
	key, val reader
}

func (r *mapReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	entries := bindings.ListVectorGetChild(x)
	r.key.bind(bindings.StructVectorGetChild(entries, 0))
	r.val.bind(bindings.StructVectorGetChild(entries, 1))
}

func (r *mapReader) value(row uint64) (any, error) {
	e := at[listEntry](r.data, row)
	m := make(map[string]any, e.length)
	for i := e.offset; i < e.offset+e.length; i++ {
		k, err := elementValue(r.key, i)
		if err != nil {
			return nil, err
		}
		v, err := elementValue(r.val, i)
		if err != nil {
			return nil, err
		}
		m[value.Text(k)] = v
	}
	return value.Normalize(m)
}

// unionReader yields the value of the member a row holds; the C API lays a
// UNION out as a STRUCT whose first child is the member tag.
type unionReader struct {
	vec
	tag     unsafe.Pointer
	members []reader
}

func (r *unionReader) bind(x bindings.Vector) {
	r.vec.bind(x)
	r.tag = bindings.VectorGetData(bindings.StructVectorGetChild(x, 0))
	for i, m := range r.members {
		m.bind(bindings.StructVectorGetChild(x, bindings.IdxT(i+1)))
	}
}

func (r *unionReader) value(row uint64) (any, error) {
	tag := int(at[uint8](r.tag, row))
	if tag >= len(r.members) {
		return nil, fmt.Errorf("union tag %d outside its %d members", tag, len(r.members))
	}
	return elementValue(r.members[tag], row)
}
