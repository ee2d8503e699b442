package salesforce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// bulkSettings makes jobs poll fast: the emulator finishes a job at the
// first poll.
func bulkSettings(api string) connector.Settings {
	return connector.Settings{"api": api, "bulk_poll_interval": time.Millisecond, "batch_size": 1000}
}

func TestBulkUpsertAndDelete(t *testing.T) {
	ctx := context.Background()
	s := emulator(t)
	gone := s.Put("Contact", map[string]any{"Ext__c": "old", "LastName": "Old"})
	s.Put("Contact", map[string]any{"Ext__c": "c1", "LastName": "Before", "Email": "before@example.com"})
	d := open(t, s, "mirror", bulkSettings("bulk"))

	var recs []connector.Record
	wantFailed := map[int]string{}
	for i := range 300 {
		email := fmt.Sprintf("c%d@example.com", i)
		if i%50 == 7 {
			email, wantFailed[i] = "not-an-email", "INVALID_EMAIL_ADDRESS"
		}
		recs = append(recs, contact(connector.OpUpsert, fmt.Sprintf("c%d", i), email))
	}
	// CSV quoting and null: a last name with a comma, a quote and a
	// newline; c1's email cleared.
	recs[2].Fields[2].Value = "O\"Neil, Jr.\nII"
	recs[1].Fields[1].Value = nil
	recs = append(recs,
		connector.Record{Op: connector.OpUpsert, Key: "k", Fields: []connector.FieldValue{{Name: "Ext__c", Value: nil}}},
		connector.Record{Op: connector.OpDelete, Key: "old"},
		connector.Record{Op: connector.OpDelete, Key: "never-existed"},
	)
	wantFailed[300] = "missing external ID"

	err := d.Write(ctx, &connector.Batch{Seq: 1, Records: recs})
	var re *connector.RowErrors
	if !errors.As(err, &re) || len(re.Failed) != len(wantFailed) {
		t.Fatalf("Write = %v, want %d rows refused", err, len(wantFailed))
	}
	for i, want := range wantFailed {
		if !strings.Contains(re.Failed[i], want) {
			t.Errorf("row %d: %q, want %q", i, re.Failed[i], want)
		}
	}
	if jobs := s.Jobs(); !slices.Equal(jobs, []string{"upsert", "delete"}) {
		t.Errorf("jobs = %v, want an upsert and a delete job", jobs)
	}
	got := s.Records("Contact", "Ext__c")
	if len(got) != 300-len(wantFailed)+1 {
		t.Errorf("%d records, want %d", len(got), 300-len(wantFailed)+1)
	}
	if _, ok := got["c7"]; ok {
		t.Error("c7 with an invalid email was stored")
	}
	if v, ok := got["c1"].Fields["Email"]; !ok || v != nil || got["c1"].Fields["LastName"] != "Lc1" {
		t.Errorf("c1 = %+v, want Email cleared and LastName updated", got["c1"].Fields)
	}
	if v := got["c2"].Fields["LastName"]; v != "O\"Neil, Jr.\nII" {
		t.Errorf("c2 LastName = %q", v)
	}
	if _, ok := s.Records("Contact", "Id")[gone]; ok {
		t.Errorf("record %s (old) was not deleted", gone)
	}
}

func TestBulkInsert(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "insert", bulkSettings("bulk"))
	err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{
		contact(connector.OpInsert, "a", "a@example.com"),
		contact(connector.OpInsert, "b", "bad"),
		contact(connector.OpInsert, "a", "a@example.com"),
	}})
	var re *connector.RowErrors
	if !errors.As(err, &re) || len(re.Failed) != 1 || !strings.Contains(re.Failed[1], "INVALID_EMAIL_ADDRESS") {
		t.Fatalf("Write = %v, want row 1 refused", err)
	}
	if n := len(s.Records("Contact", "Id")); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestBulkChoice(t *testing.T) {
	tests := []struct {
		api      string
		n        int
		wantJobs int
	}{
		{"auto", 10, 0},
		{"auto at batch_size 200", 200, 0},
		{"auto", 201, 1},
		{"auto", 450, 1},
		{"collections", 10, 0},
		{"bulk", 1, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.api, tt.n), func(t *testing.T) {
			s := emulator(t)
			set := bulkSettings(tt.api)
			if tt.api != "auto" && tt.api != "bulk" {
				set["api"] = "auto"
				set["batch_size"] = 200
			}
			if tt.api == "collections" {
				set["api"] = "collections"
				set["batch_size"] = 200
			}
			d := open(t, s, "upsert", set)
			recs := make([]connector.Record, tt.n)
			for i := range recs {
				recs[i] = contact(connector.OpUpsert, fmt.Sprint(i), "x@example.com")
			}
			if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: recs}); err != nil {
				t.Fatal(err)
			}
			if got := len(s.Jobs()); got != tt.wantJobs {
				t.Errorf("%d jobs, want %d", got, tt.wantJobs)
			}
			if got := len(s.Records("Contact", "Ext__c")); got != tt.n {
				t.Errorf("%d records, want %d", got, tt.n)
			}
		})
	}
}

func TestBulkJobFailed(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", bulkSettings("bulk"))
	s.FailNextJob("InvalidBatch : Field name not found : Nope__c")
	err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}})
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Retryable || re.Auth || !strings.Contains(re.Message, "Failed") || !strings.Contains(re.Message, "Nope__c") {
		t.Fatalf("Write = %#v, want a non-retryable request error naming the job's failure", err)
	}
	// A refused request in the middle of a job is classified as ever.
	s.FailNext(503)
	err = d.Write(context.Background(), &connector.Batch{Seq: 2, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}})
	if !errors.As(err, &re) || !re.Retryable {
		t.Fatalf("Write after 503 = %v, want retryable", err)
	}
}

func TestBulkSessionRenewal(t *testing.T) {
	ctx := context.Background()
	s := emulator(t)
	d := open(t, s, "upsert", bulkSettings("bulk"))
	if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}}); err != nil {
		t.Fatal(err)
	}
	s.ExpireSessions()
	if err := d.Write(ctx, &connector.Batch{Seq: 2, Records: []connector.Record{contact(connector.OpUpsert, "b", "b@example.com")}}); err != nil {
		t.Fatal(err)
	}
	if g := s.Grants(); !slices.Equal(g, []string{"refresh_token", "refresh_token"}) {
		t.Errorf("grants = %v, want one renewal", g)
	}
	if n := len(s.Records("Contact", "Ext__c")); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestBulkCancelled(t *testing.T) {
	s := emulator(t)
	d := open(t, s, "upsert", connector.Settings{"api": "bulk", "bulk_poll_interval": time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{contact(connector.OpUpsert, "a", "a@example.com")}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
}
