package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.txt with the current output")

// testSpecs stands in for the built-in connectors: two sources and two
// destinations covering every setting kind, defaults, enums, secrets and a
// destination that supports only some modes.
func testSpecs() Specs {
	sources := map[string]connector.Spec{
		"duckdb": {Type: "duckdb", Fields: []connector.Field{
			{Name: "path", Kind: connector.KindString, Default: ":memory:"},
			{Name: "threads", Kind: connector.KindInt, Default: 4},
			{Name: "read_only", Kind: connector.KindBool},
		}},
		"postgres": {Type: "postgres", Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true},
			{Name: "schema", Kind: connector.KindString, Default: "public"},
			{Name: "password", Kind: connector.KindString, Secret: true},
			{Name: "statement_timeout", Kind: connector.KindDuration, Default: 30 * time.Second},
		}},
	}
	destinations := map[string]connector.Spec{
		// No Modes: every mode is accepted.
		"webhook": {Type: "webhook", Fields: []connector.Field{
			{Name: "url", Kind: connector.KindString, Required: true},
			{Name: "method", Kind: connector.KindString, Enum: []string{"POST", "PUT"}, Default: "POST"},
			{Name: "batch_size", Kind: connector.KindInt, Default: 100},
			{Name: "signing_secret", Kind: connector.KindString, Secret: true},
			{Name: "headers", Kind: connector.KindStringMap},
			{Name: "timeout", Kind: connector.KindDuration, Default: 10 * time.Second},
		}},
		"crm": {Type: "crm", Modes: []string{ModeUpsert, ModeUpdate}, Fields: []connector.Field{
			{Name: "access_token", Kind: connector.KindString, Required: true, Secret: true},
			{Name: "region", Kind: connector.KindString, Enum: []string{"us", "eu"}, Default: "us"},
			{Name: "objects", Kind: connector.KindList, Enum: []string{"contacts", "companies", "deals"}},
			{Name: "sample_rate", Kind: connector.KindFloat, Default: 1.0},
			{Name: "dry_run", Kind: connector.KindBool, Default: false},
		}},
	}
	lookup := func(m map[string]connector.Spec) func(string) (connector.Spec, bool) {
		return func(t string) (connector.Spec, bool) {
			s, ok := m[t]
			return s, ok
		}
	}
	return Specs{
		Source:           lookup(sources),
		Destination:      lookup(destinations),
		SourceTypes:      []string{"duckdb", "postgres"},
		DestinationTypes: []string{"crm", "webhook"},
	}
}

// TestLoadGolden loads each project under testdata/ and compares the
// result (a dump of the project, or the errors) with its want.txt. Run
// with -update to rewrite want.txt after a deliberate change.
func TestLoadGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			env := readEnv(t, filepath.Join(dir, "env"))
			p, err := Load(dir, testSpecs(), WithLookupEnv(func(name string) (string, bool) {
				v, ok := env[name]
				return v, ok
			}))
			abs, _ := filepath.Abs(dir)
			var got string
			if err != nil {
				checkErrors(t, err, env)
				// Messages may name the project directory, which differs
				// from machine to machine.
				got = "error:\n" + strings.ReplaceAll(err.Error(), abs, "$DIR") + "\n"
			} else {
				if p.Dir != abs {
					t.Errorf("Dir = %q, want %q", p.Dir, abs)
				}
				got = dump(p)
			}
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Load(%s) mismatch (-want +got):\n%s", dir, diff)
			}
		})
	}
}

// checkErrors asserts what every load error must be: an *Errors whose
// entries all have a position, and whose text holds no secret.
func checkErrors(t *testing.T, err error, env map[string]string) {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want *Errors: %v", err, err)
	}
	if len(errs.List) == 0 {
		t.Errorf("*Errors has no entries")
	}
	for _, e := range errs.List {
		if e.Pos.File == "" {
			t.Errorf("error without a position: %q", e.Msg)
		}
	}
	for name, v := range env {
		if len(v) >= 4 && strings.Contains(err.Error(), v) {
			t.Errorf("error text leaks the value of %s:\n%s", name, err)
		}
	}
}

// readEnv reads a test's environment: VAR=value lines; # starts a comment.
func readEnv(t *testing.T, file string) map[string]string {
	t.Helper()
	env := map[string]string{}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return env
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", file, line)
		}
		env[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// dump prints a project in a stable text form, with the Go type of every
// setting and static value, so that golden files pin types as well as
// values.
func dump(p *Project) string {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "sources:")
	for _, name := range keys(p.Sources) {
		s := p.Sources[name]
		w(1, "%s (%s) type=%s", s.Name, s.Pos, s.Type)
		dumpSettings(w, s.Settings)
	}
	w(0, "destinations:")
	for _, name := range keys(p.Destinations) {
		d := p.Destinations[name]
		w(1, "%s (%s) type=%s", d.Name, d.Pos, d.Type)
		if d.MaxConcurrentSyncs > 0 {
			w(2, "max_concurrent_syncs: %d", d.MaxConcurrentSyncs)
		}
		dumpSettings(w, d.Settings)
	}
	w(0, "models:")
	for _, name := range keys(p.Models) {
		m := p.Models[name]
		w(1, "%s (%s)", m.Name, m.Pos)
		w(2, "source: %s", m.Source)
		w(2, "primary_key: %q", m.PrimaryKey)
		if m.Description != "" {
			w(2, "description: %q", m.Description)
		}
		w(2, "sql: %q", m.SQL)
	}
	w(0, "syncs:")
	for _, name := range keys(p.Syncs) {
		s := p.Syncs[name]
		w(1, "%s (%s)", s.Name, s.Pos)
		w(2, "model: %s", s.Model)
		w(2, "destination: %s", s.Destination)
		w(2, "mode: %s", s.Mode)
		w(2, "object: %q", s.Object)
		w(2, "identifier: %q", s.Identifier)
		w(2, "schedule: kind=%s cron=%q every=%s (%s)", s.Schedule.Kind, s.Schedule.Cron, s.Schedule.Every, s.Schedule)
		if len(s.After) > 0 {
			w(2, "after: %q", s.After)
		}
		w(2, "max_change_pct: %v", s.MaxChangePct)
		w(2, "max_rejected_pct: %v", s.MaxRejectedPct)
		dumpAlerts(w, 2, s.Alerts)
		if s.MapAll {
			w(2, "mapping: all columns")
		} else {
			w(2, "mapping:")
		}
		for _, m := range s.Mapping {
			switch {
			case m.IsValue:
				w(3, "%s <- value %s (%s)", m.Field, fmtValue(m.Value), m.Pos)
			case m.Template != "":
				w(3, "%s <- template %q (%s)", m.Field, m.Template, m.Pos)
			default:
				w(3, "%s <- column %q (%s)", m.Field, m.Column, m.Pos)
			}
			if m.Type != "" {
				w(4, "as %s", m.Type)
			}
		}
	}
	dumpAlerts(w, 0, p.Alerts)
	w(0, "secrets:")
	for _, s := range p.Secrets {
		w(1, "%q", s)
	}
	w(0, "warnings:")
	for _, s := range p.Warnings {
		w(1, "%s", s)
	}
	return b.String()
}

func dumpSettings(w func(int, string, ...any), s connector.Settings) {
	for _, k := range keys(s) {
		w(2, "%s: %s", k, fmtValue(s[k]))
	}
}

// fmtValue prints a value with its Go type.
func fmtValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("string %q", v)
	case int:
		return fmt.Sprintf("int %d", v)
	case int64:
		return fmt.Sprintf("int64 %d", v)
	case float64:
		return fmt.Sprintf("float64 %v", v)
	case bool:
		return fmt.Sprintf("bool %v", v)
	case time.Duration:
		return fmt.Sprintf("duration %s", v)
	case []string:
		return fmt.Sprintf("[]string%q", v)
	case map[string]string:
		parts := make([]string, 0, len(v))
		for _, k := range keys(v) {
			parts = append(parts, fmt.Sprintf("%q: %q", k, v[k]))
		}
		return "map[string]string{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmtValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range keys(v) {
			parts = append(parts, fmt.Sprintf("%q: %s", k, fmtValue(v[k])))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("%T %v", v, v)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
