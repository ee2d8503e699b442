package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// result is one element of a collection response, in request order.
type result struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
}

// Write sends one batch: upserts through the collection upsert by external
// ID, inserts through the collection create, deletes by looking the
// records' Ids up by external ID and deleting them; or, when the api
// setting and the batch's size call for it, each operation as one Bulk
// API 2.0 ingest job. It returns
// *connector.RowErrors for records Salesforce refused or that lack the
// external ID, and the *connector.RequestError of a request refused whole.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var upserts, inserts, deletes []int
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpInsert:
			inserts = append(inserts, i)
			continue
		case connector.OpUpsert, connector.OpDelete:
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by salesforce", r.Op)
			continue
		}
		if d.idValue(r) == "" {
			failed[i] = "missing external ID: the record has no value for " + d.identifier
			continue
		}
		if r.Op == connector.OpUpsert {
			upserts = append(upserts, i)
		} else {
			deletes = append(deletes, i)
		}
	}
	bulk, err := d.choose(ctx, len(b.Records), len(upserts), len(inserts), len(deletes))
	if err != nil {
		return err
	}
	type run func(context.Context, *connector.Batch, []int) (map[int]string, error)
	upsert, insert, remove := run(d.upsert), run(d.insert), run(d.remove)
	if bulk {
		upsert, insert, remove = d.bulkUpsert, d.bulkInsert, d.bulkRemove
	}
	steps := []struct {
		idx []int
		run run
	}{{upserts, upsert}, {inserts, insert}, {deletes, remove}}
	for _, s := range steps {
		if len(s.idx) == 0 {
			continue
		}
		errs, err := s.run(ctx, b, s.idx)
		if err != nil {
			return err
		}
		for i, msg := range errs {
			failed[i] = msg
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// idValue is the record's external ID: the mapped field, or for a delete
// (which carries no fields) its primary key.
func (d *Destination) idValue(r *connector.Record) string {
	if r.Op == connector.OpDelete {
		return r.Key
	}
	v, ok := r.Field(d.identifier)
	if !ok || v == nil {
		return ""
	}
	return value.Text(v)
}

// sobject encodes a record as a collection element: the attributes map
// with its type, then the mapped fields (null clears a field).
func (d *Destination) sobject(r *connector.Record) json.RawMessage {
	buf := []byte(`{"attributes":{"type":`)
	buf = value.AppendJSONString(buf, d.object)
	buf = append(buf, '}')
	for _, f := range r.Fields {
		buf = append(buf, ',')
		buf = value.AppendJSONString(buf, f.Name)
		buf = append(buf, ':')
		buf = value.AppendJSON(buf, f.Value)
	}
	return append(buf, '}')
}

func (d *Destination) upsert(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	return d.collection(ctx, "PATCH", "composite/sobjects/"+d.object+"/"+d.identifier, b, idx)
}

func (d *Destination) insert(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	return d.collection(ctx, "POST", "composite/sobjects", b, idx)
}

func (d *Destination) collection(ctx context.Context, method, path string, b *connector.Batch, idx []int) (map[int]string, error) {
	records := make([]json.RawMessage, len(idx))
	for n, i := range idx {
		records[n] = d.sobject(&b.Records[i])
	}
	// A batch_size over 200 is meant for bulk; a batch of it that the
	// daily Bulk API allocation sent back here goes 200 records a
	// request. Otherwise a larger batch is the caller's error, which
	// Salesforce refuses whole.
	step := max(len(idx), 1)
	if d.batchSize > maxRecords {
		step = maxRecords
	}
	out := map[int]string{}
	for start := 0; start < len(idx); start += step {
		end := min(start+step, len(idx))
		// allOrNone false: Salesforce keeps the valid records and reports
		// the others one by one, which the engine needs to isolate bad
		// rows.
		var results []result
		if err := d.call(ctx, method, path, map[string]any{"allOrNone": false, "records": records[start:end]}, &results); err != nil {
			return nil, err
		}
		maps.Copy(out, byIndex(results, idx[start:end]))
	}
	return out, nil
}

// byIndex maps results, which come in request order, to batch indexes. A
// response that does not answer every record fails the unanswered ones,
// so nothing is taken as delivered that Salesforce did not confirm.
func byIndex(results []result, idx []int) map[int]string {
	out := map[int]string{}
	for n, i := range idx {
		if n >= len(results) {
			out[i] = fmt.Sprintf("salesforce answered %d results for %d records", len(results), len(idx))
			continue
		}
		if r := results[n]; !r.Success {
			out[i] = describeAll(r.Errors)
		}
	}
	return out
}

func describeAll(errs []apiError) string {
	if len(errs) == 0 {
		return "salesforce refused the record without saying why"
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.describe()
	}
	return strings.Join(parts, "; ")
}

// maxQuery bounds the SOQL text of one lookup so its URL stays well under
// Salesforce's 16,384-character URI limit.
const maxQuery = 8000

// remove deletes the records whose external IDs the deletes carry: the
// collection delete takes record Ids, so they are queried by external ID
// first. Records Salesforce no longer has are already gone: that is
// success.
func (d *Destination) remove(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	byExt, exts := d.byExternalID(b, idx)
	ids, extOf, err := d.lookupIDs(ctx, exts)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for start := 0; start < len(ids); start += maxRecords {
		chunk := ids[start:min(start+maxRecords, len(ids))]
		var results []result
		if err := d.call(ctx, "DELETE", "composite/sobjects?allOrNone=false&ids="+strings.Join(chunk, ","), nil, &results); err != nil {
			return nil, err
		}
		for n, id := range chunk {
			var msg string
			switch {
			case n >= len(results):
				msg = fmt.Sprintf("salesforce answered %d results for %d deletes", len(results), len(chunk))
			case results[n].Success || isGone(results[n].Errors):
				continue
			default:
				msg = describeAll(results[n].Errors)
			}
			for _, i := range byExt[extOf[id]] {
				out[i] = msg
			}
		}
	}
	return out, nil
}

// byExternalID groups batch indexes by their records' external IDs,
// listing each external ID once.
func (d *Destination) byExternalID(b *connector.Batch, idx []int) (map[string][]int, []string) {
	byExt := map[string][]int{}
	var exts []string
	for _, i := range idx {
		v := d.idValue(&b.Records[i])
		if byExt[v] == nil {
			exts = append(exts, v)
		}
		byExt[v] = append(byExt[v], i)
	}
	return byExt, exts
}

// lookupIDs queries the record Ids of external IDs, in SOQL queries of
// at most maxQuery characters, and maps each Id back to its external ID.
func (d *Destination) lookupIDs(ctx context.Context, exts []string) (ids []string, extOf map[string]string, err error) {
	extOf = map[string]string{} // record Id → external ID
	for len(exts) > 0 {
		var list []string
		size := 0
		for len(exts) > 0 && (len(list) == 0 || size+len(exts[0]) < maxQuery) {
			list = append(list, soqlString(exts[0]))
			size += len(list[len(list)-1]) + 1
			exts = exts[1:]
		}
		q := fmt.Sprintf("SELECT Id, %s FROM %s WHERE %s IN (%s)", d.identifier, d.object, d.identifier, strings.Join(list, ","))
		var resp struct {
			Records []map[string]any `json:"records"`
		}
		if err := d.call(ctx, "GET", "query?q="+url.QueryEscape(q), nil, &resp); err != nil {
			return nil, nil, err
		}
		for _, r := range resp.Records {
			id, _ := r["Id"].(string)
			if id == "" {
				continue
			}
			ids = append(ids, id)
			extOf[id] = value.Text(r[d.identifier])
		}
	}
	return ids, extOf, nil
}

func isGone(errs []apiError) bool {
	return len(errs) > 0 && (errs[0].StatusCode == "ENTITY_IS_DELETED" || errs[0].ErrorCode == "ENTITY_IS_DELETED")
}

// soqlString quotes s as a SOQL string literal.
func soqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
