package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// The query language of section 3.1, both dialects:
//
//	name EQ ^value^ ; ci_server EQ {id EQ 1001} ; id IN 1,2 ; status EQ null
//	name='value'    ; ci_server={id=1001}       ; !cond ; ((a)||(b)) ; f={null}
//
// The whole expression must be wrapped in double quotes (query="..."), as
// documented; an unquoted query is refused (stricter, section 3.1).
// String comparison is case-sensitive and `*` is a wildcard (`\*` a literal
// star). Unknown fields, comparing a reference with a plain value and BTW are
// refused with 400.

type qnode interface {
	check(typ string) error
	eval(st *store, e *entity) bool
}

type qAnd []qnode
type qOr []qnode
type qNot struct{ n qnode }

type qCond struct {
	field string
	op    string // EQ, IN, LT, GT, LE, GE
	vals  []qval
}

type qvalKind int

const (
	qvStr qvalKind = iota
	qvNum
	qvNull
	qvSub
)

type qval struct {
	kind  qvalKind
	parts []string // string: literal pieces between wildcards
	wild  bool
	text  string // the value as text (string unescaped, number as written)
	sub   qnode
}

func (q qAnd) check(t string) error {
	for _, n := range q {
		if err := n.check(t); err != nil {
			return err
		}
	}
	return nil
}

func (q qOr) check(t string) error  { return qAnd(q).check(t) }
func (q qNot) check(t string) error { return q.n.check(t) }

func (c *qCond) check(typ string) error {
	d, ok := lookupField(typ, c.field)
	if !ok {
		return fmt.Errorf("unknown field %q for %s", c.field, typ)
	}
	switch d.kind {
	case fObject:
		return fmt.Errorf("field %q of %s cannot be queried", c.field, typ)
	case fRef:
		if c.op != "EQ" {
			return fmt.Errorf("reference field %q takes EQ {…}, not %s", c.field, c.op)
		}
		for _, v := range c.vals {
			switch v.kind {
			case qvNull:
			case qvSub:
				if err := v.sub.check(d.refType); err != nil {
					return fmt.Errorf("in %s{…}: %w", c.field, err)
				}
			default:
				return fmt.Errorf("reference field %q must be compared with {…} or null, not %q", c.field, v.text)
			}
		}
	default:
		for _, v := range c.vals {
			if v.kind == qvSub {
				return fmt.Errorf("field %q is not a reference; {…} is not allowed", c.field)
			}
		}
	}
	return nil
}

func (q qAnd) eval(st *store, e *entity) bool {
	for _, n := range q {
		if !n.eval(st, e) {
			return false
		}
	}
	return true
}

func (q qOr) eval(st *store, e *entity) bool {
	for _, n := range q {
		if n.eval(st, e) {
			return true
		}
	}
	return false
}

func (q qNot) eval(st *store, e *entity) bool { return !q.n.eval(st, e) }

func (c *qCond) eval(st *store, e *entity) bool {
	var val any
	if c.field == "id" {
		val = e.id
	} else {
		val = e.fields()[c.field]
	}
	for _, v := range c.vals {
		if matchValue(st, val, c.op, v) {
			return true
		}
	}
	return false
}

func matchValue(st *store, val any, op string, v qval) bool {
	if v.kind == qvNull {
		if op != "EQ" {
			return false
		}
		switch x := val.(type) {
		case nil:
			return true
		case string:
			return x == ""
		case ref:
			return x.id == ""
		}
		return false
	}
	switch x := val.(type) {
	case ref:
		if v.kind != qvSub || x.id == "" {
			return false
		}
		target := st.byID[x.id]
		return target != nil && v.sub.eval(st, target)
	case nil:
		return false
	case int64:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return false
		}
		return compare(op, cmpFloat(float64(x), n))
	case bool:
		return op == "EQ" && strconv.FormatBool(x) == strings.ToLower(v.text)
	case string:
		if op == "EQ" || op == "IN" {
			if v.kind == qvNum {
				return x == v.text
			}
			return globMatch(v.parts, v.wild, x)
		}
		if a, err1 := strconv.ParseFloat(x, 64); err1 == nil {
			if b, err2 := strconv.ParseFloat(v.text, 64); err2 == nil {
				return compare(op, cmpFloat(a, b))
			}
		}
		return compare(op, strings.Compare(x, v.text))
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op string, c int) bool {
	switch op {
	case "EQ", "IN":
		return c == 0
	case "LT":
		return c < 0
	case "GT":
		return c > 0
	case "LE":
		return c <= 0
	case "GE":
		return c >= 0
	}
	return false
}

// globMatch matches s against literal parts separated by wildcards.
func globMatch(parts []string, wild bool, s string) bool {
	if !wild {
		return len(parts) == 1 && parts[0] == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	mid := parts[1 : len(parts)-1]
	for _, p := range mid {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(parts) > 1 && strings.HasSuffix(s, last)
}

type qparser struct {
	s   string
	pos int
}

// parseQuery parses the value of the query parameter (with its quotes).
func parseQuery(raw string) (qnode, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fmt.Errorf(`the query must be wrapped in double quotes: query="<expression>"`)
	}
	p := &qparser{s: raw[1 : len(raw)-1]}
	p.ws()
	if p.eof() {
		return nil, fmt.Errorf("empty query")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.ws()
	if !p.eof() {
		return nil, p.errf("unexpected %q", p.s[p.pos:])
	}
	return n, nil
}

func (p *qparser) eof() bool { return p.pos >= len(p.s) }

func (p *qparser) ws() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *qparser) errf(format string, args ...any) error {
	return fmt.Errorf("query at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *qparser) or() (qnode, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	nodes := qOr{first}
	for {
		p.ws()
		if !strings.HasPrefix(p.s[p.pos:], "||") {
			break
		}
		p.pos += 2
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return nodes, nil
}

func (p *qparser) and() (qnode, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	nodes := qAnd{first}
	for {
		p.ws()
		if p.eof() || p.s[p.pos] != ';' {
			break
		}
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return nodes, nil
}

func (p *qparser) unary() (qnode, error) {
	p.ws()
	if p.eof() {
		return nil, p.errf("expected a condition")
	}
	switch p.s[p.pos] {
	case '!':
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return qNot{n}, nil
	case '(':
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.eof() || p.s[p.pos] != ')' {
			return nil, p.errf("missing )")
		}
		p.pos++
		return n, nil
	}
	return p.cond()
}

func isIdent(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

func (p *qparser) cond() (qnode, error) {
	start := p.pos
	for !p.eof() && isIdent(p.s[p.pos], p.pos == start) {
		p.pos++
	}
	if p.pos == start {
		return nil, p.errf("expected a field name")
	}
	c := &qCond{field: p.s[start:p.pos]}
	p.ws()
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, ">="):
		c.op, p.pos = "GE", p.pos+2
	case strings.HasPrefix(rest, "<="):
		c.op, p.pos = "LE", p.pos+2
	case strings.HasPrefix(rest, "="):
		c.op, p.pos = "EQ", p.pos+1
	case strings.HasPrefix(rest, "<"):
		c.op, p.pos = "LT", p.pos+1
	case strings.HasPrefix(rest, ">"):
		c.op, p.pos = "GT", p.pos+1
	default:
		for _, op := range []string{"EQ", "IN", "LT", "GT", "LE", "GE", "BTW"} {
			if strings.HasPrefix(rest, op) && len(rest) > len(op) && (rest[len(op)] == ' ' || rest[len(op)] == '\t') {
				c.op, p.pos = op, p.pos+len(op)
				break
			}
		}
	}
	switch c.op {
	case "":
		return nil, p.errf("expected an operator (EQ, IN, LT, GT, LE, GE or =) after %q", c.field)
	case "BTW":
		return nil, p.errf("BTW is not supported by the stand-in")
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.vals = append(c.vals, v)
		p.ws()
		if c.op != "IN" || p.eof() || p.s[p.pos] != ',' {
			break
		}
		p.pos++
	}
	return c, nil
}

func (p *qparser) value() (qval, error) {
	p.ws()
	if p.eof() {
		return qval{}, p.errf("expected a value")
	}
	switch ch := p.s[p.pos]; {
	case ch == '^' || ch == '\'':
		return p.quoted(ch)
	case ch == '{':
		p.pos++
		p.ws()
		if strings.HasPrefix(p.s[p.pos:], "null") {
			save := p.pos
			p.pos += 4
			p.ws()
			if !p.eof() && p.s[p.pos] == '}' {
				p.pos++
				return qval{kind: qvNull, text: "null"}, nil
			}
			p.pos = save
		}
		n, err := p.or()
		if err != nil {
			return qval{}, err
		}
		p.ws()
		if p.eof() || p.s[p.pos] != '}' {
			return qval{}, p.errf("missing }")
		}
		p.pos++
		return qval{kind: qvSub, sub: n, text: "{…}"}, nil
	case ch == '-' || (ch >= '0' && ch <= '9'):
		start := p.pos
		p.pos++
		for !p.eof() && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.') {
			p.pos++
		}
		text := p.s[start:p.pos]
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return qval{}, p.errf("bad number %q", text)
		}
		return qval{kind: qvNum, text: text, parts: []string{text}}, nil
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		return qval{kind: qvNull, text: "null"}, nil
	case strings.HasPrefix(p.s[p.pos:], "true"), strings.HasPrefix(p.s[p.pos:], "false"):
		text := "true"
		if ch == 'f' {
			text = "false"
		}
		p.pos += len(text)
		return qval{kind: qvStr, text: text, parts: []string{text}}, nil
	}
	return qval{}, p.errf("expected ^string^, 'string', a number, null or {…}")
}

func (p *qparser) quoted(q byte) (qval, error) {
	p.pos++
	var cur strings.Builder
	var text strings.Builder
	v := qval{kind: qvStr}
	for {
		if p.eof() {
			return qval{}, p.errf("unterminated string (missing %c)", q)
		}
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '\\':
			if p.eof() {
				return qval{}, p.errf("dangling backslash")
			}
			cur.WriteByte(p.s[p.pos])
			text.WriteByte(p.s[p.pos])
			p.pos++
		case c == q:
			v.parts = append(v.parts, cur.String())
			v.text = text.String()
			return v, nil
		case c == '*':
			v.wild = true
			v.parts = append(v.parts, cur.String())
			cur.Reset()
			text.WriteByte(c)
		default:
			cur.WriteByte(c)
			text.WriteByte(c)
		}
	}
}
