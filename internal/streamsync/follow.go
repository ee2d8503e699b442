// Package streamsync runs stream syncs. It opens a sync's change stream
// (internal/stream), gives the sync its first batch run when the stream's
// replication slot is new, then delivers the model's changes as they
// commit: change by change for a model the stream follows exactly (one
// table, a projection, a filter), and for any other model (joins,
// aggregates) through a batch run — an incremental plan — started by
// changes to the tables it reads, debounced. Under `riptide serve` a
// Supervisor keeps every stream sync running, restarting one that fails.
package streamsync

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/stream"
)

// DefaultDebounce is how long a model that is not followed exactly waits,
// after a change to a table it reads, for the changes that come with it
// before its plan runs; DefaultMaxDelay bounds that wait under a steady
// flow of changes.
const (
	DefaultDebounce = 200 * time.Millisecond
	DefaultMaxDelay = 2 * time.Second
)

// Config is how to follow one sync.
type Config struct {
	Engine *engine.Engine
	Sync   string
	Logger *slog.Logger
	// Options apply to the batch runs the stream starts.
	Options engine.Options
	// Runs is told of each batch run the stream starts (its first sync, a
	// resync after a TRUNCATE, a plan triggered by changes); an error
	// stops the stream.
	Runs func([]*engine.Result) error
	// Following is told when the stream has caught up with its first run
	// and follows the model's tables, with what it follows.
	Following func(Following)
	// Debounce and MaxDelay override DefaultDebounce and DefaultMaxDelay.
	Debounce, MaxDelay time.Duration
	// StatusInterval is how often an idle stream tells the server how far
	// it is (stream.Config's; 10 s when zero).
	StatusInterval time.Duration
}

// Following describes a stream that follows its tables.
type Following struct {
	Slot string `json:"slot,omitempty"`
	// Exact is true when changes are delivered change by change; false
	// when they trigger plans of the model.
	Exact  bool     `json:"exact"`
	Tables []string `json:"tables"`
}

func (f Following) String() string {
	how := "change by change"
	if !f.Exact {
		how = "by incremental plans"
	}
	if f.Slot == "" {
		return fmt.Sprintf("follows %s, %s", strings.Join(f.Tables, ", "), how)
	}
	return fmt.Sprintf("following %s (slot %s), %s", strings.Join(f.Tables, ", "), f.Slot, how)
}

// ErrFirstRun marks a stream stopped because its first batch run failed:
// the slot keeps every change until the stream starts again.
var ErrFirstRun = errors.New("the first batch run failed")

// Follow runs a sync as a stream until ctx ends (nil) or it fails.
func Follow(ctx context.Context, cfg Config) error {
	e := cfg.Engine
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.Runs == nil {
		cfg.Runs = func([]*engine.Result) error { return nil }
	}
	sync, ok := e.Project.Syncs[cfg.Sync]
	if !ok {
		return fmt.Errorf("no sync named %q", cfg.Sync)
	}
	model := e.Project.Models[sync.Model]
	src := e.Project.Sources[model.Source]
	if src.Type != "postgres" {
		return fmt.Errorf("sync %s cannot stream: streaming follows PostgreSQL logical replication, and source %s is of type %s", sync.Name, src.Name, src.Type)
	}
	url := src.Settings.String("url")
	slot, err := SlotName(url, sync.Name)
	if err != nil {
		return fmt.Errorf("source %s: %w", src.Name, err)
	}
	f := &follow{cfg: cfg, sync: sync, model: model, url: url, slot: slot, log: cfg.Logger.With("sync", sync.Name)}
	exact, err := stream.ParseModel(model.SQL)
	for {
		if err != nil {
			f.log.Info("the model is not followed change by change: changes to its tables trigger a plan", "reason", err)
			return f.triggered(ctx)
		}
		err = f.exact(ctx, exact)
		if !errors.Is(err, stream.ErrNotExact) {
			return err
		}
	}
}

// SlotName is a sync's replication slot and publication name: lower case,
// only what slot names allow, unique per database and sync (slot names
// are the whole cluster's).
func SlotName(url, sync string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", errors.New("invalid url")
	}
	var b strings.Builder
	for _, r := range strings.ToLower(sync) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(cfg.Database + "/" + sync))
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("riptide_%s_%08x", base, h.Sum32()), nil
}

// follow is one attempt at following a sync.
type follow struct {
	cfg   Config
	sync  *config.Sync
	model *config.Model
	url   string
	slot  string
	log   *slog.Logger
}

func (f *follow) open(ctx context.Context, sc stream.Config) (*stream.Stream, error) {
	sc.URL, sc.Slot, sc.Publication, sc.Logger, sc.StatusInterval = f.url, f.slot, f.slot, f.log, f.cfg.StatusInterval
	st, err := stream.Open(ctx, sc)
	if errors.Is(err, stream.ErrSlotInUse) {
		// The server's message names the slot and the process, no secret.
		return nil, fmt.Errorf("sync %s: %w", f.sync.Name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sync %s: %s", f.sync.Name, f.cfg.Engine.Redactor.Error(err))
	}
	return st, nil
}

func (f *follow) close(st *stream.Stream) {
	if err := st.Close(); err != nil {
		f.log.Warn("close stream", "error", f.cfg.Engine.Redactor.Error(err))
	}
}

// batch runs the sync in batch.
func (f *follow) batch(ctx context.Context, why string) error {
	f.log.Info("batch run", "why", why)
	results, err := f.cfg.Engine.Run(ctx, []string{f.sync.Name}, f.cfg.Options)
	if err != nil {
		return err
	}
	if err := f.cfg.Runs(results); err != nil {
		return err
	}
	if err := results[0].Err; err != nil {
		return fmt.Errorf("sync %s: %s: %w", f.sync.Name, why, err)
	}
	return nil
}

// firstRun runs the sync in batch when its stream is new, when the sync
// has no completed run (never ran, or was reset), or when its mapping
// changed since its last run: the stream only brings what changes from
// now on.
func (f *follow) firstRun(ctx context.Context, st *stream.Stream) error {
	why := "first run of a new stream"
	if !st.Created() {
		_, ran, err := f.cfg.Engine.Store.SyncState(ctx, f.sync.Name)
		if err != nil {
			return fmt.Errorf("sync %s: %w", f.sync.Name, err)
		}
		why = "the sync has no completed run (reset, or its first run failed)"
		if ran {
			// A new mapping applies to every row, not only to those that
			// change from now on.
			changed, err := f.cfg.Engine.MappingChanged(ctx, f.sync.Name)
			if err != nil {
				return fmt.Errorf("sync %s: %w", f.sync.Name, err)
			}
			if !changed {
				return nil
			}
			why = "the mapping changed: every row is sent again under it"
		}
	}
	// Changes still queued are older than what the batch run reads (a
	// slot dropped and created again, a first run that failed): sent
	// after it, they would put back values the destination is past. If
	// the run fails, the next start runs it again.
	if err := f.cfg.Engine.Store.StreamQueue(f.sync.Name).Clear(ctx); err != nil {
		return fmt.Errorf("sync %s: %w", f.sync.Name, err)
	}
	if err := f.batch(ctx, why); err != nil {
		return fmt.Errorf("%w: %w; the stream's slot %s keeps the changes until it starts again", ErrFirstRun, err, f.slot)
	}
	return nil
}

// exact follows a model change by change; it returns an error wrapping
// stream.ErrNotExact when the table turns out not to allow it.
func (f *follow) exact(ctx context.Context, m *stream.Model) error {
	st, err := f.open(ctx, stream.Config{Table: m.Table})
	if err != nil {
		return err
	}
	defer f.close(st)
	// Every change committed after the slot's consistent point comes
	// through the stream, so the batch run that follows leaves no gap;
	// what it sends again is at most what the stream sends twice.
	if err := f.firstRun(ctx, st); err != nil {
		return err
	}
	if f.cfg.Following != nil {
		f.cfg.Following(Following{Slot: f.slot, Exact: true, Tables: []string{st.Table().String()}})
	}
	feed := &exactFeed{s: st, model: m, primaryKey: f.model.PrimaryKey, log: f.log, lookup: stream.NewLookup(f.url, f.model.SQL)}
	defer feed.lookup.Close(context.WithoutCancel(ctx))
	for {
		err := f.cfg.Engine.Follow(ctx, f.sync.Name, feed)
		var resync *errResync
		if !errors.As(err, &resync) {
			return err
		}
		f.log.Warn(resync.Error())
		if err := f.batch(ctx, "table truncated"); err != nil {
			return err
		}
		st.Ack(resync.end)
	}
}

// triggered follows a model through plans: a transaction changing any
// table the model reads starts a batch run of the sync once the changes
// settle, and the stream is acknowledged up to what that run saw.
func (f *follow) triggered(ctx context.Context) error {
	tables, err := stream.ModelTables(ctx, f.url, f.model.SQL)
	if err != nil {
		return fmt.Errorf("sync %s: %s", f.sync.Name, f.cfg.Engine.Redactor.Error(err))
	}
	st, err := f.open(ctx, stream.Config{Watch: tables})
	if err != nil {
		return err
	}
	defer f.close(st)
	if err := f.firstRun(ctx, st); err != nil {
		return err
	}
	if f.cfg.Following != nil {
		names := make([]string, len(st.Watched()))
		for i, t := range st.Watched() {
			names[i] = t.String()
		}
		f.cfg.Following(Following{Slot: f.slot, Tables: names})
	}
	for {
		tx, err := st.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sync %s: %w", f.sync.Name, err)
		}
		last, changed := tx.End, len(tx.Touched)
		// Gather what commits with it: one plan for a burst of changes.
		deadline := time.Now().Add(f.cfg.MaxDelay)
		for {
			wait := min(f.cfg.Debounce, time.Until(deadline))
			if wait <= 0 {
				break
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			tx, err := st.Next(wctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if wctx.Err() != nil {
					break
				}
				return fmt.Errorf("sync %s: %w", f.sync.Name, err)
			}
			last, changed = tx.End, changed+len(tx.Touched)
		}
		// Every transaction up to last committed before the run's query
		// starts, so the run sees them all.
		if err := f.batch(ctx, "tables changed"); err != nil {
			return err
		}
		st.Ack(last)
	}
}

// Check reports what would stop a sync from streaming, creating nothing:
// how it would be followed (Following without a slot), and the problems
// of its server, user and tables.
func Check(ctx context.Context, e *engine.Engine, syncName string) (Following, []string, error) {
	sync, ok := e.Project.Syncs[syncName]
	if !ok {
		return Following{}, nil, fmt.Errorf("no sync named %q", syncName)
	}
	model := e.Project.Models[sync.Model]
	url := e.Project.Sources[model.Source].Settings.String("url")
	var fw Following
	var followed string
	var watched []string
	if m, err := stream.ParseModel(model.SQL); err == nil {
		fw.Exact, followed = true, m.Table
	} else {
		tables, err := stream.ModelTables(ctx, url, model.SQL)
		if err != nil {
			return fw, []string{err.Error()}, nil
		}
		watched = tables
	}
	tables, problems, err := stream.Check(ctx, url, followed, watched)
	if err != nil {
		return fw, nil, errors.New(e.Redactor.Error(err))
	}
	for _, t := range tables {
		fw.Tables = append(fw.Tables, t.String())
	}
	return fw, problems, nil
}
