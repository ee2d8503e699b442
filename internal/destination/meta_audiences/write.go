package metaaudiences

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write adds a batch's upserted records with one POST and removes its
// deleted records (mirror) with one DELETE. It returns
// *connector.RowErrors for rows with no usable identifier and for rows
// Meta names among its invalid entry samples, and the
// *connector.RequestError of a call refused as a whole. Adding a member
// twice and removing a non-member change nothing, so a retried batch does
// no harm.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	schema := d.schema
	if len(schema) == 0 {
		schema = batchSchema(b)
	}
	var adds, removes [][]string
	var addIdx, removeIdx []int
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpUpsert, connector.OpUpdate:
			row, msg := d.row(r, schema)
			if msg != "" {
				failed[i] = msg
				continue
			}
			adds = append(adds, row)
			addIdx = append(addIdx, i)
		case connector.OpDelete:
			if d.removeBy == "" {
				failed[i] = "cannot remove: set identifier to the schema key the model's primary key holds"
				continue
			}
			e, why := Entry(d.removeBy, r.Key)
			if e == "" {
				failed[i] = "cannot remove: no usable " + d.removeBy + " in the primary key: " + why
				continue
			}
			removes = append(removes, []string{e})
			removeIdx = append(removeIdx, i)
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by meta_audiences", r.Op)
		}
	}
	if len(adds) > 0 {
		ans, err := d.users(ctx, http.MethodPost, schema, adds)
		if err != nil {
			return err
		}
		markInvalid(failed, ans, adds, addIdx)
	}
	if len(removes) > 0 {
		ans, err := d.users(ctx, http.MethodDelete, []string{d.removeBy}, removes)
		if err != nil {
			return err
		}
		markInvalid(failed, ans, removes, removeIdx)
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// row builds a payload row: each mapped value normalised and hashed, ""
// for a key without a value. It says why when no identifier is usable.
func (d *Destination) row(r *connector.Record, schema []string) ([]string, string) {
	row := make([]string, len(schema))
	entries := map[string]string{}
	var problems []string
	for j, k := range schema {
		v, ok := r.Field(k)
		if !ok || v == nil {
			continue
		}
		e, why := Entry(k, value.Text(v))
		if why != "" {
			problems = append(problems, why)
		}
		row[j] = e
		entries[k] = e
	}
	if !identifying(entries) {
		msg := "no usable identifier: need EMAIL, PHONE, MADID, EXTERN_ID or FN with LN"
		if len(problems) > 0 {
			msg += " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, msg
	}
	return row, ""
}

// batchSchema is the schema of a batch whose sync lists no mapped fields:
// the schema keys its records carry, in first-seen order.
func batchSchema(b *connector.Batch) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range b.Records {
		for _, f := range r.Fields {
			if isSchemaKey(f.Name) && !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// markInvalid fails the rows Meta names in invalid_entry_samples, whose
// keys are entries as sent. Meta only samples invalid entries: those it
// counts without naming cannot be tied to a row and stay delivered (Meta
// skipped them without failing the call).
func markInvalid(failed map[int]string, ans *usersAnswer, rows [][]string, idx []int) {
	if ans.NumInvalidEntries == 0 || len(ans.InvalidEntrySamples) == 0 {
		return
	}
	for j, row := range rows {
		for _, cell := range row {
			if reason, ok := ans.InvalidEntrySamples[cell]; ok && cell != "" {
				failed[idx[j]] = "meta refused an invalid entry: " + reason
				break
			}
		}
	}
}
