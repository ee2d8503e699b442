package file

import (
	"bytes"
	"encoding/csv"
	"fmt"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// encodeJSONL renders records as JSON Lines, one object per record:
//
//	{"op":"upsert","key":"42","data":{"email":"a@b.c","plan":"pro"}}
//	{"op":"delete","key":"7"}
//
// value.AppendJSON keeps decimals exact and data in mapping order, which
// encoding/json on a map would not.
func encodeJSONL(fields []string, recs []connector.Record) ([]byte, error) {
	var buf []byte
	for i := range recs {
		r := &recs[i]
		buf = append(buf, `{"op":`...)
		buf = value.AppendJSONString(buf, string(r.Op))
		buf = append(buf, `,"key":`...)
		buf = value.AppendJSONString(buf, r.Key)
		if r.Op != connector.OpDelete {
			buf = append(buf, `,"data":{`...)
			for j, f := range fields {
				v, err := fieldValue(r, j, f)
				if err != nil {
					return nil, err
				}
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = value.AppendJSONString(buf, f)
				buf = append(buf, ':')
				buf = value.AppendJSON(buf, v)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, "}\n"...)
	}
	return buf, nil
}

// encodeCSV renders records as CSV rows "op,key,<field>…" with each value
// as value.Text (empty for NULL and for the fields of deletes), preceded
// by the header row when header is set.
func encodeCSV(header bool, fields []string, recs []connector.Record) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	row := make([]string, 2+len(fields))
	if header {
		row[0], row[1] = "op", "key"
		copy(row[2:], fields)
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	for i := range recs {
		r := &recs[i]
		row[0], row[1] = string(r.Op), r.Key
		for j, f := range fields {
			row[2+j] = ""
			if r.Op == connector.OpDelete {
				continue
			}
			v, err := fieldValue(r, j, f)
			if err != nil {
				return nil, err
			}
			row[2+j] = value.Text(v)
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fieldValue returns the value of the mapped field at position i of the
// mapping; records carry their fields in mapping order, and a lookup by
// name covers one that does not.
func fieldValue(r *connector.Record, i int, name string) (any, error) {
	if i < len(r.Fields) && r.Fields[i].Name == name {
		return r.Fields[i].Value, nil
	}
	if v, ok := r.Field(name); ok {
		return v, nil
	}
	return nil, fmt.Errorf("record lacks a mapped field %q (key %s)", name, r.Key)
}
