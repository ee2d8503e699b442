package salesforce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
)

func org(t *testing.T, opts ...salesforcetest.Option) *salesforcetest.Server {
	t.Helper()
	s, err := salesforcetest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func contacts(n int) []connector.Record {
	recs := make([]connector.Record, n)
	for i := range recs {
		recs[i] = contact(connector.OpUpsert, fmt.Sprint("k", i), fmt.Sprintf("k%d@example.com", i))
	}
	return recs
}

// logs captures what the destination logs through slog's default logger.
func logs(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

func TestParseLimitInfo(t *testing.T) {
	tests := []struct {
		in         string
		used, max  int
		bursts, ok bool
	}{
		{"api-usage=18/5000", 18, 5000, false, true},
		{"api-usage=110018/100000; api-bursts=1/750", 110018, 100000, true, true},
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", 25, 5000, false, true},
		{"api-usage=x/5000", 0, 5000, false, false},
		{"api-usage=5", 5, 0, false, false},
		{"per-app-api-usage=17/250", 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			used, max, bursts, ok := parseLimitInfo(tt.in)
			if ok != tt.ok || (ok && (used != tt.used || max != tt.max || bursts != tt.bursts)) {
				t.Errorf("= %d/%d bursts %v ok %v, want %d/%d bursts %v ok %v", used, max, bursts, ok, tt.used, tt.max, tt.bursts, tt.ok)
			}
		})
	}
}

// TestDailyLimitReached: Salesforce's 403 REQUEST_LIMIT_EXCEEDED for
// TotalRequests stops the run's traffic with the day's usage in the
// message, is neither an auth failure nor retried, and nothing more is
// sent.
func TestDailyLimitReached(t *testing.T) {
	s := org(t, salesforcetest.WithDailyLimits(1000, salesforcetest.DefaultDailyBulkBatches))
	s.UseDaily(998, 0)
	d := open(t, s, "upsert", nil)
	ctx := context.Background()

	// Two requests left: the first batch takes one, and the header it
	// answers with is tracked.
	if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: contacts(2)}); err != nil {
		t.Fatal(err)
	}
	if d.quota.used != 999 || d.quota.max != 1000 {
		t.Fatalf("tracked usage %d/%d, want 999/1000 from Sforce-Limit-Info", d.quota.used, d.quota.max)
	}
	// Another integration spends the last request meanwhile: Salesforce
	// refuses the next one.
	s.UseDaily(1, 0)
	in := make(chan delivery.Item, 6)
	for i, r := range contacts(6) {
		in <- delivery.Item{Record: r, Ref: int64(i)}
	}
	close(in)
	p := delivery.FromLimits(spec().Limits)
	p.BatchSize = 3
	// One batch at a time: requests already in flight when the limit is
	// reached are each refused by Salesforce too.
	p.Concurrency = 1
	var sleeps int
	p.Sleep = func(ctx context.Context, _ time.Duration) error { sleeps++; return ctx.Err() }
	failed := map[string]string{}
	before := s.Requests()
	stats, err := delivery.Deliver(ctx, d, p, in, func(r delivery.Result) error {
		for i, msg := range r.Failed {
			failed[r.Items[i].Record.Key] = msg
		}
		return nil
	})
	// The run stops at the limit, as it does for a revoked credential,
	// but it is not one; its rows have no outcome and wait for a later
	// run.
	if err == nil || connector.IsAuth(err) || !strings.Contains(err.Error(), "daily API request limit reached (1000/1000)") {
		t.Fatalf("delivery: %v, want it stopped by the daily limit (not an authentication failure)", err)
	}
	if stats.Retries != 0 || sleeps != 0 {
		t.Errorf("retries %d, sleeps %d: the daily limit burnt retries", stats.Retries, sleeps)
	}
	if got := s.Requests() - before; got != 1 {
		t.Errorf("%d requests reached Salesforce after the limit, want only the refused one", got)
	}
	if len(failed) != 0 {
		t.Errorf("failed %v: rows of a stopped run get no outcome (a later run sends them)", failed)
	}
	// The run's later batches are refused without a request.
	err = d.Write(ctx, &connector.Batch{Seq: 9, Records: contacts(1)})
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Auth || re.Retryable || !re.Quota || !strings.Contains(re.Message, "daily API request limit reached (1000/1000)") {
		t.Fatalf("later Write: %#v", err)
	}
	if got := s.Requests() - before; got != 1 {
		t.Errorf("a later Write sent %d requests", got-1)
	}
}

// TestDailyLimitKnown: a batch the tracked remaining requests cannot
// cover is refused before anything is sent.
func TestDailyLimitKnown(t *testing.T) {
	tests := []struct {
		name    string
		used    int
		set     connector.Settings
		records int
		want    string // "" for success
		jobs    int
	}{
		{"collections fit", 999, nil, 2, "", 0},
		{"spent", 1000, nil, 2, "daily API request limit reached (1000/1000)", 0},
		// /limits takes one of three; a bulk job needs at least 4.
		{"bulk cannot fit", 997, connector.Settings{"api": "bulk"}, 2, "the batch needs at least 4 requests and 2 remain (998/1000)", 0},
		{"bulk fits", 990, connector.Settings{"api": "bulk", "bulk_poll_interval": time.Millisecond}, 2, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := org(t, salesforcetest.WithDailyLimits(1000, salesforcetest.DefaultDailyBulkBatches))
			d := open(t, s, "upsert", tt.set)
			ctx := context.Background()
			if tt.set == nil {
				// A first batch tells the usage (the header), as a run's
				// earlier batches do.
				s.UseDaily(tt.used-1, 0)
				if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: contacts(1)}); err != nil {
					t.Fatal(err)
				}
			} else {
				// Bulk reads /limits first.
				s.UseDaily(tt.used, 0)
			}
			before := s.Requests()
			err := d.Write(ctx, &connector.Batch{Seq: 2, Records: contacts(tt.records)})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var re *connector.RequestError
				// A spent limit stops the run; a batch too big for what
				// remains is refused for the delivery layer to split.
				spent := strings.Contains(tt.want, "limit reached")
				if !errors.As(err, &re) || re.Auth || re.Retryable || re.Quota != spent || !strings.Contains(re.Message, tt.want) {
					t.Fatalf("Write = %v (quota %v), want a limit error with %q (quota %v)", err, re != nil && re.Quota, tt.want, spent)
				}
				// At most the sign-in and /limits: nothing of the batch.
				if sent := s.Requests() - before; sent > 2 {
					t.Errorf("%d requests sent for a batch that could not fit", sent)
				}
			}
			if got := len(s.Jobs()); got != tt.jobs {
				t.Errorf("%d bulk jobs, want %d", got, tt.jobs)
			}
		})
	}
}

// TestBulkAllocation: with api auto, a batch whose jobs the remaining
// daily Bulk API batches cannot take goes through collections instead,
// and the run log says so; with api bulk it is submitted anyway.
func TestBulkAllocation(t *testing.T) {
	tests := []struct {
		name      string
		api       string
		bulkUsed  int
		jobs      int
		logged    string
		bulkSpent int
	}{
		{"auto with batches left", "auto", 0, 1, "", 1},
		{"auto without", "auto", salesforcetest.DefaultDailyBulkBatches, 0, "writing it through sObject Collections", 0},
		{"bulk without", "bulk", salesforcetest.DefaultDailyBulkBatches, 1, "submitted anyway", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := logs(t)
			s := org(t)
			s.UseDaily(0, tt.bulkUsed)
			d := open(t, s, "upsert", connector.Settings{"api": tt.api, "batch_size": 500, "bulk_poll_interval": time.Millisecond})
			if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: contacts(450)}); err != nil {
				t.Fatal(err)
			}
			if got := len(s.Records("Contact", "Ext__c")); got != 450 {
				t.Errorf("%d contacts written, want 450", got)
			}
			if got := len(s.Jobs()); got != tt.jobs {
				t.Errorf("%d jobs, want %d", got, tt.jobs)
			}
			if _, bulk := s.DailyUsage(); bulk-tt.bulkUsed != tt.bulkSpent {
				t.Errorf("%d bulk batches spent, want %d", bulk-tt.bulkUsed, tt.bulkSpent)
			}
			if tt.logged != "" && !strings.Contains(out.String(), tt.logged) {
				t.Errorf("log %q lacks %q", out.String(), tt.logged)
			}
			if tt.logged == "" && out.Len() > 0 {
				t.Errorf("unexpected log: %s", out)
			}
		})
	}
}

// TestLimitsUnavailable: when /limits cannot be read the run proceeds
// with bulk, saying so; the limit itself, or refused credentials, stop it.
func TestLimitsUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		fault int
		want  string // the Write's error, "" for none
	}{
		{"server error", http.StatusInternalServerError, ""},
		{"daily limit", http.StatusForbidden, "daily API request limit reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := logs(t)
			s := org(t)
			d := open(t, s, "upsert", connector.Settings{"api": "bulk", "bulk_poll_interval": time.Millisecond})
			s.FailNext(tt.fault)
			err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: contacts(3)})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Jobs()) != 1 || !strings.Contains(out.String(), "cannot read the org's limits") {
					t.Errorf("jobs %v, log %q", s.Jobs(), out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(s.Jobs()) != 0 {
				t.Errorf("Write = %v, jobs %v; want %q and no job", err, s.Jobs(), tt.want)
			}
		})
	}
	// Refused credentials stop the run at /limits, as an auth failure.
	s := org(t)
	set := connector.Settings{"client_secret": "wrong", "api": "bulk"}
	d := open(t, s, "upsert", set)
	if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: contacts(1)}); !connector.IsAuth(err) {
		t.Errorf("bad credentials: %v", err)
	}
}
