package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSchedulerRunsEverySync: the scheduler benchmark runs each sync (at
// start, since none ran before) and reports its figures.
func TestSchedulerRunsEverySync(t *testing.T) {
	r, err := Scheduler(context.Background(), t.TempDir(), 50, time.Hour, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Runs != 50 || r.ExpectedRuns != 50 || r.Syncs != 50 {
		t.Errorf("%d runs of %d syncs, %d expected; want each sync run once", r.Runs, r.Syncs, r.ExpectedRuns)
	}
	if r.CPUPercent <= 0 || r.Seconds <= 0 {
		t.Errorf("missing figures: %+v", r)
	}
}

// TestLoadCountsAnswersAndErrors: the load generator counts answered
// calls, keeps calls that failed out of the latencies, and reports the
// first error.
func TestLoadCountsAnswersAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	r, err := Load(context.Background(), "GET /", 2, 200*time.Millisecond, func(ctx context.Context) error {
		return Call(ctx, srv.Client(), http.MethodGet, srv.URL+"/", "tok", http.StatusOK)
	})
	if err == nil || r.Errors == 0 {
		t.Errorf("every tenth call fails; got errors %d, first %v", r.Errors, err)
	}
	if r.Requests == 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.MaxMs < r.P99Ms || r.PerSecond <= 0 {
		t.Errorf("figures: %+v", r)
	}
	var unauth error
	_, unauth = Load(context.Background(), "GET /", 1, 50*time.Millisecond, func(ctx context.Context) error {
		return Call(ctx, srv.Client(), http.MethodGet, srv.URL+"/", "wrong", http.StatusOK)
	})
	if unauth == nil || !strings.Contains(unauth.Error(), "status 401, want 200") {
		t.Errorf("a wrong token: %v, want the status named", unauth)
	}
}
