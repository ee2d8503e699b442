package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/riptide-data/riptide/internal/redact"
)

// keyState is the top-level key naming the state store: a postgres://
// URL for the store several `riptide serve` processes share, or the path
// of the embedded SQLite file. Left out, the store is embedded under
// .riptide/.
const keyState = "state"

// LoadState reads only the state key of the project in dir, as Load
// would, with the secrets it holds: commands that need nothing but the
// state store (riptide tokens) keep working while models, syncs or other
// keys are broken.
func LoadState(dir string, opts ...Option) (state string, secrets []string, err error) {
	o := options{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, &Errors{List: []Error{{Msg: fmt.Sprintf("resolve project directory %s: %v", dir, err)}}}
	}
	l := &loader{
		dir: abs, lookupEnv: o.lookupEnv, budget: 1 << 20,
		broken: map[*yaml.Node]bool{}, fromEnv: map[*yaml.Node]bool{},
	}
	root, _ := l.readProjectFile()
	for _, doc := range root {
		if doc.isNull() {
			continue
		}
		pairs, ok := l.mapping(doc, doc.file)
		if !ok {
			continue
		}
		for _, p := range pairs {
			if p.key == keyState {
				l.interpolateTree(p.val, map[*yaml.Node]bool{})
				l.stateAt = &p
			}
		}
	}
	p := &Project{Dir: abs}
	p.State = l.projectState()
	if err := l.result(p); err != nil {
		return "", nil, err
	}
	return p.State, p.Secrets, nil
}

// projectState reads the state key, once the whole file has been read.
func (l *loader) projectState() string {
	if l.stateAt == nil || l.stateAt.val.isNull() {
		return ""
	}
	n := l.stateAt.val.deref()
	if l.broken[n.Node] {
		return ""
	}
	v, ok := l.str(n, keyState)
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	if v == "" {
		l.errorAt(n, "state: is empty; leave it out for the embedded store under .riptide/, or give a postgres:// URL")
		return ""
	}
	scheme, _, hasScheme := strings.Cut(v, "://")
	if !hasScheme {
		if !filepath.IsAbs(v) {
			v = filepath.Join(l.dir, v)
		}
		return v
	}
	if scheme != "postgres" && scheme != "postgresql" {
		l.errorAt(n, "state: %q is not a PostgreSQL URL: use postgres://user@host:port/database, or the path of an SQLite file", scheme+"://…")
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		l.errorAt(n, "state: expected postgres://user@host:port/database (with the database named), got %s", redactURL(v))
		return ""
	}
	if pass := redact.URLPassword(v); pass != "" {
		l.addSecrets(pass)
		if !l.fromEnv[n.Node] {
			l.warnAt(n, "state: the URL holds a password written inline; use ${VAR}")
		}
	}
	return v
}

// redactURL is a URL fit for a message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "a URL that does not parse"
	}
	return u.Redacted()
}
