package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// interpolation is what expanding ${VAR} in one string produced.
type interpolation struct {
	out string
	// fromEnv are the non-empty values taken from the environment: each is
	// a secret.
	fromEnv []string
	// problems are messages about undefined or malformed references; the
	// output is still complete, with those references left empty.
	problems []string
}

// interpolate expands ${VAR} and ${VAR:-default} in s, and turns $${ into
// a literal ${. As in a shell, the default applies when the variable is
// unset or empty. Anything else after a $ is left as written, so a price
// like "$5" or a password with a $ needs no escaping.
func interpolate(s string, lookup func(string) (string, bool)) interpolation {
	var res interpolation
	if !strings.Contains(s, "${") {
		res.out = s
		return res
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		rest := s[i:]
		if strings.HasPrefix(rest, "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(rest, "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			res.problems = append(res.problems, "unterminated ${ (write $${ for a literal ${)")
			b.WriteString(rest)
			break
		}
		expr := rest[2:end]
		i += end + 1
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			res.problems = append(res.problems, fmt.Sprintf("invalid variable reference ${%s}: a variable name is letters, digits and _, not starting with a digit (write $${ for a literal ${)", expr))
			continue
		}
		v, set := lookup(name)
		switch {
		case v != "":
			b.WriteString(v)
			res.fromEnv = append(res.fromEnv, v)
		case hasDef:
			b.WriteString(def)
		case !set:
			res.problems = append(res.problems, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name))
		}
	}
	res.out = b.String()
	return res
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// interpolateTree expands variables in every scalar value under n (keys
// are names, never interpolated). A node reached twice through an alias is
// expanded once: expanding "$${" twice would lose the escape.
func (l *loader) interpolateTree(n node, visited map[*yaml.Node]bool) {
	if n.Node == nil || visited[n.Node] {
		return
	}
	visited[n.Node] = true
	switch n.Kind {
	case yaml.ScalarNode:
		l.interpolateScalar(n)
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			l.interpolateTree(node{n.file, n.Content[i]}, visited)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			l.interpolateTree(node{n.file, c}, visited)
		}
	case yaml.AliasNode:
		l.interpolateTree(node{n.file, n.Alias}, visited)
	}
}

func (l *loader) interpolateScalar(n node) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	res := interpolate(n.Value, l.lookupEnv)
	for _, p := range res.problems {
		l.errorAt(n, "%s", p)
	}
	if len(res.problems) > 0 {
		// Whatever is later said about this value would only repeat the
		// problem above.
		l.broken[n.Node] = true
	}
	if len(res.fromEnv) > 0 {
		l.fromEnv[n.Node] = true
		l.addSecrets(res.fromEnv...)
	}
	n.Value = res.out
	// An unquoted value takes the type of the text it expands to, so that
	// `batch_size: ${BATCH_SIZE}` is a number; quoting keeps it a string.
	// An explicit tag (!!str) is the user's word and stays.
	quoted := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	if quoted || n.Style&yaml.TaggedStyle != 0 {
		return
	}
	if res.out == "" {
		n.Tag = "!!str"
		return
	}
	n.Tag = ""
	n.Tag = n.ShortTag()
}
