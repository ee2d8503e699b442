package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riptide-data/riptide/internal/value"
)

// TextDecoder returns the function that turns one value of a column of
// type oid, in PostgreSQL's text output format (what logical replication
// sends), into the canonical value this source gives the same column in a
// query. A row read from a change stream must hash exactly like the same
// row read by a model's query, so a type the source reads in binary is
// parsed from text and re-encoded to binary for the very decoder a query
// uses; a type the source reads as text stays the text.
//
// The text must be written with DateStyle ISO and IntervalStyle postgres,
// the server defaults.
func TextDecoder(oid uint32) func(text []byte) (any, error) {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.XMLOID:
		return func(text []byte) (any, error) { return string(text), nil }
	case pgtype.JSONOID, pgtype.JSONBOID:
		// jsonb's binary form is a version byte and then its text.
		return func(text []byte) (any, error) { return value.ParseJSON(text) }
	}
	dec := decoderFor(oid)
	if dec == nil {
		return func(text []byte) (any, error) { return string(text), nil }
	}
	m := pgtype.NewMap()
	typ, ok := m.TypeForOID(oid)
	if !ok {
		return func(text []byte) (any, error) { return string(text), nil }
	}
	infinite := oid == pgtype.DateOID || oid == pgtype.TimestampOID || oid == pgtype.TimestamptzOID
	return func(text []byte) (any, error) {
		// The decoders keep PostgreSQL's text for the infinities, which
		// have no Go value to go through.
		if infinite && (string(text) == "infinity" || string(text) == "-infinity") {
			return string(text), nil
		}
		v, err := typ.Codec.DecodeValue(m, oid, pgtype.TextFormatCode, text)
		if err != nil {
			return nil, fmt.Errorf("parse %s value: %w", typ.Name, err)
		}
		bin, err := m.Encode(oid, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			return nil, fmt.Errorf("encode %s value: %w", typ.Name, err)
		}
		if bin == nil {
			return nil, fmt.Errorf("%s value %q became NULL", typ.Name, text)
		}
		return dec(bin)
	}
}
