package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

func TestSQL(t *testing.T) {
	d := &destination{
		table:  tableName{"public", `a"b`},
		fields: []string{"org", "id", "name"},
		ident:  []string{"org", "id"},
	}
	cols := map[string]column{"org": {Type: "text"}, "id": {Type: "integer"}, "name": {Type: "character varying(20)"}}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"insert", d.insertSQL(2, false),
			`INSERT INTO "public"."a""b" ("org", "id", "name") VALUES ($1, $2, $3), ($4, $5, $6)`},
		{"upsert", d.insertSQL(1, true),
			`INSERT INTO "public"."a""b" ("org", "id", "name") VALUES ($1, $2, $3) ON CONFLICT ("org", "id") DO UPDATE SET "name" = EXCLUDED."name"`},
		{"update", d.updateSQL(2, cols),
			`UPDATE "public"."a""b" AS t SET "name" = v.c2 FROM (VALUES (0, $1::text, $2::integer, $3::character varying(20)), (1, $4::text, $5::integer, $6::character varying(20))) AS v(o, c0, c1, c2) WHERE t."org" = v.c0 AND t."id" = v.c1 RETURNING v.o`},
		{"delete", d.deleteSQL(2, cols),
			`DELETE FROM "public"."a""b" AS t USING (VALUES ($1::text, $2::integer), ($3::text, $4::integer)) AS v(c0, c1) WHERE t."org" = v.c0 AND t."id" = v.c1`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}

	onlyIdent := &destination{table: tableName{"s", "t"}, fields: []string{"id"}, ident: []string{"id"}}
	if got, want := onlyIdent.insertSQL(1, true), `INSERT INTO "s"."t" ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING`; got != want {
		t.Errorf("upsert of identifier only:\n got %s\nwant %s", got, want)
	}
	if got, want := onlyIdent.updateSQL(1, map[string]column{"id": {Type: "bigint"}}),
		`UPDATE "s"."t" AS t SET "id" = v.c0 FROM (VALUES (0, $1::bigint)) AS v(o, c0) WHERE t."id" = v.c0 RETURNING v.o`; got != want {
		t.Errorf("update of identifier only:\n got %s\nwant %s", got, want)
	}
}

func TestArg(t *testing.T) {
	tests := []struct {
		v    any
		col  column
		want any
	}{
		{nil, column{}, nil},
		{int64(-3), column{}, "-3"},
		{1e21, column{}, "1e+21"},
		{true, column{}, "true"},
		{value.Decimal("-0.001"), column{}, "-0.001"},
		{value.Date("2024-01-31"), column{}, "2024-01-31"},
		{[]byte{1, 2}, column{Bytea: true}, []byte{1, 2}},
		{[]byte{1, 2}, column{}, "AQI="},
		{[]any{int64(1), "a"}, column{}, `[1,"a"]`},
		{[]any{int64(1), "a\"\\", nil, []any{"x"}, []byte{0xab}}, column{Array: true}, `{"1","a\"\\",NULL,{"x"},"\\xab"}`},
		{[]any{}, column{Array: true}, `{}`},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, arg(tt.v, tt.col)); diff != "" {
			t.Errorf("arg(%#v, %+v) (-want +got):\n%s", tt.v, tt.col, diff)
		}
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		err  error
		want *connector.RequestError // nil: the error passes through unchanged
	}{
		{&pgconn.PgError{Code: "23505", Message: "duplicate key", Detail: "Key (id)=(1) already exists."},
			&connector.RequestError{Message: "duplicate key: Key (id)=(1) already exists."}},
		{&pgconn.PgError{Code: "22P02", Message: "invalid input syntax"}, &connector.RequestError{Message: "invalid input syntax"}},
		{&pgconn.PgError{Code: "40P01", Message: "deadlock detected"}, &connector.RequestError{Message: "deadlock detected", Retryable: true}},
		{&pgconn.PgError{Code: "40001", Message: "could not serialize"}, &connector.RequestError{Message: "could not serialize", Retryable: true}},
		{&pgconn.PgError{Code: "53300", Message: "too many connections"}, &connector.RequestError{Message: "too many connections", Retryable: true}},
		{&pgconn.PgError{Code: "08006", Message: "connection failure"}, &connector.RequestError{Message: "connection failure", Retryable: true}},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection"}, &connector.RequestError{Message: "terminating connection", Retryable: true}},
		{&pgconn.PgError{Code: "42501", Message: "permission denied for table t"}, &connector.RequestError{Message: "permission denied for table t", Auth: true}},
		{errors.New("dial tcp: connection refused"), nil},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("upsert 3 records: %w", tt.err)
		got := classify(ctx, wrapped)
		if tt.want == nil {
			if got != wrapped {
				t.Errorf("classify(%v) = %#v, want the error unchanged", tt.err, got)
			}
			continue
		}
		var re *connector.RequestError
		if !errors.As(got, &re) {
			t.Fatalf("classify(%v) = %v, want a RequestError", tt.err, got)
		}
		if diff := cmp.Diff(tt.want, re); diff != "" {
			t.Errorf("classify(%v) (-want +got):\n%s", tt.err, diff)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	pgErr := fmt.Errorf("x: %w", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"})
	if got := classify(canceled, pgErr); got != pgErr {
		t.Errorf("classify under a canceled context = %v, want the error unchanged", got)
	}
}

// TestChunking sends batches wider than one statement's parameters.
func TestChunking(t *testing.T) {
	f := setup(t, usersDDL)
	d := f.open(t, nil, usersTarget).(*destination)
	d.maxParams = 7 // two rows of three fields, or seven keys, per statement
	ctx := context.Background()
	var ups, updates, dels []connector.Record
	for i := int64(1); i <= 5; i++ {
		ups = append(ups, user("upsert", i, fmt.Sprintf("u%d", i), "free"))
		updates = append(updates, user("update", i, fmt.Sprintf("v%d", i), "pro"))
	}
	updates = append(updates, user("update", 42, "missing", "pro"))
	dels = append(dels, del("1"), del("2"), del("3"), del("4"), del("6"), del("7"), del("8"), del("9"))
	if err := d.Write(ctx, batch(ups...)); err != nil {
		t.Fatal(err)
	}
	err := d.Write(ctx, batch(updates...))
	var rowErrs *connector.RowErrors
	if !errors.As(err, &rowErrs) || len(rowErrs.Failed) != 1 || rowErrs.Failed[5] == "" {
		t.Fatalf("updates: err = %v, want one row error at index 5", err)
	}
	want := [][]string{{"1", "v1", "pro"}, {"2", "v2", "pro"}, {"3", "v3", "pro"}, {"4", "v4", "pro"}, {"5", "v5", "pro"}}
	if diff := cmp.Diff(want, f.dump(t, `SELECT id::text, email, plan FROM users ORDER BY id`)); diff != "" {
		t.Errorf("after updates (-want +got):\n%s", diff)
	}
	if err := d.Write(ctx, batch(dels...)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"5"}}, f.dump(t, `SELECT id::text FROM users`)); diff != "" {
		t.Errorf("after deletes (-want +got):\n%s", diff)
	}
}
