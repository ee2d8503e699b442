package config

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/riptide-data/riptide/internal/redact"
)

// keyState is the top-level key naming the state store: a postgres://
// URL for the store several `riptide serve` processes share, or the path
// of the embedded SQLite file. Left out, the store is embedded under
// .riptide/.
const keyState = "state"

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
