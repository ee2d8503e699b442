package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/riptide-data/riptide/internal/builtin"
	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

// app is a loaded project with its state store and engine.
type app struct {
	project  *config.Project
	store    *state.Store
	engine   *engine.Engine
	redactor *redact.Redactor
	logger   *slog.Logger
	stateDir string
}

// loadProject loads and validates the project; configuration errors exit
// with exitInvalid.
func loadProject(g *globalFlags) (*config.Project, error) {
	p, err := config.Load(g.project, builtin.Specs())
	if err != nil {
		return nil, &exitError{code: exitInvalid, err: err}
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return p, nil
}

func newLogger(g *globalFlags, r *redact.Redactor) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	return slog.New(redact.NewHandler(h, r))
}

// openApp loads the project and opens its state.
func openApp(ctx context.Context, g *globalFlags) (*app, error) {
	p, err := loadProject(g)
	if err != nil {
		return nil, err
	}
	r := redact.New(append(slices.Clone(p.Secrets), stateSecrets(g)...))
	store, stateDir, err := openState(ctx, g, p.Dir, p.State)
	if err != nil {
		return nil, err
	}
	logger := newLogger(g, r)
	// Connectors log through the default logger; it gets the same
	// redaction and level.
	slog.SetDefault(logger)
	return &app{
		project: p, store: store, redactor: r, logger: logger, stateDir: stateDir,
		engine: &engine.Engine{
			Project: p, Store: store, StateDir: stateDir,
			Sources: builtin.Sources(), Destinations: builtin.Destinations(),
			Logger: logger, Redactor: r,
		},
	}, nil
}

func (a *app) Close() { a.store.Close() }

// openState opens the state store every command uses: the one --state
// names, else the project's state key, else the embedded store in
// .riptide/state.db. It also makes .riptide/, the state directory, which
// holds snapshots (a cache of them with the PostgreSQL store) and spill
// files whatever the store.
func openState(ctx context.Context, g *globalFlags, projectDir, projectState string) (*state.Store, string, error) {
	stateDir := filepath.Join(projectDir, ".riptide")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, "", fmt.Errorf("create state directory: %w", err)
	}
	location := cmp.Or(g.state, projectState, filepath.Join(stateDir, "state.db"))
	store, err := state.Open(ctx, location)
	if err != nil {
		return nil, "", err
	}
	return store, stateDir, nil
}

// stateSecrets is what of --state must never be shown: a URL's password.
func stateSecrets(g *globalFlags) []string {
	if pass := redact.URLPassword(g.state); pass != "" {
		return []string{pass}
	}
	return nil
}

// withApp runs fn with the project loaded and its state open, under a
// context that Ctrl-C cancels.
func withApp(g *globalFlags, fn func(ctx context.Context, a *app) error) error {
	ctx, cancel := signalContext()
	defer cancel()
	a, err := openApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(ctx, a)
}

// signalContext is cancelled by Ctrl-C or SIGTERM: a run stops sending,
// commits what was acknowledged, and records itself as failed.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// syncArgs resolves the syncs a command names, or all of them.
func syncArgs(p *config.Project, args []string, all bool) ([]string, error) {
	if all {
		if len(args) > 0 {
			return nil, &exitError{code: exitInvalid, err: errors.New("give sync names or --all, not both")}
		}
		names := make([]string, 0, len(p.Syncs))
		for n := range p.Syncs {
			names = append(names, n)
		}
		sortStrings(names)
		if len(names) == 0 {
			return nil, &exitError{code: exitInvalid, err: errors.New("the project has no syncs")}
		}
		return names, nil
	}
	if len(args) == 0 {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("name a sync (%s) or use --all", strings.Join(sortedSyncs(p), ", "))}
	}
	for _, a := range args {
		if _, ok := p.Syncs[a]; !ok {
			return nil, &exitError{code: exitInvalid, err: fmt.Errorf("no sync named %q (syncs: %s)", a, strings.Join(sortedSyncs(p), ", "))}
		}
	}
	return args, nil
}

func sortedSyncs(p *config.Project) []string {
	names := make([]string, 0, len(p.Syncs))
	for n := range p.Syncs {
		names = append(names, n)
	}
	sortStrings(names)
	return names
}
