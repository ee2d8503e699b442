package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// typeName names a built-in type as PostgreSQL's format_type does, with
// its modifier ("numeric(12,2)", "character varying(100)"). It reports
// false for types it does not know, which are looked up in the catalog.
func typeName(oid uint32, typmod int32) (string, bool) {
	switch oid {
	case pgtype.NumericOID:
		if typmod >= 4 {
			m := typmod - 4
			return fmt.Sprintf("numeric(%d,%d)", m>>16&0xFFFF, m&0xFFFF), true
		}
		return "numeric", true
	case pgtype.VarcharOID:
		if typmod >= 4 {
			return fmt.Sprintf("character varying(%d)", typmod-4), true
		}
		return "character varying", true
	case pgtype.BPCharOID:
		if typmod >= 4 {
			return fmt.Sprintf("character(%d)", typmod-4), true
		}
		return "character", true
	}
	if elem, ok := arrayElement(oid); ok {
		name, _ := typeName(elem, typmod)
		return name + "[]", true
	}
	name, ok := baseTypeName(oid)
	return name, ok
}

func baseTypeName(oid uint32) (string, bool) {
	switch oid {
	case pgtype.BoolOID:
		return "boolean", true
	case pgtype.Int2OID:
		return "smallint", true
	case pgtype.Int4OID:
		return "integer", true
	case pgtype.Int8OID:
		return "bigint", true
	case pgtype.OIDOID:
		return "oid", true
	case pgtype.XIDOID:
		return "xid", true
	case pgtype.CIDOID:
		return "cid", true
	case pgtype.Float4OID:
		return "real", true
	case pgtype.Float8OID:
		return "double precision", true
	case pgtype.TextOID:
		return "text", true
	case pgtype.NameOID:
		return "name", true
	case pgtype.XMLOID:
		return "xml", true
	case pgtype.ByteaOID:
		return "bytea", true
	case pgtype.DateOID:
		return "date", true
	case pgtype.TimestampOID:
		return "timestamp without time zone", true
	case pgtype.TimestamptzOID:
		return "timestamp with time zone", true
	case pgtype.TimeOID:
		return "time without time zone", true
	case pgtype.TimetzOID:
		return "time with time zone", true
	case pgtype.IntervalOID:
		return "interval", true
	case pgtype.UUIDOID:
		return "uuid", true
	case pgtype.JSONOID:
		return "json", true
	case pgtype.JSONBOID:
		return "jsonb", true
	case pgtype.InetOID:
		return "inet", true
	case pgtype.CIDROID:
		return "cidr", true
	case pgtype.MacaddrOID:
		return "macaddr", true
	case pgtype.QCharOID:
		return `"char"`, true
	case pgtype.UnknownOID:
		return "unknown", true
	}
	return "", false
}
