package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/testsvc"
)

// TestStreamLatency: `riptide bench stream` at 100 changes/s for 2 s gets
// every change to the receiver, measures a latency for each, and leaves
// neither its database nor its replication slot behind.
func TestStreamLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds riptide and streams for seconds")
	}
	admin := testsvc.PostgresURL(t)
	testsvc.LogicalReplication(t, admin)
	bin := filepath.Join(t.TempDir(), "riptide")
	build := exec.Command("go", "build", "-o", bin, "github.com/riptide-data/riptide/cmd/riptide")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build riptide: %v\n%s", err, out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tc := range []struct{ rate, perTx int }{{100, 1}, {200, 10}} {
		t.Run(fmt.Sprintf("%d per tx", tc.perTx), func(t *testing.T) {
			checkStream(t, ctx, conn, StreamConfig{Riptide: bin, AdminURL: admin, Rate: tc.rate, PerTx: tc.perTx,
				Duration: 2 * time.Second, Connections: 4, Drain: 20 * time.Second})
		})
	}
}

// checkStream runs the bench with cfg and checks that every change
// committed arrived, with ordered latencies, and that nothing is left.
func checkStream(t *testing.T, ctx context.Context, conn *pgx.Conn, cfg StreamConfig) {
	r, err := Stream(ctx, cfg)
	if err != nil {
		t.Fatalf("stream bench: %v", err)
	}
	t.Logf("%+v", *r)
	want := 2 * cfg.Rate
	if r.Sent != want || r.Received != r.Sent || r.Lost != 0 || r.PerTx != cfg.PerTx {
		t.Errorf("sent %d, received %d, lost %d, %d per transaction; want %d sent, all received, %d per transaction", r.Sent, r.Received, r.Lost, r.PerTx, want, cfg.PerTx)
	}
	// Rows are updated a second after their insert: the second half of
	// the run's odd changes are updates.
	if r.Updates < want/5 || r.Inserts+r.Updates != r.Sent {
		t.Errorf("%d inserts, %d updates of %d changes", r.Inserts, r.Updates, r.Sent)
	}
	if r.Records < r.Received-r.Superseded || r.Requests < 1 {
		t.Errorf("receiver accepted %d records in %d requests for %d changes", r.Records, r.Requests, r.Received)
	}
	if !(0 < r.P50Ms && r.P50Ms <= r.P95Ms && r.P95Ms <= r.P99Ms && r.P99Ms <= r.MaxMs) {
		t.Errorf("latencies p50 %.1f, p95 %.1f, p99 %.1f, max %.1f ms: not positive and ordered", r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs)
	}
	if r.Seconds < 1.9 || r.AchievedRate <= 0 {
		t.Errorf("sent for %.2fs at %.0f/s", r.Seconds, r.AchievedRate)
	}

	var dbs, slots int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", r.Database).Scan(&dbs); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE database = $1", r.Database).Scan(&slots); err != nil {
		t.Fatal(err)
	}
	if r.Database == "" || dbs != 0 || slots != 0 {
		t.Errorf("after the bench, database %q: %d left, %d replication slots left", r.Database, dbs, slots)
	}
}

// TestStreamBadConfig: a rate, duration or connection count that cannot
// run is refused before anything is created.
func TestStreamBadConfig(t *testing.T) {
	good := StreamConfig{Riptide: os.Args[0], AdminURL: "postgres://nobody@127.0.0.1:1/x", Rate: 10, Duration: time.Second, Connections: 1, Drain: time.Second}
	for name, mod := range map[string]func(*StreamConfig){
		"--rate":        func(c *StreamConfig) { c.Rate = 0 },
		"--duration":    func(c *StreamConfig) { c.Duration = 0 },
		"--connections": func(c *StreamConfig) { c.Connections = 0 },
		"--drain":       func(c *StreamConfig) { c.Drain = -time.Second },
	} {
		c := good
		mod(&c)
		if _, err := Stream(context.Background(), c); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
