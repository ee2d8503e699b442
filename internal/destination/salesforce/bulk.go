package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// The api setting's values.
const (
	apiAuto        = "auto"
	apiCollections = "collections"
	apiBulk        = "bulk"
)

// bulkNull is what a Bulk API 2.0 CSV cell holds to set a field to null:
// an empty cell leaves the field unchanged ("Prepare CSV Files").
const bulkNull = "#N/A"

// maxPollWait caps the backoff between job status polls.
const maxPollWait = 30 * time.Second

// jobInfo is the part of a Bulk API 2.0 ingest job's info the
// destination reads.
type jobInfo struct {
	ID                     string `json:"id"`
	State                  string `json:"state"`
	ErrorMessage           string `json:"errorMessage"`
	NumberRecordsProcessed int    `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int    `json:"numberRecordsFailed"`
}

// useBulk reports whether a batch of n records goes through a Bulk API
// 2.0 ingest job rather than sObject Collections.
func (d *Destination) useBulk(n int) bool {
	switch d.api {
	case apiBulk:
		return true
	case apiCollections:
		return false
	}
	// auto: only a sync that raised batch_size above what collections
	// take wants bulk; at 200 or less a larger batch is an error of the
	// caller, which collections refuse whole.
	return d.batchSize > maxRecords && n >= d.bulkThreshold
}

func (d *Destination) bulkUpsert(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	header, rows := d.csvRows(b, idx)
	byExt, _ := d.byExternalID(b, idx)
	col := indexOf(header, d.identifier)
	return d.runJob(ctx, "upsert", header, rows, func(failed []string) []int {
		if col < 0 || col >= len(failed) {
			return nil
		}
		return byExt[failed[col]]
	})
}

// bulkInsert matches failed rows back by their whole content: inserts
// have no external ID, and failed results come in no particular order.
func (d *Destination) bulkInsert(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	header, rows := d.csvRows(b, idx)
	byRow := map[string][]int{}
	for n, i := range idx {
		k := strings.Join(rows[n], "\x00")
		byRow[k] = append(byRow[k], i)
	}
	return d.runJob(ctx, "insert", header, rows, func(failed []string) []int {
		return byRow[strings.Join(failed, "\x00")]
	})
}

// bulkRemove deletes through a delete job, which takes record Ids: they
// are queried by external ID first, as the collections path does. Records
// already gone are success.
func (d *Destination) bulkRemove(ctx context.Context, b *connector.Batch, idx []int) (map[int]string, error) {
	byExt, exts := d.byExternalID(b, idx)
	ids, extOf, err := d.lookupIDs(ctx, exts)
	if err != nil || len(ids) == 0 {
		return map[int]string{}, err
	}
	rows := make([][]string, len(ids))
	for n, id := range ids {
		rows[n] = []string{id}
	}
	out, err := d.runJob(ctx, "delete", []string{"Id"}, rows, func(failed []string) []int {
		if len(failed) == 0 {
			return nil
		}
		return byExt[extOf[failed[0]]]
	})
	for i, msg := range out {
		if strings.HasPrefix(msg, "ENTITY_IS_DELETED") {
			delete(out, i)
		}
	}
	return out, err
}

// csvRows lays the records out as CSV: the header is every field name in
// order of first appearance; a field a record lacks is an empty cell
// (left unchanged), a null is #N/A (cleared, as the collections path's
// null clears it).
func (d *Destination) csvRows(b *connector.Batch, idx []int) ([]string, [][]string) {
	var header []string
	col := map[string]int{}
	for _, i := range idx {
		for _, f := range b.Records[i].Fields {
			if _, ok := col[f.Name]; !ok {
				col[f.Name] = len(header)
				header = append(header, f.Name)
			}
		}
	}
	rows := make([][]string, len(idx))
	for n, i := range idx {
		row := make([]string, len(header))
		for _, f := range b.Records[i].Fields {
			if f.Value == nil {
				row[col[f.Name]] = bulkNull
			} else {
				row[col[f.Name]] = value.Text(f.Value)
			}
		}
		rows[n] = row
	}
	return header, rows
}

// runJob runs one ingest job: create, upload the CSV, close, poll until
// it ends, then read the failed results. match maps a failed row's
// original columns to batch indexes. A job that fails or is aborted as a
// whole is a non-retryable request error: the engine splits the batch.
func (d *Destination) runJob(ctx context.Context, op string, header []string, rows [][]string, match func([]string) []int) (map[int]string, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("salesforce: encode %s job CSV: %w", op, err)
	}
	create := map[string]any{"object": d.object, "operation": op, "contentType": "CSV", "lineEnding": "LF"}
	if op == "upsert" {
		create["externalIdFieldName"] = d.identifier
	}
	var job jobInfo
	if err := d.call(ctx, "POST", "jobs/ingest", create, &job); err != nil {
		return nil, err
	}
	if job.ID == "" {
		return nil, fmt.Errorf("salesforce: create %s job: the response names no job id", op)
	}
	d.quota.spendBulk(len(rows))
	path := "jobs/ingest/" + job.ID
	if _, err := d.callRaw(ctx, "PUT", path+"/batches", "text/csv", buf.Bytes()); err != nil {
		return nil, err
	}
	if err := d.call(ctx, "PATCH", path, map[string]string{"state": "UploadComplete"}, &job); err != nil {
		return nil, err
	}
	if err := d.await(ctx, path, &job); err != nil {
		return nil, err
	}
	if job.State != "JobComplete" {
		return nil, &connector.RequestError{Status: 400, Message: fmt.Sprintf("salesforce bulk %s job %s ended %s: %s", op, job.ID, job.State, job.ErrorMessage)}
	}
	if job.NumberRecordsProcessed < len(rows) {
		// Rows the job never processed cannot be told apart from the
		// delivered ones: refuse the batch so the engine splits it.
		return nil, &connector.RequestError{Status: 400, Message: fmt.Sprintf("salesforce bulk %s job %s processed %d of %d records", op, job.ID, job.NumberRecordsProcessed, len(rows))}
	}
	data, err := d.callRaw(ctx, "GET", path+"/failedResults/", "", nil)
	if err != nil {
		return nil, err
	}
	return failedRows(data, len(header), match)
}

// await polls the job until it reaches a terminal state, waiting
// bulkPoll and then a little longer each time, up to maxPollWait.
func (d *Destination) await(ctx context.Context, path string, job *jobInfo) error {
	wait := d.bulkPoll
	for {
		switch job.State {
		case "JobComplete", "Failed", "Aborted":
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("salesforce: wait for bulk job %s: %w", job.ID, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*3/2+1, max(maxPollWait, d.bulkPoll))
		if err := d.call(ctx, "GET", path, nil, job); err != nil {
			return err
		}
	}
}

// failedRows reads a failedResults CSV (sf__Id, sf__Error, then the
// uploaded columns, in any row order) into per-row messages.
func failedRows(data []byte, width int, match func([]string) []int) (map[int]string, error) {
	out := map[int]string{}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("salesforce: read failed results header: %w", err)
	}
	errCol, first := indexOf(head, "sf__Error"), 0
	for i, h := range head {
		if !strings.HasPrefix(h, "sf__") {
			first = i
			break
		}
	}
	if errCol < 0 {
		return nil, fmt.Errorf("salesforce: failed results lack an sf__Error column: %v", head)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("salesforce: read failed results: %w", err)
		}
		if len(rec) < first+width {
			return nil, fmt.Errorf("salesforce: failed result has %d columns, want %d", len(rec), first+width)
		}
		msg := strings.TrimSpace(rec[errCol])
		if msg == "" {
			msg = "salesforce refused the record without saying why"
		}
		for _, i := range match(rec[first : first+width]) {
			out[i] = msg
		}
	}
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// choose decides how a batch of n records (u upserts, i inserts, del
// deletes) is written, after checking the org's daily allocations: the
// first batch bulk would write reads /limits; a batch bulk would write goes
// through collections instead when api is auto and the remaining Bulk API
// batches cannot take its jobs; and a batch whose requests the remaining
// daily API requests cannot cover is refused before anything is sent.
// Only requests known to be needed are counted: a job's status polls and
// a delete's record lookups beyond the first are not.
func (d *Destination) choose(ctx context.Context, n, u, i, del int) (bool, error) {
	bulk := d.useBulk(n)
	if bulk {
		if err := d.readLimits(ctx); err != nil {
			return false, err
		}
		batches := bulkBatches(u) + bulkBatches(i) + bulkBatches(del)
		if fits, remaining := d.quota.bulkFits(batches); !fits {
			if d.api == apiAuto {
				slog.InfoContext(ctx, "salesforce: the daily Bulk API batch allocation cannot take this batch's jobs; writing it through sObject Collections",
					"object", d.object, "records", n, "bulk_batches_needed", batches, "bulk_batches_remaining", remaining)
				bulk = false
			} else {
				slog.WarnContext(ctx, "salesforce: the daily Bulk API batch allocation looks too low for this batch's jobs; api is bulk, so they are submitted anyway",
					"object", d.object, "records", n, "bulk_batches_needed", batches, "bulk_batches_remaining", remaining)
			}
		}
	}
	need := 0
	if bulk {
		// create, upload, close and failedResults per job.
		for _, c := range []int{u, i, del} {
			if c > 0 {
				need += 4
			}
		}
	} else {
		step := maxRecords
		if d.batchSize <= maxRecords {
			step = max(n, 1)
		}
		need = chunks(u, step) + chunks(i, step)
	}
	if del > 0 {
		need++ // the external ID lookup
	}
	return bulk, d.quota.cover(need)
}

func chunks(n, size int) int { return (n + size - 1) / size }
