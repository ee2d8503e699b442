package config

import (
	"math"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

func (l *loader) source(d *def) *Source {
	spec, settings, ok := l.connection(d, sectionSources, l.specs.Source, l.specs.SourceTypes)
	if !ok {
		return nil
	}
	src := &Source{Name: d.name, Type: spec.Type, Settings: settings, Pos: d.pos()}
	l.sourceDiffSchema(d, src)
	return src
}

// keyMaxConcurrentSyncs is a destination key that belongs to Riptide, not
// to the connector: how many syncs may write to the destination at once.
const keyMaxConcurrentSyncs = "max_concurrent_syncs"

func (l *loader) destination(d *def) (*Destination, connector.Spec) {
	spec, settings, ok := l.connection(d, sectionDestinations, l.specs.Destination, l.specs.DestinationTypes)
	if !ok {
		return nil, connector.Spec{}
	}
	dst := &Destination{Name: d.name, Type: spec.Type, Settings: settings, Pos: d.pos()}
	pairs, _ := l.mapping(d.val, sectionDestinations.name+"."+d.name)
	for _, p := range pairs {
		if p.key != keyMaxConcurrentSyncs || p.val.isNull() {
			continue
		}
		v := p.val.deref()
		var n int
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < 1 {
			l.errorAt(v, "%s.%s.%s: expected a positive integer (leave it out for no limit), got %s",
				sectionDestinations.name, d.name, p.key, describe(v))
			return nil, connector.Spec{}
		}
		dst.MaxConcurrentSyncs = n
	}
	return dst, spec
}

func lookupSpec(f func(string) (connector.Spec, bool), typ string) (connector.Spec, bool) {
	if f == nil {
		return connector.Spec{}, false
	}
	return f(typ)
}

// connection checks a source or destination: a type among the known ones,
// and settings that its connector declares. It returns the connector's
// spec, its Type set to the type as written.
func (l *loader) connection(d *def, sec section, specOf func(string) (connector.Spec, bool), types []string) (connector.Spec, connector.Settings, bool) {
	path := sec.name + "." + d.name
	var none connector.Spec
	pairs, ok := l.mapping(d.val, path)
	if !ok {
		return none, nil, false
	}
	var typeNode *pair
	for i := range pairs {
		if pairs[i].key == "type" {
			typeNode = &pairs[i]
		}
	}
	if typeNode == nil {
		l.errorAt(d.where, "%s: missing type%s", path, knownTypes(types))
		return none, nil, false
	}
	typ, ok := l.str(typeNode.val, path+".type")
	if !ok {
		return none, nil, false
	}
	spec, known := lookupSpec(specOf, typ)
	if !known {
		l.errorAt(typeNode.val.deref(), "%s.type: unknown %s type %q%s", path, sec.noun, typ, orKnown(typ, types, "known types"))
		return none, nil, false
	}
	spec.Type = typ
	settings, ok := l.settings(d, sec, spec, pairs, path)
	return spec, settings, ok
}

func knownTypes(types []string) string {
	if len(types) == 0 {
		return ""
	}
	return " (one of " + strings.Join(sorted(types), ", ") + ")"
}

// settings checks a connection's keys against its connector's fields and
// converts each value to the Go type of its kind. Every declared field is
// present in the result: given, defaulted, or the zero value of its kind.
func (l *loader) settings(d *def, sec section, spec connector.Spec, pairs []pair, path string) (connector.Settings, bool) {
	fieldNames := make([]string, 0, len(spec.Fields))
	for _, f := range spec.Fields {
		fieldNames = append(fieldNames, f.Name)
	}
	errsBefore := len(l.errs)
	out := connector.Settings{}
	given := map[string]bool{}
	if sec == sectionDestinations {
		fieldNames = append(fieldNames, keyMaxConcurrentSyncs)
	}
	if sec == sectionSources {
		fieldNames = append(fieldNames, keyDiffSchema)
	}
	for _, p := range pairs {
		if p.key == "type" || (sec == sectionDestinations && p.key == keyMaxConcurrentSyncs) || (sec == sectionSources && p.key == keyDiffSchema) {
			continue
		}
		f, ok := spec.Field(p.key)
		if !ok {
			l.errorAt(p.knode, "%s: unknown setting %q for %s %s%s", path, p.key, spec.Type, sec.name, orKnown(p.key, fieldNames, "known settings"))
			continue
		}
		fpath := path + "." + p.key
		v, present, ok := l.settingValue(f, p.val, fpath)
		if present {
			given[f.Name] = true
		}
		if !ok || !present {
			continue
		}
		out[f.Name] = v
		l.settingSecrets(f, p.val, v, fpath)
	}
	for _, f := range spec.Fields {
		if given[f.Name] {
			continue
		}
		switch {
		case f.Default != nil:
			out[f.Name] = f.Default
		case f.Required:
			l.errorAt(d.where, "%s: missing required setting %q", path, f.Name)
		default:
			out[f.Name] = zeroOf(f.Kind)
		}
	}
	return out, len(l.errs) == errsBefore
}

func zeroOf(k connector.Kind) any {
	switch k {
	case connector.KindInt:
		return 0
	case connector.KindFloat:
		return 0.0
	case connector.KindBool:
		return false
	case connector.KindDuration:
		return time.Duration(0)
	case connector.KindStringMap:
		return map[string]string(nil)
	case connector.KindList:
		return []string(nil)
	}
	return ""
}

// settingValue converts one setting. An empty value (`key:` or null) counts
// as not given, so that the default applies.
func (l *loader) settingValue(f connector.Field, n node, path string) (v any, present, ok bool) {
	n = n.deref()
	if n.isNull() {
		return nil, false, true
	}
	switch f.Kind {
	case connector.KindString, "":
		s, ok := l.str(n, path)
		if !ok {
			return nil, true, false
		}
		if s == "" && f.Required {
			l.errorAt(n, "%s: must not be empty", path)
			return nil, true, false
		}
		if len(f.Enum) > 0 && !contains(f.Enum, s) {
			l.errorAt(n, "%s: must be one of %s, not %q%s", path, strings.Join(f.Enum, ", "), s, didYouMean(s, f.Enum))
			return nil, true, false
		}
		return s, true, true
	case connector.KindInt:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			l.errorAt(n, "%s: expected an integer, got %s", path, describe(n))
			return nil, true, false
		}
		return i, true, true
	case connector.KindFloat:
		x, ok := number(n)
		if !ok {
			l.errorAt(n, "%s: expected a number, got %s", path, describe(n))
			return nil, true, false
		}
		return x, true, true
	case connector.KindBool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			l.errorAt(n, "%s: expected true or false, got %s", path, describe(n))
			return nil, true, false
		}
		return b, true, true
	case connector.KindDuration:
		if n.Kind != yaml.ScalarNode {
			l.errorAt(n, "%s: expected a duration such as \"30s\" or \"2m\", got %s", path, describe(n))
			return nil, true, false
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			l.errorAt(n, "%s: expected a duration such as \"30s\" or \"2m\", got %s", path, describe(n))
			return nil, true, false
		}
		if d < 0 {
			l.errorAt(n, "%s: must not be negative, got %s", path, describe(n))
			return nil, true, false
		}
		return d, true, true
	case connector.KindStringMap:
		return l.stringMap(n, path)
	case connector.KindList:
		list, ok := l.strList(n, path)
		for i, s := range list {
			if ok && len(f.Enum) > 0 && !contains(f.Enum, s) {
				at := n
				if n.Kind == yaml.SequenceNode {
					at = node{n.file, n.Content[i]}
				}
				l.errorAt(at, "%s: %q is not one of %s%s", path, s, strings.Join(f.Enum, ", "), didYouMean(s, f.Enum))
				ok = false
			}
		}
		return list, true, ok
	}
	l.errorAt(n, "%s: the connector declares an unsupported setting kind %q", path, f.Kind)
	return nil, true, false
}

// number reads an integer or float scalar as float64. NaN and infinities
// are not numbers a setting can mean.
func number(n node) (float64, bool) {
	n = n.deref()
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
	default:
		return 0, false
	}
	var x float64
	if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

func (l *loader) stringMap(n node, path string) (any, bool, bool) {
	pairs, ok := l.mapping(n, path)
	if !ok {
		return nil, true, false
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		s := ""
		if !p.val.isNull() {
			if s, ok = l.str(p.val, path+"."+p.key); !ok {
				continue
			}
		}
		out[p.key] = s
	}
	return out, true, ok
}

// settingSecrets registers the secrets a setting holds: the whole value of
// a secret field, and the password of any connection URL. A secret field
// written into the file rather than through ${VAR} is accepted with a
// warning: the file is meant to be committed.
func (l *loader) settingSecrets(f connector.Field, n node, v any, path string) {
	var texts []string
	switch v := v.(type) {
	case string:
		texts = []string{v}
	case []string:
		texts = v
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			texts = append(texts, v[k])
		}
	}
	for _, s := range texts {
		l.addSecrets(redact.URLPassword(s))
	}
	if !f.Secret {
		return
	}
	l.addSecrets(texts...)
	if inline, at := l.inlineText(n, 0); inline {
		l.warnAt(at, "%s is a secret written inline; use ${VAR}", path)
	}
}

// inlineText reports whether a value holds non-empty text that did not
// come from the environment, and where. Setting values are at most a
// mapping of scalars; the depth bound stops at aliases that loop.
func (l *loader) inlineText(n node, depth int) (bool, node) {
	n = n.deref()
	if depth > 4 {
		return false, n
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.ShortTag() != "!!null" && n.Value != "" && !l.fromEnv[n.Node], n
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if inline, at := l.inlineText(node{n.file, c}, depth+1); inline {
				return true, at
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if inline, at := l.inlineText(node{n.file, n.Content[i]}, depth+1); inline {
				return true, at
			}
		}
	}
	return false, n
}
