package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/state"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestTokensPlainAndSealed(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		for _, sealed := range []bool{false, true} {
			s := open(t, b)
			if sealed {
				box, err := state.NewSecretBox(testKey)
				if err != nil {
					t.Fatal(err)
				}
				s.UseSecretBox(box)
			}
			tok, err := s.CreateToken(ctx, "ci", state.RoleEditor)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, "rtk_") || len(tok) < 40 {
				t.Fatalf("token %q", tok)
			}
			got, err := s.Authenticate(ctx, tok)
			if err != nil || got.Name != "ci" || got.Role != state.RoleEditor || got.Encrypted != sealed {
				t.Fatalf("Authenticate = %+v, %v", got, err)
			}
			if _, err := s.Authenticate(ctx, tok+"x"); !errors.Is(err, state.ErrBadToken) {
				t.Fatalf("wrong token: %v", err)
			}
			if _, err := s.CreateToken(ctx, "ci", state.RoleViewer); !errors.Is(err, state.ErrTokenExists) {
				t.Fatalf("duplicate name: %v", err)
			}
			list, err := s.Tokens(ctx)
			if err != nil || len(list) != 1 || list[0].Name != "ci" {
				t.Fatalf("Tokens = %+v, %v", list, err)
			}
			if err := s.RevokeToken(ctx, "ci"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, state.ErrBadToken) {
				t.Fatalf("revoked token: %v", err)
			}
			if err := s.RevokeToken(ctx, "ci"); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("revoke twice: %v", err)
			}
		}
	})
}

func TestTokenHashNeverStoredInClear(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		path := b.location(t)
		s, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		box, _ := state.NewSecretBox(testKey)
		s.UseSecretBox(box)
		tok, err := s.CreateToken(ctx, "admin", state.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()

		// Without the key, or with another, the sealed token does not work.
		s2, err := state.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if _, err := s2.Authenticate(ctx, tok); !errors.Is(err, state.ErrBadToken) {
			t.Fatalf("no key: %v", err)
		}
		other, _ := state.NewSecretBox(strings.Repeat("ab", 32))
		s2.UseSecretBox(other)
		if _, err := s2.Authenticate(ctx, tok); !errors.Is(err, state.ErrBadToken) {
			t.Fatalf("other key: %v", err)
		}
		s2.UseSecretBox(box)
		if _, err := s2.Authenticate(ctx, tok); err != nil {
			t.Fatalf("right key: %v", err)
		}
	})
}

func TestTokenInputChecks(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := context.Background()
		if _, err := s.CreateToken(ctx, "bad name", state.RoleViewer); err == nil || !strings.Contains(err.Error(), "bad name") {
			t.Fatalf("bad name: %v", err)
		}
		if _, err := s.CreateToken(ctx, "x", "root"); err == nil || !strings.Contains(err.Error(), `"root"`) {
			t.Fatalf("bad role: %v", err)
		}
		for _, c := range []struct {
			role, need string
			ok         bool
		}{{"admin", "viewer", true}, {"editor", "editor", true}, {"viewer", "editor", false}, {"editor", "admin", false}, {"", "viewer", false}} {
			if got := state.RoleAllows(c.role, c.need); got != c.ok {
				t.Errorf("RoleAllows(%q, %q) = %v", c.role, c.need, got)
			}
		}
	})
}

func TestSecretBox(t *testing.T) {
	box, err := state.NewSecretBox(testKey)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := box.Seal("p", []byte("hello"))
	b, _ := box.Seal("p", []byte("hello"))
	if a == b || strings.Contains(a, "hello") {
		t.Fatalf("sealed values %q %q", a, b)
	}
	if got, err := box.Open("p", a); err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open("q", a); !errors.Is(err, state.ErrWrongKey) {
		t.Fatalf("other purpose: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 63), "secretpassphrase"} {
		if _, err := state.NewSecretBox(bad); err == nil || strings.Contains(err.Error(), bad) && bad != "" {
			t.Fatalf("NewSecretBox(%q) = %v", bad, err)
		}
	}
}

func TestAuditAndFindRuns(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := context.Background()
		for i, action := range []string{"runs.trigger", "reload"} {
			if err := s.AddAudit(ctx, state.AuditEntry{Token: "ci", Role: "editor", Action: action, Target: "x", Outcome: "ok", Status: 200 + i}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Audit(ctx, 10, 0)
		if err != nil || len(got) != 2 || got[0].Action != "reload" || got[1].Token != "ci" || got[0].At.IsZero() {
			t.Fatalf("Audit = %+v, %v", got, err)
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, st := range []string{state.StatusSucceeded, state.StatusFailed, state.StatusSucceeded} {
			if err := s.SaveRun(ctx, run(string(rune('a'+i)), "s", base.Add(time.Duration(i)*time.Minute), st)); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.FindRuns(ctx, state.RunFilter{Sync: "s", Status: state.StatusSucceeded, Limit: 1, Offset: 1})
		if err != nil || len(runs) != 1 || runs[0].ID != "a" {
			t.Fatalf("FindRuns = %+v, %v", runs, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
