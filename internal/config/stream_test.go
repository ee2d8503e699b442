package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
)

func TestStreamSyncRefusesDeferredDestination(t *testing.T) {
	dir := t.TempDir()
	yaml := `sources:
  pg: {type: postgres}
destinations:
  files: {type: bulk}
models:
  users: {source: pg, primary_key: id, table: users}
syncs:
  live: {model: users, destination: files, schedule: stream}
  nightly: {model: users, destination: files, schedule: "0 3 * * *"}
`
	if err := os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	specs := Specs{
		Source:           func(t string) (connector.Spec, bool) { return connector.Spec{Type: t}, t == "postgres" },
		Destination:      func(t string) (connector.Spec, bool) { return connector.Spec{Type: t, Deferred: true}, t == "bulk" },
		SourceTypes:      []string{"postgres"},
		DestinationTypes: []string{"bulk"},
	}
	_, err := Load(dir, specs)
	if err == nil {
		t.Fatal("a stream sync into a destination that commits at the end of a run loaded")
	}
	msg := err.Error()
	if strings.Count(msg, "riptide.yaml:") != 1 {
		t.Errorf("want exactly the one problem, got:\n%s", msg)
	}
	want := "riptide.yaml:8:54: syncs.live.schedule: destination files (bulk) makes records durable only at the end of a run, which a stream never reaches"
	if !strings.Contains(msg, want) {
		t.Errorf("error:\n%s\nwant it to hold:\n%s", msg, want)
	}
	if strings.Contains(msg, "nightly") {
		t.Errorf("the batch sync into the same destination was refused too:\n%s", msg)
	}
}

func TestStreamSyncNeverUsesTheWarehouseDiff(t *testing.T) {
	for _, tc := range []struct {
		kind, diff string
		rows       uint64
		want       bool
	}{
		{ScheduleStream, DiffAuto, WarehouseDiffThreshold + 1, false},
		{ScheduleManual, DiffAuto, WarehouseDiffThreshold + 1, true},
		{ScheduleStream, DiffLocal, 10, false},
	} {
		s := &Sync{Schedule: Schedule{Kind: tc.kind}, Diff: tc.diff}
		if got := s.UseWarehouseDiff(true, true, tc.rows); got != tc.want {
			t.Errorf("%s sync, diff %s, %d rows: warehouse %v, want %v", tc.kind, tc.diff, tc.rows, got, tc.want)
		}
	}
}
