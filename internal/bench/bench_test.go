package bench

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"

	"github.com/riptide-data/riptide/internal/testsvc"
)

// The benchmarks run here on small models, for what they report besides
// time: that every row arrived, and that the plan found the changed rows.

func TestPlanFindsTheChangedRows(t *testing.T) {
	r, err := Plan(context.Background(), 20_000, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	// hash(id) % 10000 < 500 picks about 5% of the ids.
	if r.Changed < 700 || r.Changed > 1300 {
		t.Errorf("changed %d of 20000 rows, want about 1000", r.Changed)
	}
	if r.ScanSeconds <= 0 || r.PlanSeconds <= 0 || r.PeakRSSBytes <= 0 {
		t.Errorf("missing figures: %+v", r)
	}
}

func TestDestinationsDeliverEveryRow(t *testing.T) {
	testsvc.Redis(t)
	results, err := Destinations(context.Background(), 3000, []string{"webhook", "kafka", "redis"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Succeeded != 3000 || r.Failed != 0 {
			t.Errorf("%s: %d succeeded, %d failed of 3000", r.Destination, r.Succeeded, r.Failed)
		}
	}
}

func TestHubSpotWithinLimits(t *testing.T) {
	r, err := HubSpot(context.Background(), 1500, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.Contacts != 1500 || r.Failed != 0 || r.Throttled != 0 {
		t.Errorf("%+v: want every contact held, none failed, none throttled", r)
	}
}

func TestMixedLosesNoRow(t *testing.T) {
	r, err := Mixed(context.Background(), 2000, 50, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lost != 0 || int(r.Failed) != r.Refused || int(r.Succeeded) != r.Held || r.Held+r.Refused != 2000 {
		t.Errorf("%+v: every row must end delivered or failed with the receiver's message", r)
	}
	if r.Requests > r.MinRequests+r.Injected {
		t.Errorf("%d requests for %d batches and %d injected failures", r.Requests, r.MinRequests, r.Injected)
	}
}

func TestPaced(t *testing.T) {
	tests := []struct {
		limits connector.Limits
		n      int
		want   float64
	}{
		{connector.Limits{RequestsPerSec: 10}, 11, 1},
		{connector.Limits{Windows: []connector.RateWindow{{Requests: 100, Per: 10 * time.Second}}}, 100, 0},
		{connector.Limits{Windows: []connector.RateWindow{{Requests: 100, Per: 10 * time.Second}}}, 1000, 9 * 10.2},
		{connector.Limits{Windows: []connector.RateWindow{{Requests: 100, Per: 10 * time.Second}, {Requests: 250000, Per: 24 * time.Hour}}}, 1000, 9 * 10.2},
	}
	for _, tt := range tests {
		if got := paced(tt.limits, tt.n); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("paced(%+v, %d) = %v, want %v", tt.limits, tt.n, got, tt.want)
		}
	}
}
