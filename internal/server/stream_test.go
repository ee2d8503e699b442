package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// TestStreamSyncInTheAPI serves a project with a stream sync: its
// description carries the stream's status (valid against the OpenAPI
// document, the error masked), a batch sync's has none, and a run of the
// stream sync cannot be triggered.
func TestStreamSyncInTheAPI(t *testing.T) {
	b := setup(t)
	yaml := strings.Replace(projectYAML, "  warehouse: {type: sqlite, path: warehouse.db}\n",
		"  warehouse: {type: sqlite, path: warehouse.db}\n  pg: {type: postgres, url: \"postgres://127.0.0.1:1/app\"}\n", 1)
	yaml = strings.Replace(yaml, "models:\n", "models:\n  accounts: {source: pg, primary_key: id, sql: \"select id, email from accounts\"}\n", 1)
	yaml += "  live: {model: accounts, destination: hook, mode: mirror, schedule: stream}\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	srv, err := New(Config{
		Project: p, Store: b.store, Scheduler: b.sched,
		Plan: func(context.Context, *config.Project, string) (*engine.Result, error) {
			return nil, errors.New("not planned here")
		},
		Load:    func() (*config.Project, error) { return loadProject(dir) },
		Sources: builtin.Sources(), Destinations: builtin.Destinations(),
		Streams: func(sync string) (streamsync.Status, bool) {
			if sync != "live" {
				return streamsync.Status{}, false
			}
			return streamsync.Status{Sync: sync, State: streamsync.StateRetrying, Since: since, Slot: "riptide_live_1",
				Tables: []string{"public.accounts"}, Exact: true, Restarts: 2, SlotLagBytes: 4096, QueueDepth: 7,
				Error: "deliver: answered 401 for key " + testEnv["API_KEY"]}, true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	b.url = ts.URL

	var live struct{ Stream *streamsync.Status }
	b.do(t, "GET", "/api/v1/syncs/live", b.tokens["viewer"], "").json(t, &live)
	st := live.Stream
	if st == nil || st.State != "retrying" || !st.Since.Equal(since) || st.QueueDepth != 7 || st.SlotLagBytes != 4096 ||
		st.Restarts != 2 || !st.Exact || strings.Join(st.Tables, ",") != "public.accounts" || !strings.Contains(st.Error, "answered 401") {
		t.Errorf("live's stream: %+v", st)
	}
	var batch struct{ Stream *streamsync.Status }
	b.do(t, "GET", "/api/v1/syncs/to_hook", b.tokens["viewer"], "").json(t, &batch)
	if batch.Stream != nil {
		t.Errorf("a batch sync shows a stream: %+v", batch.Stream)
	}
	r := b.do(t, "POST", "/api/v1/syncs/live/runs", b.tokens["editor"], "")
	if r.status != 409 || r.errorCode(t) != codeConflict || !strings.Contains(string(r.body), "streams") {
		t.Errorf("trigger a stream sync: %d %s", r.status, r.body)
	}
	b.sched.mu.Lock()
	defer b.sched.mu.Unlock()
	if len(b.sched.triggers) != 0 {
		t.Errorf("the refused trigger reached the scheduler: %v", b.sched.triggers)
	}
}
