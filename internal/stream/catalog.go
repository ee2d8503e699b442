package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// ModelTables lists the tables a model's query reads, as PostgreSQL plans
// it: views are looked through, and a table read twice is listed once.
// Tables read only inside functions the query calls are not seen.
func ModelTables(ctx context.Context, url, sql string) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("stream: connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var plan []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (VERBOSE, FORMAT JSON) "+sql).Scan(&plan); err != nil {
		return nil, fmt.Errorf("stream: plan the model's query to find its tables: %s", rootCause(err))
	}
	var doc []struct {
		Plan json.RawMessage `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) == 0 {
		return nil, fmt.Errorf("stream: read the model's query plan: %v", err)
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
			name := Table{Schema: n.Schema, Name: n.Relation}.String()
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
		return nil, fmt.Errorf("stream: read the model's query plan: %w", err)
	}
	if len(tables) == 0 {
		return nil, errors.New("stream: the model's query reads no table: there is nothing to follow")
	}
	slices.Sort(tables)
	return tables, nil
}

// SlotLag is how many bytes of write-ahead log the server keeps for a
// slot that its stream has not acknowledged: what a stream that is down or
// behind has yet to deliver (and the disk it holds on the database
// server). ok is false when the slot does not exist (yet).
func SlotLag(ctx context.Context, url, slot string) (lag int64, ok bool, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, false, fmt.Errorf("stream: connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lag)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("stream: read the lag of slot %s: %s", slot, rootCause(err))
	}
	return lag, true, nil
}
