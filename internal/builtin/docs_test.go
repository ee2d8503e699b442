package builtin

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/sources and docs/destinations from the specs")

// TestDocsUpToDate fails when a connector's generated reference page in
// docs/ differs from what its spec says; -update rewrites them.
func TestDocsUpToDate(t *testing.T) {
	pages := map[string]string{}
	for name, p := range Sources() {
		pages[filepath.Join("sources", name+".md")] = Markdown("source", name, p.Spec)
	}
	for name, p := range Destinations() {
		pages[filepath.Join("destinations", name+".md")] = Markdown("destination", name, p.Spec)
	}
	for rel, want := range pages {
		path := filepath.Join("..", "..", "docs", rel)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("docs/%s is out of date with the connector's spec: run go test ./internal/builtin -update", rel)
		}
	}
	// No page for a connector that is gone.
	for _, dir := range []string{"sources", "destinations"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "docs", dir, "*.md"))
		for _, f := range files {
			if _, ok := pages[filepath.Join(dir, filepath.Base(f))]; !ok {
				t.Errorf("docs/%s/%s documents no registered connector", dir, filepath.Base(f))
			}
		}
	}
}
