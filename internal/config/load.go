package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// Option changes how Load reads a project.
type Option func(*options)

type options struct {
	lookupEnv func(string) (string, bool)
}

// WithLookupEnv makes Load read ${VAR} values through lookup instead of
// the process environment (os.LookupEnv), for tests and for callers that
// hold variables of their own.
func WithLookupEnv(lookup func(name string) (value string, ok bool)) Option {
	return func(o *options) { o.lookupEnv = lookup }
}

// Load reads the project in dir: riptide.yaml (or riptide.yml) and every
// models/*.yaml and syncs/*.yaml beside it, expands ${VAR} references,
// checks every setting against its connector's spec in specs, and resolves
// the references between sources, models, destinations and syncs.
//
// On failure the error is an *Errors listing every problem found, each at
// its file:line:column, with secret values masked.
func Load(dir string, specs Specs, opts ...Option) (*Project, error) {
	o := options{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Errors{List: []Error{{Msg: fmt.Sprintf("resolve project directory %s: %v", dir, err)}}}
	}
	l := &loader{
		dir:       abs,
		specs:     specs,
		lookupEnv: o.lookupEnv,
		broken:    map[*yaml.Node]bool{},
		fromEnv:   map[*yaml.Node]bool{},
		defs:      map[string]*defSet{},
		afterAt:   map[string][]node{},
		budget:    1 << 20,
	}
	for _, s := range sections {
		l.defs[s.name] = &defSet{byName: map[string]*def{}}
	}
	return l.load()
}

// ProjectFile is the file that makes a directory a Riptide project.
const ProjectFile = "riptide.yaml"

// Other project paths, relative to the project directory.
const (
	projectFileAlt = "riptide.yml"
	modelsDir      = "models"
	syncsDir       = "syncs"
)

// section is one kind of definition: the key it sits under in riptide.yaml
// and the word messages use for one of them.
type section struct {
	name string // sources
	noun string // source
}

var (
	sectionSources      = section{"sources", "source"}
	sectionDestinations = section{"destinations", "destination"}
	sectionModels       = section{"models", "model"}
	sectionSyncs        = section{"syncs", "sync"}
	sections            = []section{sectionSources, sectionDestinations, sectionModels, sectionSyncs}
)

func sectionNames() []string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return names
}

// def is one named definition, before it is checked.
type def struct {
	name  string
	where node // the name: the key, or the value of `name:` in a single-definition file
	val   node // the definition's mapping
	// single is set for a file holding one definition with a `name:` key,
	// which is then not one of the definition's own keys.
	single bool
}

func (d *def) pos() Pos { return d.where.pos() }

// defSet holds the definitions of one section in the order they were read.
type defSet struct {
	list   []*def
	byName map[string]*def
}

func (s *defSet) names() []string {
	names := make([]string, len(s.list))
	for i, d := range s.list {
		names[i] = d.name
	}
	return names
}

type loader struct {
	dir       string
	specs     Specs
	lookupEnv func(string) (string, bool)

	errs     []Error
	warnings []Error
	secrets  []string
	// broken nodes already have an error (an undefined variable); further
	// messages about them would repeat it.
	broken map[*yaml.Node]bool
	// fromEnv nodes took at least part of their value from ${VAR}.
	fromEnv map[*yaml.Node]bool
	defs    map[string]*defSet
	// afterAt holds where each sync lists its after entries, for the
	// cycle check that runs once every sync is read.
	afterAt map[string][]node
	alerts  *alertsState
	// writeBackAt is the project-wide write_back entry, read once the
	// sources are.
	writeBackAt *pair
	// stateAt is the top-level state entry (state.go).
	stateAt *pair
	// budget bounds the work spent expanding aliases and merge keys, which
	// a small hostile file can otherwise make exponential.
	budget int
}

func (l *loader) errorf(pos Pos, format string, args ...any) {
	l.errs = append(l.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// errorAt reports a problem about a node, unless the node already has one.
func (l *loader) errorAt(n node, format string, args ...any) {
	if l.broken[n.Node] {
		return
	}
	l.errorf(n.pos(), format, args...)
}

func (l *loader) warnAt(n node, format string, args ...any) {
	l.warnings = append(l.warnings, Error{Pos: n.pos(), Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) addSecrets(values ...string) {
	for _, v := range values {
		if v != "" {
			l.secrets = append(l.secrets, v)
		}
	}
}

func (l *loader) spend(n int) bool {
	l.budget -= n + 1
	return l.budget >= 0
}

func (l *loader) load() (*Project, error) {
	root, ok := l.readProjectFile()
	if !ok {
		return nil, l.result(nil)
	}
	for _, doc := range root {
		l.interpolateTree(doc, map[*yaml.Node]bool{})
		l.collectProject(doc)
	}
	for _, dir := range []struct {
		name string
		sec  section
	}{{modelsDir, sectionModels}, {syncsDir, sectionSyncs}} {
		for _, file := range l.listYAML(dir.name) {
			docs, ok := l.readYAML(file)
			if !ok {
				continue
			}
			for _, doc := range docs {
				l.interpolateTree(doc, map[*yaml.Node]bool{})
				l.collectFile(doc, dir.sec)
			}
		}
	}

	p := &Project{
		Dir:          l.dir,
		Sources:      map[string]*Source{},
		Destinations: map[string]*Destination{},
		Models:       map[string]*Model{},
		Syncs:        map[string]*Sync{},
	}
	destSpecs := map[string]connector.Spec{}
	for _, d := range l.defs[sectionSources.name].list {
		if s := l.source(d); s != nil {
			p.Sources[s.Name] = s
		}
	}
	for _, d := range l.defs[sectionDestinations.name].list {
		if dst, spec := l.destination(d); dst != nil {
			p.Destinations[dst.Name] = dst
			destSpecs[dst.Name] = spec
		}
	}
	for _, d := range l.defs[sectionModels.name].list {
		if m := l.model(d); m != nil {
			p.Models[m.Name] = m
		}
	}
	for _, d := range l.defs[sectionSyncs.name].list {
		if s := l.sync(d, destSpecs); s != nil {
			p.Syncs[s.Name] = s
		}
	}
	l.checkAfterCycles(p.Syncs)
	l.checkStreams(p)
	l.resolveAlerts(p)
	p.State = l.projectState()
	l.resolveWriteBack(p, p.Sources)
	l.resolveDiff(p)
	if err := l.result(p); err != nil {
		return nil, err
	}
	return p, nil
}

// result finishes a load: it masks secrets in every message and returns
// the errors, or fills in the project's secrets and warnings.
func (l *loader) result(p *Project) error {
	secrets := dedupe(l.secrets)
	r := redact.New(secrets)
	if len(l.errs) > 0 {
		for i := range l.errs {
			l.errs[i].Msg = r.String(l.errs[i].Msg)
		}
		return &Errors{List: sortErrors(l.errs)}
	}
	p.Secrets = secrets
	for _, w := range l.warnings {
		w.Msg = r.String(w.Msg)
		p.Warnings = append(p.Warnings, w.Error())
	}
	return nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// readProjectFile finds and parses riptide.yaml.
func (l *loader) readProjectFile() ([]node, bool) {
	var found []string
	for _, name := range []string{ProjectFile, projectFileAlt} {
		if st, err := os.Stat(filepath.Join(l.dir, name)); err == nil && !st.IsDir() {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		why := ""
		if _, err := os.Stat(l.dir); errors.Is(err, fs.ErrNotExist) {
			why = " (the directory does not exist)"
		}
		l.errorf(Pos{File: ProjectFile}, "no %s in %s%s; run `riptide init` to create a project", ProjectFile, l.dir, why)
		return nil, false
	case 2:
		l.errorf(Pos{File: projectFileAlt}, "both %s and %s exist; keep one", ProjectFile, projectFileAlt)
		return nil, false
	}
	docs, ok := l.readYAML(found[0])
	if !ok {
		return nil, false
	}
	if len(docs) > 1 {
		l.errorf(docs[1].pos(), "%s holds more than one YAML document; put models and syncs in models/ and syncs/ instead", found[0])
		docs = docs[:1]
	}
	return docs, true
}

// listYAML returns the .yaml and .yml files of a project folder, relative
// to the project directory, in name order. Hidden files (editor backups)
// are skipped; the folder itself is optional.
func (l *loader) listYAML(dir string) []string {
	entries, err := os.ReadDir(filepath.Join(l.dir, dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		l.errorf(Pos{File: dir}, "read folder: %v", err)
		return nil
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		files = append(files, dir+"/"+name)
	}
	return files
}

func (l *loader) readYAML(file string) ([]node, bool) {
	data, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(file)))
	if err != nil {
		l.errorf(Pos{File: file}, "read file: %v", err)
		return nil, false
	}
	docs, syntaxErr := parseYAML(file, data)
	if syntaxErr != nil {
		l.errs = append(l.errs, *syntaxErr)
		return nil, false
	}
	return docs, true
}

// collectProject gathers the definitions of riptide.yaml.
func (l *loader) collectProject(doc node) {
	if doc.isNull() {
		return
	}
	pairs, ok := l.mapping(doc, doc.file)
	if !ok {
		return
	}
	for _, p := range pairs {
		if p.key == keyAlerts {
			l.projectAlerts(p.val)
			continue
		}
		if p.key == keyState {
			l.stateAt = &p
			continue
		}
		if p.key == keyWriteBack {
			l.writeBackAt = &p
			continue
		}
		sec, known := sectionByName(p.key)
		if !known {
			l.errorAt(p.knode, "unknown top-level key %q%s", p.key, orKnown(p.key, append(sectionNames(), keyAlerts, keyWriteBack, keyState), "top-level keys"))
			continue
		}
		if p.val.isNull() {
			continue
		}
		entries, ok := l.mapping(p.val, sec.name)
		if !ok {
			continue
		}
		for _, e := range entries {
			l.addDef(sec, &def{name: e.key, where: e.knode, val: e.val})
		}
	}
}

func sectionByName(name string) (section, bool) {
	for _, s := range sections {
		if s.name == name {
			return s, true
		}
	}
	return section{}, false
}

// collectFile gathers the definitions of one document in models/ or
// syncs/: either one definition with a `name:` key, or a mapping of names
// to definitions, as in riptide.yaml.
func (l *loader) collectFile(doc node, sec section) {
	if doc.isNull() {
		return
	}
	pairs, ok := l.mapping(doc, doc.file)
	if !ok {
		return
	}
	for _, p := range pairs {
		if p.key == "name" && p.val.isScalar() {
			name, ok := l.str(p.val, sec.name+".name")
			if ok {
				l.addDef(sec, &def{name: name, where: p.val.deref(), val: doc, single: true})
			}
			return
		}
	}
	for _, p := range pairs {
		if p.key == sec.name && !p.val.isScalar() {
			l.errorAt(p.knode, "files in %s/ hold %s directly: remove the %q level", sec.name, sec.name, sec.name+":")
			return
		}
	}
	for _, p := range pairs {
		l.addDef(sec, &def{name: p.key, where: p.knode, val: p.val})
	}
}

// nameRe is what a definition may be called: names appear in commands,
// URLs and file names, so they stay plain.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

func (l *loader) addDef(sec section, d *def) {
	if !nameRe.MatchString(d.name) {
		l.errorAt(d.where, "%s: invalid %s name %q: use letters, digits, _ and -", sec.name, sec.noun, d.name)
		return
	}
	set := l.defs[sec.name]
	if first, dup := set.byName[d.name]; dup {
		l.errorAt(d.where, "%s %q is defined twice: here and at %s", sec.noun, d.name, first.pos())
		return
	}
	set.byName[d.name] = d
	set.list = append(set.list, d)
}

// str reads a scalar as text. Numbers and booleans are accepted as their
// text as written: `password: 1234` is a string setting like any other.
func (l *loader) str(n node, path string) (string, bool) {
	n = n.deref()
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		l.errorAt(n, "%s: expected a string, got %s", path, describe(n))
		return "", false
	}
	return n.Value, true
}

// strList reads a list of strings, or a single string as a list of one.
func (l *loader) strList(n node, path string) ([]string, bool) {
	n = n.deref()
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		l.errorAt(n, "%s: expected a string or a list of strings, got %s", path, describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := l.str(node{n.file, c}, fmt.Sprintf("%s[%d]", path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// checkKeys reports keys of a definition that are not among known.
func (l *loader) checkKeys(pairs []pair, known []string, path string) {
	for _, p := range pairs {
		if !contains(known, p.key) {
			l.errorAt(p.knode, "%s: unknown key %q%s", path, p.key, orKnown(p.key, known, "known keys"))
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// ref checks that a definition refers to a defined name.
func (l *loader) ref(n node, sec section, path string) (string, bool) {
	name, ok := l.str(n, path)
	if !ok {
		return "", false
	}
	set := l.defs[sec.name]
	if _, defined := set.byName[name]; !defined {
		hint := orKnown(name, set.names(), "defined "+sec.name)
		if len(set.list) == 0 {
			hint = fmt.Sprintf(" (no %s are defined)", sec.name)
		}
		l.errorAt(n.deref(), "%s: %s %q is not defined%s", path, sec.noun, name, hint)
		return name, false
	}
	return name, true
}
