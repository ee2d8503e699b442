package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadState(t *testing.T, state string, env map[string]string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	yaml := "sources: {}\n" + state
	if err := os.WriteFile(filepath.Join(dir, ProjectFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir, testSpecs(), WithLookupEnv(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}))
}

func TestStateKey(t *testing.T) {
	p, err := loadState(t, "", nil)
	if err != nil || p.State != "" {
		t.Fatalf("no state key: %q, %v", p.State, err)
	}

	p, err = loadState(t, "state: postgres://riptide:${PG_PASSWORD}@db.internal:5432/riptide\n", map[string]string{"PG_PASSWORD": "s3cret-pw"})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "postgres://riptide:s3cret-pw@db.internal:5432/riptide" || !slices.Contains(p.Secrets, "s3cret-pw") || len(p.Warnings) != 0 {
		t.Fatalf("state %q, secrets %q, warnings %q", p.State, p.Secrets, p.Warnings)
	}

	p, err = loadState(t, "state: postgres://riptide:inline-pw@db/riptide\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Secrets, "inline-pw") || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "use ${VAR}") || strings.Contains(p.Warnings[0], "inline-pw") {
		t.Fatalf("inline password: secrets %q, warnings %q", p.Secrets, p.Warnings)
	}

	p, err = loadState(t, "state: shared/state.db\n", nil)
	if err != nil || p.State != filepath.Join(p.Dir, "shared", "state.db") {
		t.Fatalf("a path: %q, %v", p.State, err)
	}

	for _, c := range []struct{ yaml, want string }{
		{"state: mysql://root@db/x\n", `"mysql://…" is not a PostgreSQL URL`},
		{"state: postgres://riptide:pw@db\n", "with the database named"},
		{"state: ''\n", "state: is empty"},
		{"state: [a]\n", "state: expected a string"},
		{"stat: x\n", `unknown top-level key "stat"`},
	} {
		_, err := loadState(t, c.yaml, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one saying %q", c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: the password shows: %v", c.yaml, err)
		}
	}
}

// LoadState reads the state key of a project whose other parts are broken.
func TestLoadStateOnly(t *testing.T) {
	dir := t.TempDir()
	yaml := "state: postgres://riptide:${PG_PASSWORD}@db/riptide\nsyncs:\n  broken: {model: nowhere}\n"
	if err := os.WriteFile(filepath.Join(dir, ProjectFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := WithLookupEnv(func(name string) (string, bool) { return "pw-from-env", name == "PG_PASSWORD" })
	if _, err := Load(dir, testSpecs(), env); err == nil {
		t.Fatal("the broken sync loaded")
	}
	state, secrets, err := LoadState(dir, env)
	if err != nil || state != "postgres://riptide:pw-from-env@db/riptide" || !slices.Contains(secrets, "pw-from-env") {
		t.Fatalf("LoadState = %q, %q, %v", state, secrets, err)
	}
	if _, _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "PG_PASSWORD") {
		t.Fatalf("an unset variable: %v", err)
	}
	if _, _, err := LoadState(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no riptide.yaml") {
		t.Fatalf("no project: %v", err)
	}
}
