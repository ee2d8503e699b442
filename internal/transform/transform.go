// Package transform turns a model row into the fields a destination
// receives, following a sync's mapping: columns, static values and
// templates over the row.
package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"

	"github.com/agnivade/levenshtein"
	"github.com/zeebo/xxh3"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

type fieldKind byte

const (
	fromColumn fieldKind = iota
	fromValue
	fromTemplate
)

type field struct {
	name  string
	kind  fieldKind
	col   int
	value any
	tmpl  *template.Template
	typ   string // the conversion the mapping asks for
}

// Mapper applies one sync's mapping to rows of a model with known columns.
type Mapper struct {
	fields      []field
	columns     []string
	useMap      bool  // a template needs the row as a map
	hashColumns []int // nil: every column
	fingerprint uint64
}

// New builds the mapper of a sync for a model result with the given
// columns. A mapping that names a column the model lacks is an error that
// says which, with the nearest column name.
func New(sync *config.Sync, columns []string) (*Mapper, error) {
	m := &Mapper{columns: columns}
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[c] = i
	}
	fp := xxh3.New()
	if sync.MapAll {
		for i, c := range columns {
			m.fields = append(m.fields, field{name: c, kind: fromColumn, col: i})
		}
		fmt.Fprintf(fp, "all:%q", columns)
		m.fingerprint = fp.Sum64()
		return m, nil
	}
	used := map[int]bool{}
	allColumns := false
	for _, mp := range sync.Mapping {
		f := field{name: mp.Field, typ: mp.Type}
		if mp.Type != "" {
			fmt.Fprintf(fp, "as:%q=%q;", mp.Field, mp.Type)
		}
		switch {
		case mp.Template != "":
			t, err := template.New(mp.Field).Funcs(Funcs()).Funcs(template.FuncMap{printFunc: text}).
				Option("missingkey=error").Parse(mp.Template)
			if err != nil {
				return nil, fmt.Errorf("%s: sync %s: mapping %s: %w", mp.Pos, sync.Name, mp.Field, err)
			}
			for _, tt := range t.Templates() {
				printAsText(tt.Tree.Root)
			}
			refs, all := templateColumns(t)
			for _, r := range refs {
				i, ok := index[r]
				if !ok {
					return nil, fmt.Errorf("%s: sync %s: mapping %s: the template uses .%s, but the model has no column %q%s",
						mp.Pos, sync.Name, mp.Field, r, r, suggest(r, columns))
				}
				used[i] = true
			}
			allColumns = allColumns || all
			f.kind, f.tmpl, m.useMap = fromTemplate, t, true
			fmt.Fprintf(fp, "t:%q=%q;", mp.Field, mp.Template)
		case mp.IsValue:
			v, err := value.Normalize(mp.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: sync %s: mapping %s: %w", mp.Pos, sync.Name, mp.Field, err)
			}
			f.kind, f.value = fromValue, v
			fmt.Fprintf(fp, "v:%q=%x;", mp.Field, value.Append(nil, v))
		default:
			i, ok := index[mp.Column]
			if !ok {
				return nil, fmt.Errorf("%s: sync %s: mapping %s: the model has no column %q%s",
					mp.Pos, sync.Name, mp.Field, mp.Column, suggest(mp.Column, columns))
			}
			used[i] = true
			f.kind, f.col = fromColumn, i
			fmt.Fprintf(fp, "c:%q=%q;", mp.Field, mp.Column)
		}
		m.fields = append(m.fields, f)
	}
	if !allColumns {
		// By column name, not position: adding a column the mapping does
		// not use, or reordering the model's columns, changes no hash.
		m.hashColumns = []int{}
		var names []string
		for i := range columns {
			if used[i] {
				m.hashColumns = append(m.hashColumns, i)
			}
		}
		slices.SortFunc(m.hashColumns, func(a, b int) int { return strings.Compare(columns[a], columns[b]) })
		for _, i := range m.hashColumns {
			names = append(names, columns[i])
		}
		fmt.Fprintf(fp, "cols:%q", names)
	}
	m.fingerprint = fp.Sum64()
	return m, nil
}

func suggest(name string, columns []string) string {
	best, bestD := "", 1<<30
	for _, c := range columns {
		if d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(name)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (columns: %s)", strings.Join(columns, ", "))
}

// Fields are the destination field names, in mapping order.
func (m *Mapper) Fields() []string {
	out := make([]string, len(m.fields))
	for i, f := range m.fields {
		out[i] = f.name
	}
	return out
}

// HashColumns are the model columns whose values decide the mapped
// output, ordered by name; nil means all of them.
func (m *Mapper) HashColumns() []int { return m.hashColumns }

// Fingerprint identifies the mapping: a different mapping gives a
// different fingerprint, so rows hash differently under it.
func (m *Mapper) Fingerprint() uint64 { return m.fingerprint }

// Apply maps one row (canonical values, one per model column) into dst,
// reusing its storage. Only a template or a type conversion can fail, and
// then only that row.
func (m *Mapper) Apply(row []any, dst []connector.FieldValue) ([]connector.FieldValue, error) {
	dst = dst[:0]
	var data map[string]any
	if m.useMap {
		data = make(map[string]any, len(m.columns))
		for i, c := range m.columns {
			data[c] = templateValue(row[i])
		}
	}
	var buf bytes.Buffer
	for _, f := range m.fields {
		var v any
		switch f.kind {
		case fromColumn:
			v = row[f.col]
		case fromValue:
			v = f.value
		case fromTemplate:
			buf.Reset()
			if err := f.tmpl.Execute(&buf, data); err != nil {
				return dst, fmt.Errorf("mapping %s: %w", f.name, err)
			}
			v = buf.String()
		}
		if f.typ != "" {
			var err error
			if v, err = coerce(v, f.typ); err != nil {
				return dst, fmt.Errorf("mapping %s: %w", f.name, err)
			}
		}
		dst = append(dst, connector.FieldValue{Name: f.name, Value: v})
	}
	return dst, nil
}

// templateValue presents a canonical value to templates: NULL as nil
// (so `default` applies), everything else as its text, except booleans
// and numbers, which templates can compare, and arrays, which `join` and
// `range` take as lists.
func templateValue(v any) any {
	switch v.(type) {
	case nil, bool, int64, float64, string, []any:
		return v
	}
	return value.Text(v)
}

// printFunc is the hidden function printAsText ends every printing action
// with. Config checks templates against TemplateFuncNames, so no mapping
// can call it by name.
const printFunc = "riptidePrintText"

// printAsText makes every action that prints a value print its text
// (value.Text): NULL as nothing rather than text/template's "<no value>",
// and an array as JSON.
func printAsText(n parse.Node) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			printAsText(c)
		}
	case *parse.ActionNode:
		if len(x.Pipe.Decl) == 0 { // {{ $v := ... }} prints nothing
			call := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: x.Pos,
				Args: []parse.Node{parse.NewIdentifier(printFunc).SetPos(x.Pos)}}
			x.Pipe.Cmds = append(x.Pipe.Cmds, call)
		}
	case *parse.IfNode:
		printAsText(x.List)
		printAsText(x.ElseList)
	case *parse.RangeNode:
		printAsText(x.List)
		printAsText(x.ElseList)
	case *parse.WithNode:
		printAsText(x.List)
		printAsText(x.ElseList)
	}
}

// Funcs are the functions mapping templates can call. config checks
// templates against the same names (config.TemplateFuncNames).
func Funcs() template.FuncMap {
	return template.FuncMap{
		"lower": func(v any) string { return strings.ToLower(text(v)) },
		"upper": func(v any) string { return strings.ToUpper(text(v)) },
		"title": func(v any) string { return title(text(v)) },
		"trim":  func(v any) string { return strings.TrimSpace(text(v)) },
		"default": func(def, v any) any {
			if v == nil || v == "" {
				return def
			}
			return v
		},
		"sha256": func(v any) string {
			sum := sha256.Sum256([]byte(text(v)))
			return hex.EncodeToString(sum[:])
		},
		"replace": func(old, new string, v any) string { return strings.ReplaceAll(text(v), old, new) },
		// PII normalisation before hashing, as ad platforms match on it:
		// {{ .email | normalize_email | sha256 }}.
		"normalize_email": func(v any) string { return strings.ToLower(strings.TrimSpace(text(v))) },
		"normalize_phone": normalizePhone,
		"join": func(sep string, v any) string {
			switch x := v.(type) {
			case []any:
				parts := make([]string, len(x))
				for i, e := range x {
					parts[i] = text(e)
				}
				return strings.Join(parts, sep)
			case []string:
				return strings.Join(x, sep)
			}
			return text(v)
		},
	}
}

// normalizePhone keeps a phone number's digits, and a leading "+" when the
// number has one: "+1 (555) 010-9999" → "+15550109999". Numbers without a
// country code are left without one; prefix it in the model.
func normalizePhone(v any) string {
	s := strings.TrimSpace(text(v))
	var b strings.Builder
	if strings.HasPrefix(s, "+") {
		b.WriteByte('+')
	}
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return value.Text(v)
}

// title capitalises the first letter of each word and lowers the rest:
// "ADA lovelace" → "Ada Lovelace".
func title(s string) string {
	rs := []rune(strings.ToLower(s))
	start := true
	for i, r := range rs {
		if start && unicode.IsLetter(r) {
			rs[i] = unicode.ToUpper(r)
		}
		start = unicode.IsSpace(r) || r == '-'
	}
	return string(rs)
}

// templateColumns lists the columns a template reads as .column or
// $.column. all is true when it may read others too (the whole row as
// `.`, range/with, or nested templates), and then every column counts.
// The columns it names are listed even then, so that a missing one is
// still reported; inside a range or with body `.` is no longer the row,
// and only $.column names a column there.
func templateColumns(t *template.Template) (cols []string, all bool) {
	seen := map[string]bool{}
	var walk func(n parse.Node, root bool)
	walk = func(n parse.Node, root bool) {
		if n == nil {
			return
		}
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c, root)
			}
		case *parse.ActionNode:
			walk(x.Pipe, root)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c, root)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a, root)
			}
		case *parse.FieldNode:
			if root && !seen[x.Ident[0]] {
				seen[x.Ident[0]] = true
				cols = append(cols, x.Ident[0])
			}
		case *parse.VariableNode:
			if x.Ident[0] == "$" && len(x.Ident) > 1 {
				walk(&parse.FieldNode{Ident: x.Ident[1:]}, true)
			} else {
				all = true
			}
		case *parse.IfNode:
			walk(x.Pipe, root)
			walk(x.List, root)
			walk(x.ElseList, root)
		case *parse.RangeNode:
			all = true
			walk(x.Pipe, root)
			walk(x.List, false)
			walk(x.ElseList, root)
		case *parse.WithNode:
			all = true
			walk(x.Pipe, root)
			walk(x.List, false)
			walk(x.ElseList, root)
		case *parse.TemplateNode:
			all = true
			walk(x.Pipe, root)
		case *parse.ChainNode:
			walk(x.Node, root)
		case *parse.DotNode:
			all = true
		}
	}
	walk(t.Tree.Root, true)
	slices.Sort(cols)
	return cols, all
}
