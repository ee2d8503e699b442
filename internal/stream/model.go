package stream

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrNotExact marks a model a stream cannot follow change by change:
// changes to the tables it reads trigger an incremental plan of the model
// instead.
var ErrNotExact = errors.New("not streamable exactly; changes will trigger an incremental plan of the model")

func notExact(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotExact, fmt.Sprintf(format, args...))
}

// Model is a model a stream can follow exactly: the columns of one table,
// renamed or not, and the rows a WHERE clause of simple comparisons keeps.
type Model struct {
	// Table is the table's name as the model writes it: "name" or
	// "schema.name".
	Table string
	// Columns are the model's columns; nil for SELECT *.
	Columns []Projection
	// Where is the filter; nil keeps every row.
	Where Expr
}

// Projection is one column of the model: a column of the table and its
// name in the model.
type Projection struct{ Column, Name string }

// Expr is a filter: a comparison of a column with constants, or AND, OR,
// NOT of filters.
type Expr interface{ expr() }

type (
	// Compare is "column op literal"; Op is one of = <> < <= > >=.
	Compare struct {
		Column, Op string
		Value      Literal
	}
	// In is "column [NOT] IN (literals)".
	In struct {
		Column string
		Not    bool
		Values []Literal
	}
	// IsNull is "column IS [NOT] NULL".
	IsNull struct {
		Column string
		Not    bool
	}
	// Bool is a boolean column on its own.
	Bool struct{ Column string }
	And  struct{ Left, Right Expr }
	Or   struct{ Left, Right Expr }
	Not  struct{ Expr Expr }
)

func (Compare) expr() {}
func (In) expr()      {}
func (IsNull) expr()  {}
func (Bool) expr()    {}
func (And) expr()     {}
func (Or) expr()      {}
func (Not) expr()     {}

// Literal is a constant of a filter: a number (Number, as written), a
// string, a boolean or NULL.
type Literal struct {
	Kind   LiteralKind
	Text   string
	Number *big.Rat
	Bool   bool
}

type LiteralKind uint8

const (
	NullLiteral LiteralKind = iota
	NumberLiteral
	StringLiteral
	BoolLiteral
)

// ParseModel reads a model's SQL. It accepts exactly
//
//	SELECT * | column [[AS] name], … FROM [schema.]table [[AS] alias]
//	[WHERE filter]
//
// where the filter compares columns with constants (= <> != < <= > >=,
// IN, IS NULL, a boolean column) under AND, OR, NOT and parentheses. It
// is conservative: anything else — joins, functions, casts, aggregates,
// DISTINCT, ORDER BY, LIMIT, subqueries — is ErrNotExact, with what was
// found.
func ParseModel(sql string) (*Model, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, notExact("%v", err)
	}
	p := &parser{toks: toks}
	m, err := p.model()
	if err != nil {
		return nil, notExact("%v", err)
	}
	return m, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // a quoted identifier
	tNumber
	tString
	tPunct
)

type token struct {
	kind tokKind
	text string // identifiers lower-cased unless quoted
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return "'" + t.text + "'"
	case tQuoted:
		return `"` + t.text + `"`
	}
	return fmt.Sprintf("%q", t.text)
}

func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			i += end + 4
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			for i < len(s) && (s[i] == '_' || s[i] == '$' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9' || s[i] >= 0x80) {
				i++
			}
			if i < len(s) && s[i] == '\'' {
				// E'…', B'…', U&'…' and the like: strings with other rules.
				return nil, fmt.Errorf("prefixed string %s'… at offset %d", s[start:i], start)
			}
			toks = append(toks, token{tIdent, strings.ToLower(s[start:i]), start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
				i++
			}
			if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
				i++
				if i < len(s) && (s[i] == '+' || s[i] == '-') {
					i++
				}
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
			}
			toks = append(toks, token{tNumber, s[start:i], start})
		case c == '\'' || c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated %c at offset %d", c, start)
				}
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c {
						b.WriteByte(c)
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			kind := tString
			if c == '"' {
				kind = tQuoted
			}
			toks = append(toks, token{kind, b.String(), start})
		default:
			for _, op := range []string{"<>", "!=", "<=", ">=", "::", "||"} {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, token{tPunct, op, start})
					i += 2
					break
				}
			}
			if i == start {
				toks = append(toks, token{tPunct, string(c), start})
				i++
			}
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// keyword consumes the bare word kw if it comes next.
func (p *parser) keyword(kw string) bool {
	if t := p.peek(); t.kind == tIdent && t.text == kw {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func unexpected(t token, want string) error {
	return fmt.Errorf("%s at offset %d where %s was expected", t, t.pos, want)
}

// reserved are the words that cannot be a name here; finding one means
// the query is beyond what the parser follows.
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "join": true, "inner": true, "left": true, "right": true,
	"full": true, "cross": true, "natural": true, "on": true, "using": true, "group": true, "having": true,
	"order": true, "limit": true, "offset": true, "union": true, "intersect": true, "except": true,
	"distinct": true, "all": true, "and": true, "or": true, "not": true, "in": true, "is": true, "null": true,
	"true": true, "false": true, "as": true, "with": true, "window": true, "fetch": true, "for": true,
	"lateral": true, "case": true, "between": true, "like": true, "ilike": true, "similar": true,
	"tablesample": true, "only": true, "values": true, "returning": true,
}

// name reads an identifier, bare or quoted.
func (p *parser) name(what string) (string, error) {
	t := p.peek()
	switch {
	case t.kind == tQuoted:
		p.i++
		return t.text, nil
	case t.kind == tIdent && !reserved[t.text]:
		p.i++
		return t.text, nil
	}
	return "", unexpected(t, what)
}

func (p *parser) model() (*Model, error) {
	if p.keyword("with") {
		return nil, errors.New("a WITH clause")
	}
	if !p.keyword("select") {
		return nil, unexpected(p.peek(), "SELECT")
	}
	if p.keyword("distinct") {
		return nil, errors.New("SELECT DISTINCT")
	}
	p.keyword("all")
	m := &Model{}
	var quals []string // qualifiers used on columns, checked against the table
	if !p.punct("*") {
		for {
			col, qual, err := p.column()
			if err != nil {
				return nil, err
			}
			if qual != "" {
				quals = append(quals, qual)
			}
			out := col
			if p.keyword("as") {
				if out, err = p.name("a column name after AS"); err != nil {
					return nil, err
				}
			} else if t := p.peek(); t.kind == tQuoted || t.kind == tIdent && !reserved[t.text] {
				out, _ = p.name("")
			}
			m.Columns = append(m.Columns, Projection{Column: col, Name: out})
			if !p.punct(",") {
				break
			}
		}
	}
	if !p.keyword("from") {
		return nil, unexpected(p.peek(), "FROM after the columns (expressions are not followed)")
	}
	if p.keyword("only") {
		return nil, errors.New("FROM ONLY")
	}
	table, err := p.name("a table")
	if err != nil {
		return nil, err
	}
	names := []string{table}
	if p.punct(".") {
		name, err := p.name("a table name after the schema")
		if err != nil {
			return nil, err
		}
		m.Table = table + "." + name
		names = []string{name, m.Table}
	} else {
		m.Table = table
	}
	if t := p.peek(); t.kind == tPunct && t.text == "(" {
		return nil, errors.New("a table function")
	}
	if p.keyword("as") {
		alias, err := p.name("an alias after AS")
		if err != nil {
			return nil, err
		}
		names = []string{alias}
	} else if t := p.peek(); t.kind == tQuoted || t.kind == tIdent && !reserved[t.text] {
		alias, _ := p.name("")
		names = []string{alias}
	}
	if p.keyword("where") {
		if m.Where, quals, err = p.or(quals); err != nil {
			return nil, err
		}
	}
	p.punct(";")
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tPunct && t.text == "," {
			return nil, errors.New("several tables in FROM")
		}
		return nil, unexpected(t, "the end of a single-table SELECT")
	}
	for _, q := range quals {
		if !contains(names, q) {
			return nil, fmt.Errorf("column qualified by %s, which is not the table %s", q, m.Table)
		}
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// column reads "name" or "qualifier.name"; anything that makes it an
// expression (a call, a cast, an operator) is refused by the caller's next
// step.
func (p *parser) column() (col, qual string, err error) {
	col, err = p.name("a column")
	if err != nil {
		return "", "", err
	}
	if p.punct(".") {
		qual = col
		if p.punct("*") {
			return "", "", errors.New("a qualified * (write * or the columns)")
		}
		if col, err = p.name("a column after " + qual + "."); err != nil {
			return "", "", err
		}
	}
	if t := p.peek(); t.kind == tPunct && (t.text == "(" || t.text == "::" || t.text == "[") {
		return "", "", fmt.Errorf("an expression on %s at offset %d (%s)", col, t.pos, t.text)
	}
	return col, qual, nil
}

func (p *parser) or(quals []string) (Expr, []string, error) {
	left, quals, err := p.and(quals)
	if err != nil {
		return nil, nil, err
	}
	for p.keyword("or") {
		var right Expr
		if right, quals, err = p.and(quals); err != nil {
			return nil, nil, err
		}
		left = Or{left, right}
	}
	return left, quals, nil
}

func (p *parser) and(quals []string) (Expr, []string, error) {
	left, quals, err := p.not(quals)
	if err != nil {
		return nil, nil, err
	}
	for p.keyword("and") {
		var right Expr
		if right, quals, err = p.not(quals); err != nil {
			return nil, nil, err
		}
		left = And{left, right}
	}
	return left, quals, nil
}

func (p *parser) not(quals []string) (Expr, []string, error) {
	if p.keyword("not") {
		e, quals, err := p.not(quals)
		if err != nil {
			return nil, nil, err
		}
		return Not{e}, quals, nil
	}
	if p.punct("(") {
		e, quals, err := p.or(quals)
		if err != nil {
			return nil, nil, err
		}
		if !p.punct(")") {
			return nil, nil, unexpected(p.peek(), ")")
		}
		return e, quals, nil
	}
	return p.predicate(quals)
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (p *parser) predicate(quals []string) (Expr, []string, error) {
	// A constant first: "literal op column".
	if t := p.peek(); t.kind == tNumber || t.kind == tString || t.kind == tPunct && t.text == "-" {
		lit, err := p.literal()
		if err != nil {
			return nil, nil, err
		}
		op, err := p.operator()
		if err != nil {
			return nil, nil, err
		}
		col, qual, err := p.column()
		if err != nil {
			return nil, nil, err
		}
		return Compare{Column: col, Op: flipped[op], Value: lit}, appendQual(quals, qual), nil
	}
	col, qual, err := p.column()
	if err != nil {
		return nil, nil, err
	}
	quals = appendQual(quals, qual)
	switch {
	case p.keyword("is"):
		not := p.keyword("not")
		if !p.keyword("null") {
			return nil, nil, unexpected(p.peek(), "NULL after IS (IS TRUE, IS DISTINCT FROM … are not followed)")
		}
		return IsNull{Column: col, Not: not}, quals, nil
	case p.keyword("not"):
		if !p.keyword("in") {
			return nil, nil, unexpected(p.peek(), "IN after NOT")
		}
		vals, err := p.list()
		return In{Column: col, Not: true, Values: vals}, quals, err
	case p.keyword("in"):
		vals, err := p.list()
		return In{Column: col, Values: vals}, quals, err
	}
	t := p.peek()
	if t.kind == tEOF || t.kind == tPunct && t.text == ")" || t.kind == tIdent && (t.text == "and" || t.text == "or") || t.kind == tPunct && t.text == ";" {
		return Bool{Column: col}, quals, nil
	}
	op, err := p.operator()
	if err != nil {
		return nil, nil, err
	}
	lit, err := p.literal()
	if err != nil {
		return nil, nil, err
	}
	return Compare{Column: col, Op: op, Value: lit}, quals, nil
}

func appendQual(quals []string, q string) []string {
	if q == "" {
		return quals
	}
	return append(quals, q)
}

func (p *parser) operator() (string, error) {
	t := p.peek()
	if t.kind == tPunct {
		switch t.text {
		case "=", "<>", "<", "<=", ">", ">=":
			p.i++
			return t.text, nil
		case "!=":
			p.i++
			return "<>", nil
		}
	}
	return "", unexpected(t, "a comparison (= <> < <= > >=)")
}

func (p *parser) list() ([]Literal, error) {
	if !p.punct("(") {
		return nil, unexpected(p.peek(), "( after IN")
	}
	var vals []Literal
	for {
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		vals = append(vals, lit)
		if p.punct(")") {
			return vals, nil
		}
		if !p.punct(",") {
			return nil, unexpected(p.peek(), ", or ) in the IN list")
		}
	}
}

func (p *parser) literal() (Literal, error) {
	neg := p.punct("-")
	t := p.next()
	var lit Literal
	switch {
	case t.kind == tNumber:
		r, ok := new(big.Rat).SetString(t.text)
		if !ok {
			return Literal{}, fmt.Errorf("number %s at offset %d", t.text, t.pos)
		}
		lit = Literal{Kind: NumberLiteral, Text: t.text, Number: r}
		if neg {
			lit.Text, lit.Number = "-"+lit.Text, r.Neg(r)
		}
	case neg:
		return Literal{}, unexpected(t, "a number after -")
	case t.kind == tString:
		lit = Literal{Kind: StringLiteral, Text: t.text}
	case t.kind == tIdent && t.text == "null":
		lit = Literal{Kind: NullLiteral}
	case t.kind == tIdent && (t.text == "true" || t.text == "false"):
		lit = Literal{Kind: BoolLiteral, Text: t.text, Bool: t.text == "true"}
	default:
		return Literal{}, unexpected(t, "a constant (number, 'string', TRUE, FALSE, NULL)")
	}
	if n := p.peek(); n.kind == tPunct && (n.text == "::" || n.text == "||" || n.text == "+" || n.text == "-" || n.text == "*" || n.text == "/") {
		return Literal{}, fmt.Errorf("an expression at offset %d (%s)", n.pos, n.text)
	}
	return lit, nil
}
