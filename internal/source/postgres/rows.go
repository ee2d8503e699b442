package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riptide-data/riptide/internal/connector"
)

const (
	cursorName = "riptide_rows"
	// The FETCH is a named statement so that other statements on the
	// connection (the type lookup) do not replace it.
	fetchStatement = "riptide_fetch"
)

// rows streams a cursor's result, one FETCH after another, on a connection
// of its own.
type rows struct {
	ctx       context.Context
	conn      *pgconn.PgConn
	fetchSize int

	formats  []int16
	decoders []decoder
	cols     []connector.Column

	rr    *pgconn.ResultReader // the FETCH being read
	batch int                  // rows read from rr
	done  bool
	vals  []any
	err   error
}

func (r *rows) exec(sql string) error {
	_, err := r.conn.ExecParams(r.ctx, sql, nil, nil, nil, nil).Close()
	return err
}

func (r *rows) open(sql string) error {
	if err := r.exec("BEGIN READ ONLY"); err != nil {
		return err
	}
	if plansCursorsForFastStart(r.conn.ParameterStatus("server_version")) {
		// A cursor is planned to return its first rows fast; a model is
		// read in full, so plan for the whole result.
		if err := r.exec("SET LOCAL cursor_tuple_fraction = 1"); err != nil {
			return err
		}
	}
	// The extended protocol runs exactly one statement: a model cannot
	// smuggle a second one past the cursor.
	if err := r.exec("DECLARE " + cursorName + " NO SCROLL CURSOR FOR\n" + trimStatement(sql)); err != nil {
		return err
	}
	// Describing the FETCH gives the result's columns before any row, so
	// that formats and decoders are chosen once, for the whole query.
	sd, err := r.conn.Prepare(r.ctx, fetchStatement, "FETCH "+strconv.Itoa(r.fetchSize)+" FROM "+cursorName, nil)
	if err != nil {
		return err
	}
	n := len(sd.Fields)
	r.formats = make([]int16, n)
	r.decoders = make([]decoder, n)
	r.cols = make([]connector.Column, n)
	r.vals = make([]any, n)
	var unknown []uint32
	for i, f := range sd.Fields {
		r.decoders[i] = decoderFor(f.DataTypeOID)
		if r.decoders[i] != nil {
			r.formats[i] = pgtype.BinaryFormatCode
		} else {
			r.formats[i] = pgtype.TextFormatCode
		}
		name, ok := typeName(f.DataTypeOID, f.TypeModifier)
		if !ok {
			unknown = append(unknown, f.DataTypeOID)
		}
		r.cols[i] = connector.Column{Name: f.Name, DatabaseType: name}
	}
	if len(unknown) > 0 {
		names, err := r.typeNames(unknown)
		if err != nil {
			return fmt.Errorf("look up column types: %w", err)
		}
		for i, f := range sd.Fields {
			if name, ok := names[f.DataTypeOID]; ok {
				r.cols[i].DatabaseType = name
			}
		}
	}
	return nil
}

// typeNames looks up types the source does not know by OID (enums,
// domains, extension types) in the catalog.
func (r *rows) typeNames(oids []uint32) (map[uint32]string, error) {
	list := make([]string, len(oids))
	for i, o := range oids {
		list[i] = strconv.FormatUint(uint64(o), 10)
	}
	rr := r.conn.ExecParams(r.ctx, "SELECT oid::int8, typname::text FROM pg_catalog.pg_type WHERE oid IN ("+strings.Join(list, ",")+")",
		nil, nil, nil, []int16{pgtype.TextFormatCode, pgtype.TextFormatCode})
	names := map[uint32]string{}
	for rr.NextRow() {
		v := rr.Values()
		o, err := strconv.ParseUint(string(v[0]), 10, 32)
		if err == nil {
			names[uint32(o)] = string(v[1])
		}
	}
	_, err := rr.Close()
	return names, err
}

// trimStatement drops the trailing semicolons and blanks that would end
// the DECLARE early.
func trimStatement(sql string) string {
	return strings.TrimRight(sql, "; \t\r\n")
}

// plansCursorsForFastStart reports whether the server has
// cursor_tuple_fraction (PostgreSQL 8.4 and later). Redshift reports
// version 8.0 and has no such setting.
func plansCursorsForFastStart(version string) bool {
	major, rest := leadingNumber(version)
	if major != 8 {
		return major > 8
	}
	minor, _ := leadingNumber(strings.TrimPrefix(rest, "."))
	return minor >= 4
}

// leadingNumber parses the digits that start s; -1 when there are none.
func leadingNumber(s string) (int, string) {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil {
		return -1, s
	}
	return n, s[end:]
}

func (r *rows) Columns() []connector.Column { return r.cols }

func (r *rows) Next() bool {
	for r.err == nil && r.conn != nil {
		if r.rr == nil {
			if r.done {
				return false
			}
			r.rr = r.conn.ExecPrepared(r.ctx, fetchStatement, nil, nil, r.formats)
			r.batch = 0
		}
		// A batch already on its way is not interrupted by a cancel
		// request; check the context now and then while reading it.
		if r.batch%1024 == 1023 && r.ctx.Err() != nil {
			r.err = fmt.Errorf("query: %w", r.ctx.Err())
			return false
		}
		if r.rr.NextRow() {
			r.batch++
			return r.decode(r.rr.Values())
		}
		_, err := r.rr.Close()
		r.rr = nil
		switch {
		case r.ctx.Err() != nil:
			r.err = fmt.Errorf("query: %w", r.ctx.Err())
		case err != nil:
			r.err = fmt.Errorf("query: %w", err)
		case r.batch < r.fetchSize:
			// A short batch is the cursor's last.
			r.done = true
			return false
		}
	}
	return false
}

func (r *rows) decode(raw [][]byte) bool {
	for i, b := range raw {
		if b == nil {
			r.vals[i] = nil
			continue
		}
		if r.decoders[i] == nil {
			r.vals[i] = string(b)
			continue
		}
		v, err := r.decoders[i](b)
		if err != nil {
			r.err = fmt.Errorf("read column %q: %w", r.cols[i].Name, err)
			return false
		}
		r.vals[i] = v
	}
	return true
}

// Values returns the current row. The slice is the same one for every row,
// overwritten by Next; the values in it stay valid after Next.
func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

// Close ends the query by closing its connection, which rolls the
// read-only transaction back and drops the cursor. It may be called more
// than once.
func (r *rows) Close() error {
	if r.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Closing the connection without reading the rest of a batch lets
	// the server stop sending it.
	err := r.conn.Close(ctx)
	r.conn, r.rr = nil, nil
	if err != nil && r.err == nil {
		return fmt.Errorf("close postgres connection: %w", err)
	}
	return nil
}
