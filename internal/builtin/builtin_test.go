package builtin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
)

// TestConnectorConventions checks what every built-in connector owes its
// users: a spec under its registered name, documented settings, a README in
// its folder and, for destinations, declared limits and modes.
func TestConnectorConventions(t *testing.T) {
	check := func(t *testing.T, kind, name string, spec connector.Spec) {
		if spec.Type != name {
			t.Errorf("%s %q declares type %q", kind, name, spec.Type)
		}
		if spec.Summary == "" {
			t.Errorf("%s %q has no summary", kind, name)
		}
		for _, f := range spec.Fields {
			if f.Doc == "" {
				t.Errorf("%s %q: setting %q is undocumented", kind, name, f.Name)
			}
			if f.Kind == "" {
				t.Errorf("%s %q: setting %q has no kind", kind, name, f.Name)
			}
		}
		readme := filepath.Join("..", kind, name, "README.md")
		if _, err := os.Stat(readme); err != nil {
			t.Errorf("%s %q has no README: %v", kind, name, err)
		}
	}
	for name, p := range Sources() {
		if p.New == nil {
			t.Errorf("source %q has no constructor", name)
		}
		check(t, "source", name, p.Spec)
	}
	for name, p := range Destinations() {
		if p.New == nil {
			t.Errorf("destination %q has no constructor", name)
		}
		check(t, "destination", name, p.Spec)
		if p.Spec.Limits.BatchSize <= 0 {
			t.Errorf("destination %q declares no batch size", name)
		}
		if len(p.Spec.Modes) == 0 {
			t.Errorf("destination %q declares no modes", name)
		}
	}
	if len(Sources()) == 0 || len(Destinations()) == 0 {
		t.Fatal("no connectors registered")
	}
}

// TestDestinationsRunTheSuite: every built-in destination runs the shared
// acceptance suite (internal/destination/destinationtest): SaaS ones
// against their emulators, the others against the real system.
func TestDestinationsRunTheSuite(t *testing.T) {
	for name := range Destinations() {
		b, err := os.ReadFile(filepath.Join("..", "destination", name, "suite_test.go"))
		if err != nil || !strings.Contains(string(b), "destinationtest.Run(") {
			t.Errorf("destination %q does not run destinationtest.Run in suite_test.go", name)
		}
	}
}
