// Package engine carries out runs: for each model, extract its rows once,
// validate and diff them against the snapshot of every sync it feeds, judge
// the guards, and for each sync transform and load what changed, committing
// the snapshot batch by batch as the destination acknowledges it.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

// Engine runs a project's syncs.
type Engine struct {
	Project      *config.Project
	Store        *state.Store
	Sources      map[string]connector.SourcePlugin
	Destinations map[string]connector.DestinationPlugin
	// StateDir holds snapshots and temporary spill files (.riptide).
	StateDir string
	Logger   *slog.Logger
	Redactor *redact.Redactor
	Observer Observer
	// Tracer traces runs (nil: not traced).
	Tracer Tracer
	// Sleep replaces the delivery layer's waits between retries (tests).
	Sleep func(ctx context.Context, d time.Duration) error
	// OnWait, when set, is told of each wait of a sync's delivery: kind
	// is delivery.WaitRetry or delivery.WaitRateLimit (metrics).
	OnWait func(sync, kind string, d time.Duration)
}

// Options modify a run.
type Options struct {
	// FullResync sends every row again, not only what changed. Deletes
	// stay as they would be: only keys gone from the model are removed.
	FullResync bool
	// Force overrides the max_change_pct guard.
	Force bool
	// RunIDs gives syncs the ID of a run record saved earlier as queued
	// (by the scheduler, when the run was asked for), so that the record
	// callers were handed becomes the running and then finished run.
	// Syncs not listed get a new ID.
	RunIDs map[string]string
}

// Observer follows a run's progress (a progress bar, log lines).
type Observer interface {
	// Extracting is called as rows are read from a model, every few
	// thousand rows, and once at the end with done set.
	Extracting(model string, rows uint64, done bool)
	// Loading is called as a sync's records are acknowledged.
	Loading(sync string, delivered, total uint64)
}

type nopObserver struct{}

func (nopObserver) Extracting(string, uint64, bool) {}
func (nopObserver) Loading(string, uint64, uint64)  {}

// Sample keys a plan shows per kind.
const sampleKeys = 10

// Result is the outcome of one sync in a run or a plan.
type Result struct {
	Sync string `json:"sync"`
	// Run is the run record (for a plan, the same figures, not stored).
	Run *state.Run `json:"run"`
	// Samples are a few keys per kind of change (plans only).
	Samples map[string][]string `json:"samples,omitempty"`
	// Err is why the sync's run failed, if it did.
	Err error `json:"-"`
	// Warnings are problems that did not fail the run (its row outcomes
	// could not be written back).
	Warnings []string `json:"warnings,omitempty"`
}

// Failed reports whether the run failed or some rows failed.
func (r *Result) Failed() bool {
	return r.Err != nil || r.Run.Status == state.StatusFailed || r.Run.Status == state.StatusPartial
}

// Plan works out what running the syncs would send, sending nothing and
// changing no state.
func (e *Engine) Plan(ctx context.Context, syncs []string, opts Options) ([]*Result, error) {
	return e.execute(ctx, syncs, opts, false)
}

// Run runs the syncs. Syncs that share a model have it extracted once. The
// returned error is for problems that stop everything (unknown sync);
// failures of single syncs are in their Result.
func (e *Engine) Run(ctx context.Context, syncs []string, opts Options) ([]*Result, error) {
	return e.execute(ctx, syncs, opts, true)
}

func (e *Engine) execute(ctx context.Context, syncs []string, opts Options, send bool) ([]*Result, error) {
	if e.Observer == nil {
		e.Observer = nopObserver{}
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	byModel := map[string][]*config.Sync{}
	var models []string
	for _, name := range syncs {
		s, ok := e.Project.Syncs[name]
		if !ok {
			return nil, fmt.Errorf("no sync named %q%s", name, suggestName(name, e.Project.Syncs))
		}
		if _, dup := byModel[s.Model]; !dup {
			models = append(models, s.Model)
		}
		if !slices.Contains(byModel[s.Model], s) {
			byModel[s.Model] = append(byModel[s.Model], s)
		}
	}
	results := map[string]*Result{}
	for _, m := range models {
		for _, r := range e.runModel(ctx, e.Project.Models[m], byModel[m], opts, send) {
			results[r.Sync] = r
		}
	}
	out := make([]*Result, 0, len(syncs))
	seen := map[string]bool{}
	for _, name := range syncs {
		if !seen[name] {
			seen[name] = true
			out = append(out, results[name])
		}
	}
	return out, nil
}

// newRunID returns a time-ordered run ID.
func newRunID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// SnapshotDir is where a sync's snapshot lives.
func SnapshotDir(stateDir, sync string) string {
	name := sync
	if !safeName.MatchString(name) || name == "." || name == ".." {
		name = fmt.Sprintf("x-%x", sync)
	}
	return filepath.Join(stateDir, "snapshots", name)
}

// Reset forgets a sync's snapshot: its next run sends every row as added
// and removes nothing. A streaming sync's queued changes are forgotten
// too: that run sends their rows as they are then.
func (e *Engine) Reset(ctx context.Context, sync string) error {
	if _, ok := e.Project.Syncs[sync]; !ok {
		return fmt.Errorf("no sync named %q%s", sync, suggestName(sync, e.Project.Syncs))
	}
	snap, err := e.openSnapshot(ctx, sync)
	if err != nil {
		return fmt.Errorf("reset %s: %w", sync, err)
	}
	defer snap.Close()
	if err := e.Store.MarkInterrupted(ctx, sync); err != nil {
		return err
	}
	if err := snap.Reset(); err != nil {
		return fmt.Errorf("reset %s: %w", sync, err)
	}
	prev, _, err := e.Store.SyncState(ctx, sync)
	if err != nil {
		return fmt.Errorf("reset %s: %w", sync, err)
	}
	if err := e.resetWarehouse(ctx, e.Project.Syncs[sync], prev.LastRows); err != nil {
		return fmt.Errorf("reset %s: %w", sync, err)
	}
	if err := e.Store.StreamQueue(sync).Clear(ctx); err != nil {
		return fmt.Errorf("reset %s: %w", sync, err)
	}
	return e.Store.ResetSync(ctx, sync)
}

// openSnapshot opens and locks a sync's snapshot: in files under StateDir,
// kept durably in the state store too when that is the shared one (so
// that any worker can run the sync, and only one at a time).
func (e *Engine) openSnapshot(ctx context.Context, sync string) (*diff.Snapshot, error) {
	var storage diff.Storage
	if ss := e.Store.SnapshotStorage(sync); ss != nil {
		storage = ss
	}
	return diff.OpenWith(ctx, SnapshotDir(e.StateDir, sync), storage)
}

func (e *Engine) tmpDir() string { return filepath.Join(e.StateDir, "tmp") }

// cleanTmp removes the spill files and plans of processes that died (a
// kill -9 leaves them behind); those of live processes stay.
func (e *Engine) cleanTmp() {
	entries, _ := os.ReadDir(e.tmpDir())
	for _, ent := range entries {
		if !diff.TempOwnerAlive(ent.Name()) {
			os.RemoveAll(filepath.Join(e.tmpDir(), ent.Name()))
		}
	}
}
