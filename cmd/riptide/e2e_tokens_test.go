package main

import (
	"strings"
	"testing"
)

// TestE2ETokens covers the token commands' answers to good and bad input.
func TestE2ETokens(t *testing.T) {
	t.Parallel()
	p := newProj(t, "sources: {}\n")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"tokens", "create", "--role", "viewer"}, 2, "--name is required"},
		{[]string{"tokens", "create", "--name", "x", "--role", "root"}, 2, `--role "root"`},
		{[]string{"tokens", "create", "--name", "a b", "--role", "viewer"}, 2, `"a b"`},
		{[]string{"tokens", "create", "--name", "bi", "--role", "viewer"}, 0, "not shown again"},
		{[]string{"tokens", "create", "--name", "bi", "--role", "admin"}, 2, "exists"},
		{[]string{"tokens", "revoke", "bi"}, 0, "revoked"},
		{[]string{"tokens", "revoke", "bi"}, 2, `no token named "bi"`},
	} {
		r := p.riptide(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%v: exit %d, stderr %q", c.args, r.code, r.stderr)
		}
	}
	empty := &proj{t: t, dir: t.TempDir()}
	if r := empty.riptide("tokens", "list"); r.code != 2 || !strings.Contains(r.stderr, "riptide.yaml") {
		t.Errorf("outside a project: exit %d, %q", r.code, r.stderr)
	}
	bad := &proj{t: t, dir: p.dir, env: []string{"RIPTIDE_SECRET_KEY=short"}}
	if r := bad.riptide("tokens", "list"); r.code != 2 || !strings.Contains(r.stderr, "RIPTIDE_SECRET_KEY") || strings.Contains(r.stderr, "short") {
		t.Errorf("bad key: exit %d, %q", r.code, r.stderr)
	}
}
