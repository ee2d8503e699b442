package main

import (
	"context"
	"fmt"
	"io"

	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// follow runs a sync in the foreground as a stream: the first time (when
// its replication slot is created) a batch run, then every change of the
// model's tables as it commits, until Ctrl-C.
func follow(ctx context.Context, a *app, syncName string, opts engine.Options, out io.Writer, summary func([]*engine.Result) error) error {
	sync, ok := a.project.Syncs[syncName]
	if !ok {
		return &exitError{code: exitInvalid, err: fmt.Errorf("no sync named %q", syncName)}
	}
	model := a.project.Models[sync.Model]
	if src := a.project.Sources[model.Source]; src.Type != "postgres" {
		return &exitError{code: exitInvalid, err: fmt.Errorf("sync %s cannot stream: streaming follows PostgreSQL logical replication, and source %s is of type %s", sync.Name, src.Name, src.Type)}
	}
	err := streamsync.Follow(ctx, streamsync.Config{
		Engine: a.engine, Sync: sync.Name, Logger: a.logger, Options: opts, Runs: summary,
		Following: func(f streamsync.Following) { fmt.Fprintf(out, "%s: %s, Ctrl-C to stop\n", sync.Name, f) },
	})
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(out, "%s: stopped\n", sync.Name)
	return nil
}
