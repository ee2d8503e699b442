// Package redact keeps secrets out of everything Riptide prints or stores:
// logs, errors, run records and JSON output.
package redact

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces a secret.
const Mask = "****"

// Redactor replaces known secret values, and passwords inside URLs, in text.
// The zero value redacts URL passwords only. A Redactor is immutable once
// built and safe for concurrent use.
type Redactor struct {
	replacer *strings.Replacer
}

// New returns a Redactor for the given secret values. Values shorter than
// four characters are ignored: masking "1" everywhere would garble output
// without protecting anything.
func New(secrets []string) *Redactor {
	uniq := map[string]bool{}
	var list []string
	for _, s := range secrets {
		if len(s) < 4 || uniq[s] {
			continue
		}
		uniq[s] = true
		list = append(list, s)
		// Secrets also show up URL-escaped inside connection strings.
		if e := url.QueryEscape(s); e != s {
			list = append(list, e)
		}
		if e := url.PathEscape(s); e != s {
			list = append(list, e)
		}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	var pairs []string
	for _, s := range list {
		pairs = append(pairs, s, Mask)
	}
	return &Redactor{replacer: strings.NewReplacer(pairs...)}
}

// urlPassword matches the password of a URL up to the last "@" of its
// authority: a password may hold a raw "@" ("P@ssw0rd"), which url.Parse
// accepts, and which must not end the mask early.
var urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s]+(?:@[^@\s/]+)*)(@)`)

// String returns s with secrets masked.
func (r *Redactor) String(s string) string {
	if r != nil && r.replacer != nil {
		s = r.replacer.Replace(s)
	}
	return urlPassword.ReplaceAllString(s, "${1}"+Mask+"${3}")
}

// Error returns err's message with secrets masked.
func (r *Redactor) Error(err error) string {
	if err == nil {
		return ""
	}
	return r.String(err.Error())
}

// URLPassword returns the password inside a connection URL, if any, so that
// it can be registered as a secret.
func URLPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}
