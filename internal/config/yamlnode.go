package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// node is a YAML node with the file it was read from, so that every message
// built from it can name its position.
type node struct {
	file string
	*yaml.Node
}

func (n node) pos() Pos {
	return Pos{File: n.file, Line: n.Line, Col: n.Column}
}

// deref follows an alias to the node it names. Alias chains cannot form in
// YAML (an alias names an anchored node, never another alias), but the
// bound keeps a malformed tree from looping.
func (n node) deref() node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n.Node = n.Alias
	}
	return n
}

func (n node) isNull() bool {
	n = n.deref()
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (n node) isScalar() bool { return n.deref().Kind == yaml.ScalarNode }

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n node) string {
	n = n.deref()
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "an empty value"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "nothing"
}

// pair is one entry of a YAML mapping.
type pair struct {
	key   string
	knode node
	val   node
}

const mergeKey = "<<"

// mapping returns the entries of a mapping in the order written, with merge
// keys (<<: *anchor) expanded: keys written in the mapping win over merged
// ones, and an earlier merge source wins over a later one, as YAML says.
// Non-scalar and duplicate keys are reported. ok is false (and the problem
// reported) when n is not a mapping.
func (l *loader) mapping(n node, path string) (pairs []pair, ok bool) {
	n = n.deref()
	if n.Kind != yaml.MappingNode {
		l.errorAt(n, "%s: expected a mapping, got %s", path, describe(n))
		return nil, false
	}
	return l.mappingEntries(n, path, map[*yaml.Node]bool{}), true
}

func (l *loader) mappingEntries(n node, path string, expanding map[*yaml.Node]bool) []pair {
	expanding[n.Node] = true
	defer delete(expanding, n.Node)

	written := map[string]node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := node{n.file, n.Content[i]}.deref()
		if k.Kind != yaml.ScalarNode {
			l.errorAt(k, "%s: keys must be plain names, got %s", path, describe(k))
			continue
		}
		if k.Value == mergeKey && k.ShortTag() == "!!merge" {
			continue
		}
		if first, dup := written[k.Value]; dup {
			l.errorAt(k, "%s: key %q is defined twice (first at line %d)", path, k.Value, first.Line)
			continue
		}
		written[k.Value] = k
	}

	var out []pair
	added := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := node{n.file, n.Content[i]}.deref()
		v := node{n.file, n.Content[i+1]}
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == mergeKey && k.ShortTag() == "!!merge" {
			for _, src := range l.mergeSources(v, path) {
				if expanding[src.Node] {
					l.errorAt(v, "%s: merge refers to a mapping that contains it", path)
					continue
				}
				if !l.spend(len(src.Content)) {
					l.errorAt(v, "%s: too many merges and aliases to expand", path)
					continue
				}
				for _, p := range l.mappingEntries(src, path, expanding) {
					if _, shadowed := written[p.key]; shadowed || added[p.key] {
						continue
					}
					added[p.key] = true
					out = append(out, p)
				}
			}
			continue
		}
		if written[k.Value].Node != k.Node || added[k.Value] {
			continue // a duplicate, reported above
		}
		added[k.Value] = true
		out = append(out, pair{key: k.Value, knode: k, val: v})
	}
	return out
}

// mergeSources returns the mappings a merge key names: one mapping, or a
// list of them.
func (l *loader) mergeSources(v node, path string) []node {
	v = v.deref()
	switch v.Kind {
	case yaml.MappingNode:
		return []node{v}
	case yaml.SequenceNode:
		var out []node
		for _, c := range v.Content {
			c := node{v.file, c}.deref()
			if c.Kind != yaml.MappingNode {
				l.errorAt(c, "%s: << expects a mapping or a list of mappings, got %s", path, describe(c))
				continue
			}
			out = append(out, c)
		}
		return out
	}
	l.errorAt(v, "%s: << expects a mapping or a list of mappings, got %s", path, describe(v))
	return nil
}

// parseYAML reads the documents of a file. A syntax error ends the file:
// the parser cannot resume after one.
func parseYAML(file string, data []byte) (docs []node, syntaxErr *Error) {
	defer func() {
		// yaml.v3 reports errors by panicking internally and recovering;
		// anything that escapes is a parser bug, and a bad file must never
		// crash the program that loads it.
		if r := recover(); r != nil {
			docs, syntaxErr = nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			e := syntaxError(file, data, err)
			return docs, &e
		}
		if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
			docs = append(docs, node{file, doc.Content[0]})
		}
	}
}

var (
	yamlLineRe   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRe = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// syntaxError turns a yaml.v3 error into a positioned Error. The line in
// yaml.v3's message ("yaml: line 3: ...") is where the enclosing construct
// began, sometimes counted from zero, and is left out altogether on the
// first line; so the line is found by parsing ever longer prefixes of the
// file until one fails with the very same error.
func syntaxError(file string, data []byte, err error) Error {
	full := err.Error()
	msg := strings.TrimPrefix(full, "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(full); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	at := func(line, col int) Error {
		return Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: "invalid YAML: " + msg}
	}
	if m := yamlAnchorRe.FindStringSubmatch(full); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			return at(lineCol(data, i))
		}
	}
	if strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8") {
		if i := badCharIndex(data); i >= 0 {
			return at(lineCol(data, i))
		}
	}
	if l := failingLine(data, full, line-1); l > 0 {
		return at(l, 0)
	}
	return at(max(line, 1), 0)
}

// failingLine returns the number of lines of the shortest prefix of data
// that fails to parse with exactly the error text want, or 0. The search
// starts at prefixes of from lines: the line yaml.v3 names is at most one
// past the failing one, so few parses are needed. It is still quadratic in
// the worst case, so it only runs on files of a size people write by hand.
func failingLine(data []byte, want string, from int) int {
	const maxBytes, maxLines = 256 << 10, 5000
	if len(data) > maxBytes || bytes.Count(data, []byte("\n")) > maxLines {
		return 0
	}
	if n := failingLineFrom(data, want, max(from, 1)); n > 0 || from <= 1 {
		return n
	}
	return failingLineFrom(data, want, 1)
}

func failingLineFrom(data []byte, want string, from int) int {
	n := 0
	for end := 0; end < len(data); {
		next := bytes.IndexByte(data[end:], '\n')
		if next < 0 {
			end = len(data)
		} else {
			end += next + 1
		}
		n++
		if n < from {
			continue
		}
		if err := parsePrefix(data[:end]); err != nil && err.Error() == want {
			return n
		}
	}
	return 0
}

func parsePrefix(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// badCharIndex returns the offset of the first byte YAML does not accept in
// a document (invalid UTF-8, control characters), or -1.
func badCharIndex(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return i
		}
		i += size
	}
	return -1
}

func lineCol(data []byte, offset int) (line, col int) {
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}
