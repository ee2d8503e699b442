package duckdb

import (
	"fmt"
	"strconv"
	"strings"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// newReader builds the reader of a column from its logical type. The
// caller keeps ownership of lt.
func newReader(lt bindings.LogicalType) (reader, error) {
	if bindings.LogicalTypeGetAlias(lt) == "JSON" {
		return &jsonReader{}, nil
	}
	switch t := bindings.GetTypeId(lt); t {
	case bindings.TypeBoolean:
		return &boolReader{}, nil
	case bindings.TypeTinyInt:
		return &intReader[int8]{}, nil
	case bindings.TypeSmallInt:
		return &intReader[int16]{}, nil
	case bindings.TypeInteger:
		return &intReader[int32]{}, nil
	case bindings.TypeBigInt:
		return &intReader[int64]{}, nil
	case bindings.TypeUTinyInt:
		return &intReader[uint8]{}, nil
	case bindings.TypeUSmallInt:
		return &intReader[uint16]{}, nil
	case bindings.TypeUInteger:
		return &intReader[uint32]{}, nil
	case bindings.TypeUBigInt:
		return &ubigintReader{}, nil
	case bindings.TypeHugeInt:
		return &hugeintReader{}, nil
	case bindings.TypeUHugeInt:
		return &hugeintReader{unsigned: true}, nil
	case bindings.TypeBigNum:
		return &bignumReader{}, nil
	case bindings.TypeFloat:
		return &floatReader{}, nil
	case bindings.TypeDouble:
		return &doubleReader{}, nil
	case bindings.TypeDecimal:
		return &decimalReader{
			scale:    int(bindings.DecimalScale(lt)),
			internal: bindings.DecimalInternalType(lt),
		}, nil
	case bindings.TypeVarchar:
		return &varcharReader{}, nil
	case bindings.TypeBlob, bindings.TypeGeometry:
		return &blobReader{}, nil
	case bindings.TypeBit:
		return &bitReader{}, nil
	case bindings.TypeEnum:
		n := bindings.EnumDictionarySize(lt)
		dict := make([]string, n)
		for i := range dict {
			dict[i] = bindings.EnumDictionaryValue(lt, bindings.IdxT(i))
		}
		return &enumReader{internal: bindings.EnumInternalType(lt), dict: dict}, nil
	case bindings.TypeUUID:
		return &uuidReader{}, nil
	case bindings.TypeDate:
		return &dateReader{}, nil
	case bindings.TypeTimestamp, bindings.TypeTimestampTZ:
		return &timestampReader{unit: unitMicro}, nil
	case bindings.TypeTimestampS:
		return &timestampReader{unit: unitSecond}, nil
	case bindings.TypeTimestampMS:
		return &timestampReader{unit: unitMilli}, nil
	case bindings.TypeTimestampNS:
		return &timestampReader{unit: unitNano}, nil
	case bindings.TypeTime:
		return &timeReader{}, nil
	case bindings.TypeTimeNS:
		return &timeReader{nanos: true}, nil
	case bindings.TypeTimeTZ:
		return &timeTZReader{}, nil
	case bindings.TypeInterval:
		return &intervalReader{}, nil
	case bindings.TypeSQLNull:
		return nullReader{}, nil
	case bindings.TypeList:
		child, err := childReader(bindings.ListTypeChildType(lt))
		if err != nil {
			return nil, err
		}
		return &listReader{child: child}, nil
	case bindings.TypeArray:
		child, err := childReader(bindings.ArrayTypeChildType(lt))
		if err != nil {
			return nil, err
		}
		return &arrayReader{child: child, size: uint64(bindings.ArrayTypeArraySize(lt))}, nil
	case bindings.TypeMap:
		key, err := childReader(bindings.MapTypeKeyType(lt))
		if err != nil {
			return nil, err
		}
		val, err := childReader(bindings.MapTypeValueType(lt))
		if err != nil {
			return nil, err
		}
		return &mapReader{key: key, val: val}, nil
	case bindings.TypeStruct:
		n := int(bindings.StructTypeChildCount(lt))
		r := &structReader{names: make([]string, n), children: make([]reader, n)}
		for i := range n {
			r.names[i] = bindings.StructTypeChildName(lt, bindings.IdxT(i))
			c, err := childReader(bindings.StructTypeChildType(lt, bindings.IdxT(i)))
			if err != nil {
				return nil, err
			}
			r.children[i] = c
		}
		return r, nil
	case bindings.TypeUnion:
		n := int(bindings.UnionTypeMemberCount(lt))
		r := &unionReader{members: make([]reader, n)}
		for i := range n {
			m, err := childReader(bindings.UnionTypeMemberType(lt, bindings.IdxT(i)))
			if err != nil {
				return nil, err
			}
			r.members[i] = m
		}
		return r, nil
	default:
		return nil, fmt.Errorf("unsupported DuckDB type %s; cast the column in the model's SQL (to VARCHAR, for example)", typeName(lt))
	}
}

// childReader builds the reader of a nested type and releases the type.
func childReader(lt bindings.LogicalType) (reader, error) {
	defer bindings.DestroyLogicalType(&lt)
	return newReader(lt)
}

// baseTypeName names the types that have no parameters.
func baseTypeName(t bindings.Type) (string, bool) {
	switch t {
	case bindings.TypeBoolean:
		return "BOOLEAN", true
	case bindings.TypeTinyInt:
		return "TINYINT", true
	case bindings.TypeSmallInt:
		return "SMALLINT", true
	case bindings.TypeInteger:
		return "INTEGER", true
	case bindings.TypeBigInt:
		return "BIGINT", true
	case bindings.TypeUTinyInt:
		return "UTINYINT", true
	case bindings.TypeUSmallInt:
		return "USMALLINT", true
	case bindings.TypeUInteger:
		return "UINTEGER", true
	case bindings.TypeUBigInt:
		return "UBIGINT", true
	case bindings.TypeHugeInt:
		return "HUGEINT", true
	case bindings.TypeUHugeInt:
		return "UHUGEINT", true
	case bindings.TypeBigNum:
		return "BIGNUM", true
	case bindings.TypeFloat:
		return "FLOAT", true
	case bindings.TypeDouble:
		return "DOUBLE", true
	case bindings.TypeVarchar:
		return "VARCHAR", true
	case bindings.TypeBlob:
		return "BLOB", true
	case bindings.TypeGeometry:
		return "GEOMETRY", true
	case bindings.TypeBit:
		return "BIT", true
	case bindings.TypeUUID:
		return "UUID", true
	case bindings.TypeDate:
		return "DATE", true
	case bindings.TypeTimestamp:
		return "TIMESTAMP", true
	case bindings.TypeTimestampTZ:
		return "TIMESTAMP WITH TIME ZONE", true
	case bindings.TypeTimestampS:
		return "TIMESTAMP_S", true
	case bindings.TypeTimestampMS:
		return "TIMESTAMP_MS", true
	case bindings.TypeTimestampNS:
		return "TIMESTAMP_NS", true
	case bindings.TypeTime:
		return "TIME", true
	case bindings.TypeTimeNS:
		return "TIME_NS", true
	case bindings.TypeTimeTZ:
		return "TIME WITH TIME ZONE", true
	case bindings.TypeInterval:
		return "INTERVAL", true
	case bindings.TypeSQLNull:
		return "NULL", true
	case bindings.TypeVariant:
		return "VARIANT", true
	}
	return "", false
}

// typeName renders a logical type as DuckDB writes it in DESCRIBE:
// "DECIMAL(12,2)", "VARCHAR[]", "STRUCT(a INTEGER, b VARCHAR)".
func typeName(lt bindings.LogicalType) string {
	if alias := bindings.LogicalTypeGetAlias(lt); alias != "" {
		return alias
	}
	t := bindings.GetTypeId(lt)
	switch t {
	case bindings.TypeDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", bindings.DecimalWidth(lt), bindings.DecimalScale(lt))
	case bindings.TypeEnum:
		n := bindings.EnumDictionarySize(lt)
		vals := make([]string, 0, min(n, 8))
		for i := range min(n, 8) {
			vals = append(vals, "'"+strings.ReplaceAll(bindings.EnumDictionaryValue(lt, bindings.IdxT(i)), "'", "''")+"'")
		}
		if n > 8 {
			vals = append(vals, "…")
		}
		return "ENUM(" + strings.Join(vals, ", ") + ")"
	case bindings.TypeList:
		return childName(bindings.ListTypeChildType(lt)) + "[]"
	case bindings.TypeArray:
		return childName(bindings.ArrayTypeChildType(lt)) + "[" + strconv.Itoa(int(bindings.ArrayTypeArraySize(lt))) + "]"
	case bindings.TypeMap:
		return "MAP(" + childName(bindings.MapTypeKeyType(lt)) + ", " + childName(bindings.MapTypeValueType(lt)) + ")"
	case bindings.TypeStruct:
		n := int(bindings.StructTypeChildCount(lt))
		fields := make([]string, n)
		for i := range n {
			fields[i] = quoteIdent(bindings.StructTypeChildName(lt, bindings.IdxT(i))) + " " +
				childName(bindings.StructTypeChildType(lt, bindings.IdxT(i)))
		}
		return "STRUCT(" + strings.Join(fields, ", ") + ")"
	case bindings.TypeUnion:
		n := int(bindings.UnionTypeMemberCount(lt))
		members := make([]string, n)
		for i := range n {
			members[i] = quoteIdent(bindings.UnionTypeMemberName(lt, bindings.IdxT(i))) + " " +
				childName(bindings.UnionTypeMemberType(lt, bindings.IdxT(i)))
		}
		return "UNION(" + strings.Join(members, ", ") + ")"
	}
	if name, ok := baseTypeName(t); ok {
		return name
	}
	return fmt.Sprintf("TYPE%d", int(t))
}

func childName(lt bindings.LogicalType) string {
	defer bindings.DestroyLogicalType(&lt)
	return typeName(lt)
}

// quoteIdent quotes a struct field name only when DuckDB would.
func quoteIdent(s string) string {
	plain := s != ""
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
