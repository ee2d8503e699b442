package stream

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/source/postgres"
	"github.com/riptide-data/riptide/internal/value"
)

// Lookup reads a model's current row by its key, decoded as the stream
// decodes: for a change the stream cannot complete on its own, an update
// that left a TOASTed value unsent. It holds one connection, opened at
// the first lookup; it is used by one goroutine.
type Lookup struct {
	url  string
	sql  string
	conn *pgconn.PgConn
}

// NewLookup prepares lookups of the rows of a model's query.
func NewLookup(url, modelSQL string) *Lookup {
	return &Lookup{url: url, sql: strings.TrimRight(strings.TrimSpace(modelSQL), ";")}
}

// Row reads the model's row whose key columns (named in keys, of the type
// OIDs types) hold key, canonical values. It returns the model's column
// names and the row's values, or found false when the model has no such
// row (any more).
func (l *Lookup) Row(ctx context.Context, keys []string, types []uint32, key []any) (cols []string, row []any, found bool, err error) {
	if l.conn == nil {
		cfg, err := textConfig(l.url)
		if err != nil {
			return nil, nil, false, err
		}
		if l.conn, err = pgconn.ConnectConfig(ctx, cfg); err != nil {
			return nil, nil, false, fmt.Errorf("stream: connect to read a row again: %s", rootCause(err))
		}
	}
	var where []string
	params := make([][]byte, len(keys))
	for i, k := range keys {
		where = append(where, fmt.Sprintf("riptide_model.%s = $%d", pgx.Identifier{k}.Sanitize(), i+1))
		if key[i] == nil {
			return nil, nil, false, fmt.Errorf("stream: key column %s without a value", k)
		}
		params[i] = []byte(value.Text(key[i]))
	}
	q := "SELECT * FROM (" + l.sql + ") AS riptide_model WHERE " + strings.Join(where, " AND ")
	res := l.conn.ExecParams(ctx, q, params, types, nil, nil).Read()
	if res.Err != nil {
		if l.conn.IsClosed() {
			l.conn = nil
		}
		return nil, nil, false, fmt.Errorf("stream: read the row again: %s", rootCause(res.Err))
	}
	if len(res.Rows) == 0 {
		return nil, nil, false, nil
	}
	if len(res.Rows) > 1 {
		return nil, nil, false, fmt.Errorf("stream: read the row again: %d rows share the key", len(res.Rows))
	}
	row = make([]any, len(res.FieldDescriptions))
	for i, fd := range res.FieldDescriptions {
		cols = append(cols, fd.Name)
		if res.Rows[0][i] == nil {
			continue
		}
		if row[i], err = postgres.TextDecoder(fd.DataTypeOID)(res.Rows[0][i]); err != nil {
			return nil, nil, false, fmt.Errorf("stream: read the row again: column %s: %w", fd.Name, err)
		}
	}
	return cols, row, true, nil
}

// Close closes the lookup's connection.
func (l *Lookup) Close(ctx context.Context) {
	if l.conn != nil {
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
}
