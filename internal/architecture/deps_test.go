package architecture

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/riptide-data/riptide/"

// rules: a package (by prefix) may import only the listed packages of
// this module (by prefix). Packages not covered by a rule are free.
var rules = []struct {
	pkg     string
	allowed []string
}{
	{"internal/value", nil},
	{"internal/connector", []string{"internal/value"}},
	{"internal/redact", nil},
	{"internal/source/", []string{"internal/connector", "internal/value", "internal/source/"}},
	{"internal/destination/", []string{"internal/connector", "internal/value", "internal/redact", "internal/destination/"}},
	// The acceptance suite drives destinations through the delivery layer,
	// as the engine does.
	{"internal/destination/destinationtest", []string{"internal/connector", "internal/delivery", "internal/value"}},
	{"internal/delivery", []string{"internal/connector", "internal/value"}},
	{"internal/diff", []string{"internal/value"}},
	{"internal/diff/warehouse", nil},
	{"internal/state", nil},
	{"internal/transform", []string{"internal/config", "internal/connector", "internal/value"}},
	{"internal/config", []string{"internal/connector", "internal/redact", "internal/value"}},
	// The engine is given its connectors; it never picks them itself.
	{"internal/engine", []string{"internal/config", "internal/connector", "internal/delivery", "internal/diff", "internal/diff/warehouse", "internal/redact", "internal/state", "internal/transform", "internal/value"}},
	// The service sits above the engine: it decides when runs happen and
	// serves what they did; connectors reach it only as plugins it is given.
	{"internal/scheduler", []string{"internal/config", "internal/engine", "internal/state"}},
	{"internal/server", []string{"internal/config", "internal/connector", "internal/engine", "internal/redact", "internal/state", "internal/streamsync"}},
	// Alerts go out through the webhook and Slack destinations' clients,
	// so that an alert is signed and posted exactly as those syncs are.
	{"internal/alert", []string{"internal/config", "internal/connector", "internal/state", "internal/destination/httplog", "internal/destination/slack", "internal/destination/webhook"}},
	{"internal/telemetry", []string{"internal/connector", "internal/engine", "internal/state"}},
	{"internal/worker", []string{"internal/diff", "internal/engine", "internal/state"}},
	// The change stream decodes rows exactly as the PostgreSQL source
	// reads them, so a streamed row hashes like a queried one.
	{"internal/stream", []string{"internal/source/postgres", "internal/value"}},
	// Stream syncs: the change stream fed to the engine, and the batch
	// runs it starts.
	{"internal/streamsync", []string{"internal/config", "internal/engine", "internal/state", "internal/stream"}},
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing imports the CLI", pkg, dep)
			}
			// The most specific rule that covers the package applies.
			ri := -1
			for i, r := range rules {
				if pkg != r.pkg && !(strings.HasSuffix(r.pkg, "/") && strings.HasPrefix(pkg, r.pkg)) {
					continue
				}
				if ri < 0 || len(r.pkg) > len(rules[ri].pkg) {
					ri = i
				}
			}
			if ri >= 0 {
				r := rules[ri]
				checked++
				ok := false
				for _, a := range r.allowed {
					if dep == a || strings.HasSuffix(a, "/") && strings.HasPrefix(dep, a) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s; it may import only %v", pkg, dep, r.allowed)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no dependency was checked: is the module path right?")
	}
}
