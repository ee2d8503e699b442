package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/alert"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// TestStreamAlertsFireOncePerEpisode feeds a stream's statuses to the
// service's alerts: a failure alerts once until the stream follows again,
// a lag over the threshold once until it falls below half of it.
func TestStreamAlertsFireOncePerEpisode(t *testing.T) {
	srv := webhooktest.New()
	defer srv.Close()
	rules := &config.Alerts{On: []string{config.AlertFailure, config.AlertStreamLag}, StreamLagBytes: 1000,
		To: []config.AlertTarget{{Kind: config.AlertToWebhook, URL: srv.URL() + "/alerts"}}}
	p := &config.Project{Syncs: map[string]*config.Sync{"live": {Name: "live", Alerts: rules}, "quiet": {Name: "quiet"}}}
	a := &serveAlerts{notifier: alert.New(alert.Config{Logger: func() *slog.Logger { return slog.New(slog.DiscardHandler) }})}
	a.project.Store(p)

	st := func(state string, lag int64) streamsync.Status {
		return streamsync.Status{Sync: "live", State: state, SlotLagBytes: lag, Error: "receive: EOF", Slot: "riptide_live"}
	}
	for i, s := range []streamsync.Status{
		st(streamsync.StateFollowing, 10),
		st(streamsync.StateRetrying, 10),   // failure
		st(streamsync.StateRetrying, 10),   // the same failure: no alert
		st(streamsync.StateRetrying, 5000), // lag
		st(streamsync.StateRetrying, 800),  // still above half: no alert
		st(streamsync.StateFollowing, 400), // caught up: re-armed
		st(streamsync.StateRetrying, 400),  // failure again
		st(streamsync.StateRetrying, 1500), // lag again
		{Sync: "quiet", State: streamsync.StateRetrying, SlotLagBytes: 1 << 40},
	} {
		a.onStream(s)
		// Each alert's key is its time to the millisecond.
		if i < 8 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.notifier.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rq := range srv.Requests() {
		for _, rec := range rq.Records {
			got = append(got, rec.Data["sync"].(string)+" "+rec.Data["rule"].(string))
		}
	}
	want := []string{"live failure", "live stream_lag", "live failure", "live stream_lag"}
	if len(got) != len(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alerts %v, want %v", got, want)
		}
	}
}
