package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

var modelKeys = []string{"source", "primary_key", "sql", "sql_file", "table", "description"}

func (l *loader) model(d *def) *Model {
	path := sectionModels.name + "." + d.name
	pairs, ok := l.definitionPairs(d, path)
	if !ok {
		return nil
	}
	errsBefore := len(l.errs)
	l.checkKeys(pairs, modelKeys, path)
	m := &Model{Name: d.name, Pos: d.pos()}
	var queries []pair
	var sawSource, sawKey bool
	for _, p := range pairs {
		kpath := path + "." + p.key
		switch p.key {
		case "source":
			sawSource = true
			m.Source, _ = l.ref(p.val, sectionSources, kpath)
		case "primary_key":
			sawKey = true
			m.PrimaryKey = l.primaryKey(p.val, kpath)
		case "sql", "sql_file", "table":
			queries = append(queries, p)
		case "description":
			if !p.val.isNull() {
				m.Description, _ = l.str(p.val, kpath)
			}
		}
	}
	if !sawSource {
		l.errorAt(d.where, "%s: missing source", path)
	}
	if !sawKey {
		l.errorAt(d.where, "%s: missing primary_key (the column, or list of columns, that identifies a row)", path)
	}
	switch len(queries) {
	case 0:
		l.errorAt(d.where, "%s: missing the query: give one of sql, sql_file or table", path)
	case 1:
		m.SQL = l.query(queries[0], path+"."+queries[0].key)
	default:
		l.errorAt(queries[1].knode, "%s: %s and %s are both given; a model has one of sql, sql_file or table", path, queries[0].key, queries[1].key)
	}
	if len(l.errs) > errsBefore {
		return nil
	}
	return m
}

// definitionPairs returns a definition's keys, without the `name:` key of
// a single-definition file.
func (l *loader) definitionPairs(d *def, path string) ([]pair, bool) {
	pairs, ok := l.mapping(d.val, path)
	if !ok || !d.single {
		return pairs, ok
	}
	out := pairs[:0:0]
	for _, p := range pairs {
		if p.key != "name" {
			out = append(out, p)
		}
	}
	return out, true
}

func (l *loader) primaryKey(n node, path string) []string {
	cols, ok := l.strList(n, path)
	if !ok {
		return nil
	}
	if len(cols) == 0 {
		l.errorAt(n.deref(), "%s: must name at least one column", path)
		return nil
	}
	seen := map[string]bool{}
	for _, c := range cols {
		switch {
		case c == "":
			l.errorAt(n.deref(), "%s: a column name must not be empty", path)
		case seen[c]:
			l.errorAt(n.deref(), "%s: column %q is listed twice", path, c)
		}
		seen[c] = true
	}
	return cols
}

// query returns a model's SQL from whichever of sql, sql_file and table it
// gives. SQL read from sql_file is used as written: ${VAR} is expanded only
// in YAML values, where $${ can escape it, never inside SQL files.
func (l *loader) query(p pair, path string) string {
	text, ok := l.str(p.val, path)
	if !ok {
		return ""
	}
	at := p.val.deref()
	if strings.TrimSpace(text) == "" {
		l.errorAt(at, "%s: must not be empty", path)
		return ""
	}
	switch p.key {
	case "table":
		return "select * from " + strings.TrimSpace(text)
	case "sql_file":
		file := filepath.FromSlash(text)
		if !filepath.IsAbs(file) {
			file = filepath.Join(l.dir, file)
		}
		data, err := os.ReadFile(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			l.errorAt(at, "%s: file %s does not exist", path, text)
			return ""
		case err != nil:
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			l.errorAt(at, "%s: read %s: %v", path, text, err)
			return ""
		}
		sql := trimSQL(string(data))
		if sql == "" {
			l.errorAt(at, "%s: file %s holds no SQL", path, text)
		}
		return sql
	}
	sql := trimSQL(text)
	if sql == "" {
		l.errorAt(at, "%s: holds no SQL", path)
	}
	return sql
}

// trimSQL drops surrounding space and trailing semicolons: the engine wraps
// a model's query in larger statements, where a semicolon would end it.
func trimSQL(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasSuffix(s, ";") {
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	}
	return s
}
