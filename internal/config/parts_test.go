package config

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestInterpolate(t *testing.T) {
	env := map[string]string{"HOST": "db.internal", "EMPTY": "", "PORT": "5432"}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	tests := []struct {
		in       string
		out      string
		fromEnv  []string
		problems int
	}{
		{in: "plain", out: "plain"},
		{in: "${HOST}", out: "db.internal", fromEnv: []string{"db.internal"}},
		{in: "pg://${HOST}:${PORT}/x", out: "pg://db.internal:5432/x", fromEnv: []string{"db.internal", "5432"}},
		{in: "${MISSING:-fallback}", out: "fallback"},
		{in: "${EMPTY:-fallback}", out: "fallback"},
		{in: "${EMPTY}", out: ""},
		{in: "${MISSING:-}", out: ""},
		{in: "${MISSING:-a:-b}", out: "a:-b"},
		{in: "$${HOST}", out: "${HOST}"},
		{in: "$$${HOST}", out: "$${HOST}", problems: 0},
		{in: "costs $5, $HOST, $", out: "costs $5, $HOST, $"},
		{in: "${MISSING}", out: "", problems: 1},
		{in: "${A} and ${B}", out: " and ", problems: 2},
		{in: "${}", out: "", problems: 1},
		{in: "${1X}", out: "", problems: 1},
		{in: "${HOST", out: "${HOST", problems: 1},
		{in: "${HO ST}", out: "", problems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res := interpolate(tt.in, lookup)
			if res.out != tt.out {
				t.Errorf("out = %q, want %q", res.out, tt.out)
			}
			if diff := cmp.Diff(tt.fromEnv, res.fromEnv); diff != "" {
				t.Errorf("fromEnv (-want +got):\n%s", diff)
			}
			if len(res.problems) != tt.problems {
				t.Errorf("problems = %q, want %d of them", res.problems, tt.problems)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	candidates := []string{"batch_size", "headers", "url", "type", "crm_hook", "PUT", "POST"}
	tests := []struct {
		name, want string
	}{
		{"batchsize", "batch_size"},
		{"batch_sise", "batch_size"},
		{"Headers", "headers"},
		{"tpye", "type"},
		{"crm", "crm_hook"},
		{"GET", ""},
		{"x", ""},
		{"completely_different", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, candidates); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in      string
		want    Schedule
		wantErr string
	}{
		{in: "manual", want: Schedule{Kind: ScheduleManual}},
		{in: "", want: Schedule{Kind: ScheduleManual}},
		{in: "*/15 * * * *", want: Schedule{Kind: ScheduleCron, Cron: "*/15 * * * *"}},
		{in: "@daily", want: Schedule{Kind: ScheduleCron, Cron: "@daily"}},
		{in: "every 10m", want: Schedule{Kind: ScheduleInterval, Every: 10 * time.Minute}},
		{in: "every 1h30m", want: Schedule{Kind: ScheduleInterval, Every: 90 * time.Minute}},
		{in: "@every 45s", want: Schedule{Kind: ScheduleInterval, Every: 45 * time.Second}},
		{in: "every 0s", wantErr: "must be positive"},
		{in: "every soon", wantErr: "invalid interval"},
		{in: "* * * *", wantErr: "expected exactly 5 fields"},
		{in: "0 0 0 * * *", wantErr: "expected exactly 5 fields"},
		{in: "TZ=UTC", wantErr: "time zone must be followed"},
		{in: "@sometimes", wantErr: "unrecognized descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSchedule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			// What String writes must read back as the same schedule.
			again, err := ParseSchedule(got.String())
			if err != nil || again != got {
				t.Errorf("ParseSchedule(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestTemplateFuncNames(t *testing.T) {
	var names []string
	for name := range parseFuncs() {
		names = append(names, name)
	}
	sort.Strings(names)
	if diff := cmp.Diff(sorted(TemplateFuncNames), names); diff != "" {
		t.Errorf("TemplateFuncNames and the parse-check functions differ (-names +funcs):\n%s", diff)
	}
	for _, name := range TemplateFuncNames {
		if err := checkTemplate("f", "{{ "+name+" .x }}"); err != nil {
			t.Errorf("template calling %s: %v", name, err)
		}
	}
	if err := checkTemplate("f", "{{ nosuch .x }}"); err == nil {
		t.Error("a template calling an unknown function parsed")
	}
}

func TestErrorsFormat(t *testing.T) {
	errs := &Errors{List: sortErrors([]Error{
		{Pos: Pos{File: "riptide.yaml", Line: 10, Col: 3}, Msg: "late"},
		{Pos: Pos{File: "models/a.yaml", Line: 2, Col: 1}, Msg: "other file"},
		{Pos: Pos{File: "riptide.yaml", Line: 2, Col: 9}, Msg: "later column"},
		{Pos: Pos{File: "riptide.yaml", Line: 2, Col: 1}, Msg: "early"},
		{Pos: Pos{File: "riptide.yaml", Line: 2, Col: 1}, Msg: "early"},
		{Pos: Pos{File: "riptide.yaml", Line: 4}, Msg: "no column"},
		{Pos: Pos{File: "riptide.yml"}, Msg: "no line"},
	})}
	want := strings.Join([]string{
		"models/a.yaml:2:1: other file",
		"riptide.yaml:2:1: early",
		"riptide.yaml:2:9: later column",
		"riptide.yaml:4: no column",
		"riptide.yaml:10:3: late",
		"riptide.yml: no line",
	}, "\n")
	if diff := cmp.Diff(want, errs.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Pos
	}{
		{"first line", "a: b: c\n", Pos{File: "f", Line: 1}},
		{"third line", "a: 1\nb: 2\nc: d: e\n", Pos{File: "f", Line: 3}},
		{"tab", "a: 1\nb: 2\n\tc: 1\n", Pos{File: "f", Line: 3}},
		{"unclosed flow", "a: 1\nb: [1, 2\nc: 3\n", Pos{File: "f", Line: 2}},
		{"bad indentation", "a:\n  b: 1\n c: 2\n", Pos{File: "f", Line: 3}},
		{"unknown anchor", "a: 1\nb: [x, *nope]\n", Pos{File: "f", Line: 2, Col: 8}},
		{"control character", "a: 1\nb: \"x\x02\"\n", Pos{File: "f", Line: 2, Col: 6}},
		{"second document", "a: 1\n---\nb: c: d\n", Pos{File: "f", Line: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseYAML("f", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Pos != tt.want {
				t.Errorf("position %v, want %v (%s)", err.Pos, tt.want, err.Msg)
			}
			if !strings.HasPrefix(err.Msg, "invalid YAML: ") || strings.Contains(err.Msg, "line ") {
				t.Errorf("message %q: want the parser's message without its line", err.Msg)
			}
		})
	}
}

// TestLoadProcessEnv checks the default: ${VAR} reads the process
// environment.
func TestLoadProcessEnv(t *testing.T) {
	t.Setenv("RIPTIDE_CONFIG_TEST_URL", "http://127.0.0.1:9999/from-env")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "riptide.yaml"), "destinations:\n  hook: {type: webhook, url: \"${RIPTIDE_CONFIG_TEST_URL}\"}\n")
	p, err := Load(dir, testSpecs())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Destinations["hook"].Settings.String("url"); got != "http://127.0.0.1:9999/from-env" {
		t.Errorf("url = %q", got)
	}
	if !filepath.IsAbs(p.Dir) {
		t.Errorf("Dir %q is not absolute", p.Dir)
	}
}

// TestLoadRelativeDir checks that a relative project directory becomes
// absolute, and that sql_file resolves against it rather than the working
// directory.
func TestLoadRelativeDir(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "model_sql_forms"), testSpecs())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(filepath.Join("testdata", "model_sql_forms"))
	if p.Dir != want {
		t.Errorf("Dir = %q, want %q", p.Dir, want)
	}
	if !strings.Contains(p.Models["from_file"].SQL, "from orders") {
		t.Errorf("sql_file not read: %q", p.Models["from_file"].SQL)
	}
}

// TestLoadNoSpecs checks that a zero Specs (no connectors registered)
// reports unknown types instead of panicking.
func TestLoadNoSpecs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "riptide.yaml"), "sources:\n  w: {type: duckdb}\n")
	_, err := Load(dir, Specs{})
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != 1 || !strings.Contains(errs.List[0].Msg, `unknown source type "duckdb"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestInterpolateOnceThroughAliases checks that a value reached through
// several aliases is expanded once: expanding twice would turn an escaped
// $${ into a variable reference.
func TestInterpolateOnceThroughAliases(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "riptide.yaml"), `destinations:
  a: &a
    type: webhook
    url: http://127.0.0.1/
    headers: {X-Literal: "$${NOT_SET}"}
  b: *a
  c: *a
`)
	p, err := Load(dir, testSpecs(), WithLookupEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if got := p.Destinations[name].Settings.StringMap("headers")["X-Literal"]; got != "${NOT_SET}" {
			t.Errorf("%s: X-Literal = %q, want ${NOT_SET}", name, got)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"abc", `"abc"`},
		{"'12'", `"12"`},
		{"12", "12"},
		{"~", "an empty value"},
		{"[1]", "a list"},
		{"{a: 1}", "a mapping"},
	}
	for _, tt := range tests {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		if got := describe(node{"f", doc.Content[0]}); got != tt.want {
			t.Errorf("describe(%s) = %s, want %s", tt.yaml, got, tt.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
