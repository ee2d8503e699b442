package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad writes arbitrary bytes as riptide.yaml and checks that Load
// never panics and returns either a project or an *Errors whose every
// entry has a position. The seeds are the golden projects' riptide.yaml
// files.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "riptide.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\nsources: {x: {<<: *a}}\n"))
	f.Add([]byte("syncs: {s: {schedule: \"TZ=\"}}\n"))
	f.Add([]byte("destinations: {d: {type: webhook, url: x, max_concurrent_syncs: 2}}\nsyncs: {a: {after: [a, b]}, b: {after: a}}\n"))
	env := map[string]string{"HOOK_SECRET": "hook-secret-value", "BATCH": "10"}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "riptide.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(dir, testSpecs(), WithLookupEnv(lookup))
		if err == nil {
			if p == nil {
				t.Fatal("Load returned neither a project nor an error")
			}
			return
		}
		if p != nil {
			t.Fatal("Load returned both a project and an error")
		}
		var errs *Errors
		if !errors.As(err, &errs) {
			t.Fatalf("error is %T, want *Errors: %v", err, err)
		}
		if len(errs.List) == 0 {
			t.Fatal("*Errors without entries")
		}
		for _, e := range errs.List {
			if e.Pos.File == "" {
				t.Fatalf("error without a position: %q", e.Msg)
			}
		}
	})
}
