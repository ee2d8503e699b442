package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/stream"
)

// follow runs a sync in the foreground as a stream: the first time (when
// its replication slot is created) a batch run, then every change of the
// model's table as it commits, until Ctrl-C.
func follow(ctx context.Context, a *app, syncName string, opts engine.Options, out io.Writer, summary func([]*engine.Result) error) error {
	sync, ok := a.project.Syncs[syncName]
	if !ok {
		return &exitError{code: exitInvalid, err: fmt.Errorf("no sync named %q", syncName)}
	}
	model := a.project.Models[sync.Model]
	src := a.project.Sources[model.Source]
	if src.Type != "postgres" {
		return &exitError{code: exitInvalid, err: fmt.Errorf("sync %s cannot stream: streaming follows PostgreSQL logical replication, and source %s is of type %s", sync.Name, src.Name, src.Type)}
	}
	m, err := stream.ParseModel(model.SQL)
	if err != nil {
		// The incremental plan triggered by changes is not built yet.
		return &exitError{code: exitInvalid, err: fmt.Errorf("sync %s cannot stream yet: model %s is %w", sync.Name, model.Name, err)}
	}
	url := src.Settings.String("url")
	pgcfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return &exitError{code: exitInvalid, err: fmt.Errorf("source %s: invalid url", src.Name)}
	}
	name := streamName(pgcfg.Database, sync.Name)
	st, err := stream.Open(ctx, stream.Config{
		URL: url, Table: m.Table, Slot: name, Publication: name, Logger: a.logger,
	})
	if err != nil {
		return fmt.Errorf("sync %s: %s", sync.Name, a.engine.Redactor.Error(err))
	}
	defer func() {
		if err := st.Close(); err != nil {
			a.logger.Warn("close stream", "sync", sync.Name, "error", a.engine.Redactor.Error(err))
		}
	}()
	if st.Created() {
		// Every change committed after the slot's consistent point comes
		// through the stream, so the batch run that follows leaves no gap;
		// what it sends again is at most what the stream sends twice.
		results, err := a.engine.Run(ctx, []string{sync.Name}, opts)
		if err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		if err := summary(results); err != nil {
			return err
		}
		if results[0].Err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("sync %s: the first batch run failed; the stream's slot %s keeps the changes until the next --follow", sync.Name, name)}
		}
	}
	fmt.Fprintf(out, "%s: following %s (slot %s), Ctrl-C to stop\n", sync.Name, st.Table(), name)
	feed := &streamFeed{s: st, model: m, primaryKey: model.PrimaryKey, log: a.logger.With("sync", sync.Name)}
	if err := a.engine.Follow(ctx, sync.Name, feed); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(out, "%s: stopped\n", sync.Name)
	return nil
}

// streamName is a sync's replication slot and publication name: lower
// case, only what slot names allow, unique per database and sync (slot
// names are the whole cluster's).
func streamName(database, sync string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(sync) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(database + "/" + sync))
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("riptide_%s_%08x", base, h.Sum32())
}

// streamFeed turns a table's changes into the model's rows.
type streamFeed struct {
	s          *stream.Stream
	model      *stream.Model
	primaryKey []string
	log        *slog.Logger

	cols  []stream.Column
	bound *stream.Bound
}

func (f *streamFeed) Next(ctx context.Context) (engine.ChangeBatch, error) {
	tx, err := f.s.Next(ctx)
	if err != nil {
		return engine.ChangeBatch{}, err
	}
	out := engine.ChangeBatch{Position: uint64(tx.End)}
	for _, c := range tx.Changes {
		if err := f.bind(c.Columns); err != nil {
			return engine.ChangeBatch{}, err
		}
		acts, err := f.bound.Apply(c)
		if err != nil {
			// The row stays as the last batch run left it until the next.
			f.log.Warn("streamed change skipped", "op", c.Op.String(), "error", err)
			continue
		}
		for _, a := range acts {
			if slices.Contains(a.Row, any(stream.Unchanged)) && !a.Delete {
				f.log.Warn("streamed row skipped: a TOASTed value the update did not send; the next batch run sends the row")
				continue
			}
			out.Changes = append(out.Changes, engine.ModelChange{Delete: a.Delete, Row: a.Row})
		}
	}
	if f.bound != nil {
		out.Columns = f.bound.Columns
	}
	return out, nil
}

func (f *streamFeed) Ack(position uint64) { f.s.Ack(stream.LSN(position)) }

// bind binds the model to the table's columns when they are first seen
// or changed.
func (f *streamFeed) bind(cols []stream.Column) error {
	if f.bound != nil && slices.Equal(cols, f.cols) {
		return nil
	}
	b, err := f.model.Bind(cols)
	if err != nil {
		if errors.Is(err, stream.ErrNotExact) {
			return fmt.Errorf("model is %w", err)
		}
		return err
	}
	for _, k := range f.primaryKey {
		i := slices.Index(b.Columns, k)
		if i < 0 || !b.Key[i] {
			return fmt.Errorf("the model's primary key column %s is not the table's primary key: a deleted row could not be named", k)
		}
	}
	f.cols, f.bound = cols, b
	return nil
}
