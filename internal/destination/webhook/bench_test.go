package webhook

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/value"
)

const benchBatch = 1000

// benchRecord is a typical CRM row: an id, text, an exact amount, a
// timestamp and a flag.
func benchRecord(i int) connector.Record {
	k := strconv.Itoa(i)
	return connector.Record{Op: connector.OpUpsert, Key: k, KeyParts: []string{k}, Fields: []connector.FieldValue{
		{Name: "id", Value: int64(i)},
		{Name: "email", Value: "user" + k + "@example.com"},
		{Name: "plan_name", Value: "pro"},
		{Name: "mrr", Value: value.Decimal("149.99")},
		{Name: "signed_up_at", Value: time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)},
		{Name: "active", Value: true},
	}}
}

func benchDestination(b *testing.B, srv *webhooktest.Server, conc int) *Destination {
	b.Helper()
	set := spec().WithDefaults(connector.Settings{
		"url":            srv.URL() + "/ingest",
		"concurrency":    conc,
		"signing_secret": "bench-secret",
	})
	dst, err := newDestination(set, target)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dst.Close(context.Background()) })
	return dst
}

// BenchmarkWrite posts 1000-record batches with 4 requests in flight (the
// default concurrency) to the emulator over loopback; the emulator decodes
// every body in full and counts the records.
func BenchmarkWrite(b *testing.B) {
	srv := webhooktest.New(webhooktest.WithSecret("bench-secret"), webhooktest.Discard())
	defer srv.Close()
	const conc = 4
	dst := benchDestination(b, srv, conc)
	records := make([]connector.Record, benchBatch)
	for i := range records {
		records[i] = benchRecord(i)
	}
	var seq atomic.Int64
	b.SetParallelism((conc + 1) / 2) // RunParallel starts GOMAXPROCS × this
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			batch := &connector.Batch{Seq: int(seq.Add(1)), Records: records}
			if err := dst.Write(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if got := srv.Count(); got != b.N*benchBatch {
		b.Fatalf("emulator accepted %d records, want %d", got, b.N*benchBatch)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDeliver is the same traffic through the delivery layer, as the
// engine drives it: items in, batches formed, results out.
func BenchmarkDeliver(b *testing.B) {
	srv := webhooktest.New(webhooktest.WithSecret("bench-secret"), webhooktest.Discard())
	defer srv.Close()
	const conc = 4
	dst := benchDestination(b, srv, conc)
	n := b.N * benchBatch
	in := make(chan delivery.Item, benchBatch)
	b.ResetTimer()
	go func() {
		defer close(in)
		for i := range n {
			in <- delivery.Item{Record: benchRecord(i), Ref: int64(i)}
		}
	}()
	var accepted int
	_, err := delivery.Deliver(context.Background(), dst, delivery.Policy{BatchSize: benchBatch, Concurrency: conc}, in, func(r delivery.Result) error {
		accepted += len(r.Items) - len(r.Failed)
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if accepted != n || srv.Count() != n {
		b.Fatalf("accepted %d, emulator counted %d, want %d", accepted, srv.Count(), n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkEncode is the client's share of the work: building one
// 1000-record body into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	d := &Destination{prefix: []byte(`{"sync":"users_to_crm","run_id":"run-1","batch":`)}
	batch := &connector.Batch{Seq: 1, Records: make([]connector.Record, benchBatch)}
	for i := range batch.Records {
		batch.Records[i] = benchRecord(i)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = d.encode(buf[:0], batch)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}
