package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
)

func newTokensCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Manage the API tokens of `riptide serve`",
		Long: `API tokens authenticate calls to the API of riptide serve
(Authorization: Bearer <token>). A token has a role: viewer reads, editor
also triggers runs, plans and reloads, admin also manages tokens and reads
the audit log. Tokens live hashed in the project's state store; with
RIPTIDE_SECRET_KEY set, the hashes are encrypted too (serve then needs the
same key).`,
	}
	cmd.AddCommand(newTokensCreateCmd(g), newTokensListCmd(g), newTokensRevokeCmd(g))
	return cmd
}

// openStateOnly opens the project's state store without loading the
// project, so that tokens can be managed while a project file is broken
// (only its state key must read).
func openStateOnly(ctx context.Context, g *globalFlags) (*state.Store, error) {
	dir, err := filepath.Abs(g.project)
	if err != nil {
		return nil, &exitError{code: exitInvalid, err: err}
	}
	found := false
	for _, name := range []string{config.ProjectFile, "riptide.yml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = true
		}
	}
	if !found {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("%s holds no %s: run in a project directory or give -p DIR", dir, config.ProjectFile)}
	}
	projectState := ""
	if g.state == "" {
		// Only the state key is read: the rest of the project may be broken.
		if projectState, _, err = config.LoadState(dir); err != nil {
			return nil, &exitError{code: exitInvalid, err: err}
		}
	}
	store, _, err := openState(ctx, g, dir, projectState)
	if err != nil {
		return nil, err
	}
	if err := useSecretKey(store); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// useSecretKey makes the store encrypt its secrets with RIPTIDE_SECRET_KEY
// when it is set.
func useSecretKey(store *state.Store) error {
	key := os.Getenv(state.SecretKeyEnv)
	if key == "" {
		return nil
	}
	box, err := state.NewSecretBox(key)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	store.UseSecretBox(box)
	return nil
}

func withStore(g *globalFlags, fn func(ctx context.Context, s *state.Store) error) error {
	ctx, cancel := signalContext()
	defer cancel()
	s, err := openStateOnly(ctx, g)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(ctx, s)
}

func newTokensCreateCmd(g *globalFlags) *cobra.Command {
	var name, role string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role admin|editor|viewer",
		Short: "Create a token and print it (the only time it is shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return &exitError{code: exitInvalid, err: errors.New("--name is required")}
			}
			if !state.RoleAllows(role, state.RoleViewer) {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--role %q: use one of %s", role, strings.Join(state.Roles, ", "))}
			}
			if err := state.CheckTokenName(name); err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			return withStore(g, func(ctx context.Context, s *state.Store) error {
				tok, err := s.CreateToken(ctx, name, role)
				if errors.Is(err, state.ErrTokenExists) {
					return &exitError{code: exitInvalid, err: err}
				}
				if err != nil {
					return err
				}
				if g.json {
					return writeJSON(os.Stdout, map[string]string{"token": tok})
				}
				fmt.Println(tok)
				fmt.Fprintf(os.Stderr, "token %q (%s) created; it is not shown again\n", name, role)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a name for the token (who or what uses it)")
	cmd.Flags().StringVar(&role, "role", "", "viewer, editor or admin")
	return cmd
}

func newTokensListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (names and roles, never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(g, func(ctx context.Context, s *state.Store) error {
				toks, err := s.Tokens(ctx)
				if err != nil {
					return err
				}
				if g.json {
					return writeJSON(os.Stdout, toks)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tENCRYPTED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", t.Name, t.Role, t.CreatedAt.Format("2006-01-02 15:04:05Z"), t.Encrypted)
				}
				return tw.Flush()
			})
		},
	}
}

func newTokensRevokeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(g, func(ctx context.Context, s *state.Store) error {
				err := s.RevokeToken(ctx, args[0])
				if errors.Is(err, state.ErrNotFound) {
					return &exitError{code: exitInvalid, err: fmt.Errorf("no token named %q (riptide tokens list)", args[0])}
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "token %q revoked\n", args[0])
				return nil
			})
		},
	}
}
