package streamsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/stream"
)

// ModelTables lists the tables a model's query reads, as PostgreSQL plans
// it: views are looked through, and a table read twice is listed once.
// Tables read only inside functions the query calls are not seen.
func ModelTables(ctx context.Context, url, sql string) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var plan []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (VERBOSE, FORMAT JSON) "+sql).Scan(&plan); err != nil {
		return nil, fmt.Errorf("plan the model's query to find its tables: %s", rootCause(err))
	}
	var doc []struct {
		Plan json.RawMessage `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) == 0 {
		return nil, fmt.Errorf("read the model's query plan: %v", err)
	}
	var tables []string
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var n struct {
			Relation string            `json:"Relation Name"`
			Schema   string            `json:"Schema"`
			Plans    []json.RawMessage `json:"Plans"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		if n.Relation != "" {
			// VERBOSE names every relation's schema.
			name := stream.Table{Schema: n.Schema, Name: n.Relation}.String()
			if !slices.Contains(tables, name) {
				tables = append(tables, name)
			}
		}
		for _, p := range n.Plans {
			if err := walk(p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc[0].Plan); err != nil {
		return nil, fmt.Errorf("read the model's query plan: %w", err)
	}
	if len(tables) == 0 {
		return nil, errors.New("the model's query reads no table: there is nothing to follow")
	}
	slices.Sort(tables)
	return tables, nil
}

// rootCause is the server's message when there is one: the connection URL
// never appears in it.
func rootCause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
