package webhook

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// TestThroughDelivery runs the destination under the delivery layer, as
// the engine does, against an emulator that misbehaves in every way the
// protocol allows, and checks that each record ends where it should.
func TestThroughDelivery(t *testing.T) {
	srv := webhooktest.New(webhooktest.WithSecret("e2e-secret"))
	defer srv.Close()
	dst := setup(t, srv, connector.Settings{"signing_secret": "e2e-secret"})

	srv.FailNext(1, webhooktest.Failure{Status: 429, RetryAfter: "2"})
	srv.FailNext(1, webhooktest.Failure{Status: 503})
	srv.PoisonKey("13", "plan must be free or pro")
	srv.FailKey("4", "email bounced")

	const n = 40
	in := make(chan delivery.Item, n)
	for i := range n {
		k := strconv.Itoa(i + 1)
		in <- delivery.Item{Record: upsert(k, field("email", k+"@example.com")), Ref: int64(i + 1)}
	}
	close(in)

	var mu sync.Mutex
	var waits []time.Duration
	policy := delivery.Policy{
		BatchSize:   10,
		Concurrency: 2,
		MaxAttempts: 3,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return ctx.Err()
		},
	}
	failed := map[int64]string{}
	accepted := 0
	stats, err := delivery.Deliver(t.Context(), dst, policy, in, func(r delivery.Result) error {
		for i, it := range r.Items {
			if msg, ok := r.Failed[i]; ok {
				failed[it.Ref] = msg
			} else {
				accepted++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFailed := map[int64]string{
		4:  "email bounced",
		13: `status 400: {"error":"record 13: plan must be free or pro"}`,
	}
	if diff := cmp.Diff(wantFailed, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if accepted != n-2 || srv.Count() != n-2 || len(srv.Latest()) != n-2 {
		t.Errorf("accepted %d, emulator counted %d with %d keys, want %d", accepted, srv.Count(), len(srv.Latest()), n-2)
	}
	if stats.Retries != 2 || stats.Splits == 0 {
		t.Errorf("stats = %+v, want 2 retries and some splits", stats)
	}
	if len(waits) != 2 || !slices.Contains(waits, 2*time.Second) {
		t.Errorf("waits = %v, want the 2s Retry-After among 2", waits)
	}
	// Every request of batch 2 (keys 11-20) is signed and keyed by part.
	parts := map[string]bool{}
	for _, r := range srv.Requests() {
		if r.Batch == 2 && r.Status != 429 && r.Status != 503 {
			parts[r.IdempotencyKey] = true
		}
	}
	for _, k := range []string{"run-1-2", "run-1-2-a", "run-1-2-b"} {
		if !parts[k] {
			t.Errorf("no request with idempotency key %s among %v", k, parts)
		}
	}
}
