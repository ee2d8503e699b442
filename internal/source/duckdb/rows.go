package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/riptide-data/riptide/internal/connector"
)

// rows streams one query's result. It owns its own connection, so that
// queries on one Source run independently.
type rows struct {
	ctx context.Context

	// mu keeps the interrupt, which runs on its own goroutine when ctx is
	// done, from touching the connection while Close releases it.
	mu            sync.Mutex
	closed        bool
	conn          bindings.Connection
	stopInterrupt func() bool

	stmt   bindings.PreparedStatement
	res    bindings.Result
	hasRes bool
	chunk  bindings.DataChunk
	size   uint64
	pos    uint64
	done   bool

	cols    []connector.Column
	readers []reader
	// vals is the row handed out by Values, reused for every row.
	vals []any
	err  error
}

func (r *rows) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		bindings.Interrupt(r.conn)
	}
}

func (r *rows) start(sql string) error {
	var ext bindings.ExtractedStatements
	n := bindings.ExtractStatements(r.conn, sql, &ext)
	defer bindings.DestroyExtracted(&ext)
	if n == 0 {
		if msg := bindings.ExtractStatementsError(ext); msg != "" {
			return errors.New(msg)
		}
		return errors.New("no statement to run")
	}
	for i := range n {
		if err := r.prepare(ext, i); err != nil {
			return err
		}
		if i < n-1 {
			var res bindings.Result
			state := bindings.ExecutePrepared(r.stmt, &res)
			msg := bindings.ResultError(&res)
			bindings.DestroyResult(&res)
			bindings.DestroyPrepare(&r.stmt)
			if state == bindings.StateError {
				return errors.New(msg)
			}
		}
	}
	var pending bindings.PendingResult
	// The streaming variant is deprecated in the C API in favour of a
	// configuration flag the bindings do not expose yet; it is the only
	// way to fetch a result without materialising it first.
	if bindings.PendingPreparedStreaming(r.stmt, &pending) == bindings.StateError { //nolint:staticcheck
		msg := bindings.PendingError(pending)
		bindings.DestroyPending(&pending)
		return errors.New(msg)
	}
	state := bindings.ExecutePending(pending, &r.res)
	bindings.DestroyPending(&pending)
	r.hasRes = true
	if state == bindings.StateError {
		return errors.New(bindings.ResultError(&r.res))
	}
	return r.describe()
}

func (r *rows) prepare(ext bindings.ExtractedStatements, i bindings.IdxT) error {
	if bindings.PrepareExtractedStatement(r.conn, ext, i, &r.stmt) == bindings.StateError {
		msg := bindings.PrepareError(r.stmt)
		bindings.DestroyPrepare(&r.stmt)
		return errors.New(msg)
	}
	return nil
}

// describe builds the columns and their readers, once per query.
func (r *rows) describe() error {
	n := int(bindings.ColumnCount(&r.res))
	r.cols = make([]connector.Column, n)
	r.readers = make([]reader, n)
	r.vals = make([]any, n)
	for i := range n {
		lt := bindings.ColumnLogicalType(&r.res, bindings.IdxT(i))
		name := bindings.ColumnName(&r.res, bindings.IdxT(i))
		r.cols[i] = connector.Column{Name: name, DatabaseType: typeName(lt)}
		rd, err := newReader(lt)
		bindings.DestroyLogicalType(&lt)
		if err != nil {
			return fmt.Errorf("column %q: %w", name, err)
		}
		r.readers[i] = rd
	}
	return nil
}

func (r *rows) Columns() []connector.Column { return r.cols }

func (r *rows) Next() bool {
	if r.err != nil || r.done {
		return false
	}
	for r.pos >= r.size {
		if !r.fetch() {
			return false
		}
	}
	for i, rd := range r.readers {
		if rd.null(r.pos) {
			r.vals[i] = nil
			continue
		}
		v, err := rd.value(r.pos)
		if err != nil {
			r.err = fmt.Errorf("read column %q: %w", r.cols[i].Name, err)
			return false
		}
		r.vals[i] = v
	}
	r.pos++
	return true
}

// fetch replaces the current chunk with the next one.
func (r *rows) fetch() bool {
	bindings.DestroyDataChunk(&r.chunk)
	r.size, r.pos = 0, 0
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("query: %w", err)
		return false
	}
	r.chunk = bindings.FetchChunk(r.res)
	if r.chunk.Ptr == nil {
		r.done = true
		if msg := bindings.ResultError(&r.res); msg != "" {
			if err := r.ctx.Err(); err != nil {
				r.err = fmt.Errorf("query: %w", err)
			} else {
				r.err = fmt.Errorf("query: %s", strings.TrimSpace(msg))
			}
		}
		return false
	}
	r.size = uint64(bindings.DataChunkGetSize(r.chunk))
	for i, rd := range r.readers {
		rd.bind(bindings.DataChunkGetVector(r.chunk, bindings.IdxT(i)))
	}
	return true
}

// Values returns the current row. The slice is the same one for every row,
// overwritten by Next; the values in it stay valid after Next.
func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

// Close releases the result and the query's connection. It may be called
// more than once.
func (r *rows) Close() error {
	if r.stopInterrupt != nil {
		r.stopInterrupt()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.done, r.size, r.pos = true, 0, 0
	bindings.DestroyDataChunk(&r.chunk)
	if r.hasRes {
		bindings.DestroyResult(&r.res)
		r.hasRes = false
	}
	bindings.DestroyPrepare(&r.stmt)
	bindings.Disconnect(&r.conn)
	return nil
}
