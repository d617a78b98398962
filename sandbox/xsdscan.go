package sandbox

import (
	"strings"
	"unicode/utf8"
)

// scanTestResult is the fast path of validatePayload: one pass over the
// payload, no tokens, attribute values and text as substrings of doc. It
// answers ok only for a payload it knows to be valid, with the tree
// validateTokens would build for it; anything else (an error of any kind, or
// XML it leaves alone) is !ok and goes to validateTokens, which decides and
// words the refusal. So it need not know every rule of XML or encoding/xml,
// only never accept what encoding/xml (Strict) and the schema refuse:
//
//   - a prolog of one of the declarations in xmlDecls, at the very start;
//   - elements and attributes whose names the schema knows (so no namespace
//     prefixes, no xmlns), attribute values in ' or " with no <;
//   - text and attribute values of characters in the XML range, with the five
//     predefined entities and decimal or hex character references to
//     characters in the XML range, \r\n and \r read as \n, no ]]> in text;
//   - whitespace (space, tab, \n, \r) between elements and around the root,
//     and comments anywhere (no "--" inside).
//
// CDATA sections, processing instructions, DOCTYPE, other whitespace
// (U+00A0 and the like, which validateTokens' bytes.TrimSpace takes as
// space) and child elements of <file> are left to validateTokens.
func scanTestResult(doc string) (*xnode, bool) {
	if !utf8.ValidString(doc) {
		return nil, false
	}
	sc := &scanner{s: doc, line: 1}
	for _, d := range xmlDecls {
		if strings.HasPrefix(doc, d) {
			sc.p = len(d)
			break
		}
	}
	var root *xnode
	for {
		sc.skipSpace()
		if sc.p == len(sc.s) {
			break
		}
		if sc.s[sc.p] != '<' || sc.p+1 == len(sc.s) {
			return nil, false
		}
		if sc.s[sc.p+1] == '!' {
			if !sc.comment() {
				return nil, false
			}
			continue
		}
		if root != nil {
			return nil, false
		}
		sc.p++
		if sc.name() != testResultSchema.name {
			return nil, false
		}
		var ok bool
		if root, ok = sc.element(testResultSchema.name, testResultSchema); !ok {
			return nil, false
		}
	}
	return root, root != nil
}

// xmlDecls are the XML declarations the scanner takes: version 1.0, UTF-8.
var xmlDecls = []string{
	`<?xml version="1.0" encoding="UTF-8"?>`,
	`<?xml version="1.0" encoding="utf-8"?>`,
	`<?xml version="1.0"?>`,
	`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`,
	`<?xml version="1.0" encoding="UTF-8" standalone="no"?>`,
	`<?xml version='1.0' encoding='UTF-8'?>`,
}

type scanner struct {
	s string
	p int

	lineAt, line int     // line is the line number at offset lineAt
	nodes        []xnode // allocated a slab at a time
	attrs        []xattr // likewise; each node takes a capped sub-slice
	buf          []byte  // decoding of values with references or \r
}

// lineOf returns the line number at offset off (offsets only grow).
func (sc *scanner) lineOf(off int) int {
	sc.line += strings.Count(sc.s[sc.lineAt:off], "\n")
	sc.lineAt = off
	return sc.line
}

func (sc *scanner) newNode(name string) *xnode {
	if len(sc.nodes) == cap(sc.nodes) {
		sc.nodes = make([]xnode, 0, 256)
	}
	sc.nodes = sc.nodes[:len(sc.nodes)+1]
	n := &sc.nodes[len(sc.nodes)-1]
	n.name = name
	return n
}

// skipSpace skips what encoding/xml's Decoder.space skips.
func (sc *scanner) skipSpace() {
	for sc.p < len(sc.s) {
		switch sc.s[sc.p] {
		case ' ', '\t', '\n', '\r':
			sc.p++
		default:
			return
		}
	}
}

// name reads what encoding/xml's readName reads: the longest run of ASCII
// name bytes and non-ASCII bytes ("" if none).
func (sc *scanner) name() string {
	start := sc.p
	for sc.p < len(sc.s) {
		c := sc.s[sc.p]
		if c < utf8.RuneSelf && !isNameByteASCII(c) {
			break
		}
		sc.p++
	}
	return sc.s[start:sc.p]
}

func isNameByteASCII(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// comment skips a comment at sc.p ("<!" seen): "<!--", then anything up to
// the first "--", which must be followed by ">" (encoding/xml's rule).
func (sc *scanner) comment() bool {
	if !strings.HasPrefix(sc.s[sc.p:], "<!--") {
		return false
	}
	i := strings.Index(sc.s[sc.p+4:], "--")
	if i < 0 {
		return false
	}
	end := sc.p + 4 + i + 2
	if end >= len(sc.s) || sc.s[end] != '>' {
		return false
	}
	sc.p = end + 1
	return true
}

// element reads an element of type t named name, its name just read.
func (sc *scanner) element(name string, t *elemType) (*xnode, bool) {
	n := sc.newNode(name)
	empty, ok := sc.attributes(n, t)
	if !ok {
		return nil, false
	}
	n.line = sc.lineOf(sc.p)
	if empty { // <name .../>
		return n, t.content == cAny || sequenceDone(t, 0, 0)
	}
	idx, count := 0, 0
	chosen := ""
	for {
		i := strings.IndexByte(sc.s[sc.p:], '<')
		if i < 0 {
			return nil, false
		}
		if i > 0 {
			seg := sc.s[sc.p : sc.p+i]
			sc.p += i
			if t.content == cElements {
				if !isSpace(seg) {
					return nil, false
				}
			} else {
				v, ok := sc.text(seg)
				if !ok {
					return nil, false
				}
				if t.content != cAny {
					n.text += v
				}
			}
		}
		if sc.p+1 == len(sc.s) {
			return nil, false
		}
		switch sc.s[sc.p+1] {
		case '/':
			sc.p += 2
			if sc.name() != name {
				return nil, false
			}
			sc.skipSpace()
			if sc.p == len(sc.s) || sc.s[sc.p] != '>' {
				return nil, false
			}
			sc.p++
			if t.content == cAny {
				return n, true
			}
			return n, sequenceDone(t, idx, count)
		case '!':
			if !sc.comment() {
				return nil, false
			}
			continue
		case '?':
			return nil, false
		}
		if t.content != cElements {
			return nil, false
		}
		sc.p++
		kn := sc.name()
		var kid *kidDef
		for i := range t.kidList {
			if t.kidList[i].name == kn {
				kid = &t.kidList[i]
				break
			}
		}
		if kid == nil {
			return nil, false
		}
		// The particle rules of validator.element, refusing where it refuses.
		for {
			if idx >= len(t.seq) {
				return nil, false
			}
			p := &t.seq[idx]
			if contains(p.names, kid.name) {
				if p.homogeneous && chosen != "" && chosen != kid.name || p.max >= 0 && count >= p.max {
					return nil, false
				}
				chosen = kid.name
				count++
				break
			}
			if count < p.min {
				return nil, false
			}
			idx++
			count = 0
			chosen = ""
		}
		k, ok := sc.element(kid.name, kid.t)
		if !ok {
			return nil, false
		}
		n.kids = append(n.kids, k)
	}
}

// sequenceDone reports whether the particles from idx on (count elements of
// particle idx seen) allow the element to end.
func sequenceDone(t *elemType, idx, count int) bool {
	for ; idx < len(t.seq); idx++ {
		if count < t.seq[idx].min {
			return false
		}
		count = 0
	}
	return true
}

// attributes reads the attributes of n up to and including the end of its
// start tag (">", or "/>" for an empty element), checking them against t.
func (sc *scanner) attributes(n *xnode, t *elemType) (empty, ok bool) {
	if cap(sc.attrs)-len(sc.attrs) < 16 {
		sc.attrs = make([]xattr, 0, 1024)
	}
	first := len(sc.attrs)
	for {
		sc.skipSpace()
		if sc.p == len(sc.s) {
			return false, false
		}
		switch sc.s[sc.p] {
		case '/':
			if sc.p+1 == len(sc.s) || sc.s[sc.p+1] != '>' {
				return false, false
			}
			sc.p += 2
			return true, sc.required(n, t, first)
		case '>':
			sc.p++
			return false, sc.required(n, t, first)
		}
		an := sc.name()
		var def *attrDef
		for i := range t.attrs {
			if t.attrs[i].name == an {
				def = &t.attrs[i]
				break
			}
		}
		if def == nil {
			return false, false
		}
		sc.skipSpace()
		if sc.p == len(sc.s) || sc.s[sc.p] != '=' {
			return false, false
		}
		sc.p++
		sc.skipSpace()
		if sc.p == len(sc.s) || sc.s[sc.p] != '"' && sc.s[sc.p] != '\'' {
			return false, false
		}
		q := sc.s[sc.p]
		end := strings.IndexByte(sc.s[sc.p+1:], q)
		if end < 0 {
			return false, false
		}
		raw := sc.s[sc.p+1 : sc.p+1+end]
		sc.p += end + 2
		if strings.IndexByte(raw, '<') >= 0 {
			return false, false
		}
		v, vok := sc.value(raw)
		if !vok {
			return false, false
		}
		for _, a := range sc.attrs[first:] {
			if a.name == def.name {
				return false, false
			}
		}
		if checkValue(def.typ, v) != nil {
			return false, false
		}
		sc.attrs = append(sc.attrs, xattr{def.name, v})
	}
}

// required sets n.attrs to the attributes read from first on and checks
// that the required ones are there.
func (sc *scanner) required(n *xnode, t *elemType, first int) bool {
	if len(sc.attrs) > first {
		n.attrs = sc.attrs[first:len(sc.attrs):len(sc.attrs)]
	}
	for i := range t.attrs {
		if t.attrs[i].required {
			if _, ok := n.attrOK(t.attrs[i].name); !ok {
				return false
			}
		}
	}
	return true
}

// isSpace reports whether s is made of the whitespace the scanner takes
// between elements.
func isSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// text checks and decodes a run of character data (no "<" in it).
func (sc *scanner) text(seg string) (string, bool) {
	if strings.Contains(seg, "]]>") {
		return "", false
	}
	return sc.value(seg)
}

// plain marks the bytes that text and attribute values may hold as they are:
// not & or \r (decoded), not the control characters outside the XML range,
// and not 0xEF, the first byte of U+FFFE and U+FFFF (checked).
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 || c == '\t' || c == '\n'
	}
	t['&'], t['\r'], t[0xEF] = false, false, false
	return t
}()

// value checks a run of text or an attribute value (between its quotes) as
// encoding/xml's Decoder.text does, and returns it decoded: a substring of
// the payload unless it holds a reference or \r.
func (sc *scanner) value(raw string) (string, bool) {
	i := 0
	for ; i < len(raw); i++ {
		if !plain[raw[i]] {
			if raw[i] == 0xEF && !badEF(raw[i:]) {
				continue
			}
			break
		}
	}
	if i == len(raw) {
		return raw, true
	}
	b := append(sc.buf[:0], raw[:i]...)
	for i < len(raw) {
		c := raw[i]
		switch {
		case plain[c]:
			b = append(b, c)
			i++
		case c == 0xEF:
			if badEF(raw[i:]) {
				return "", false
			}
			b = append(b, c)
			i++
		case c == '\r':
			b = append(b, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case c == '&':
			r, n := reference(raw[i:])
			if n == 0 {
				return "", false
			}
			b = utf8.AppendRune(b, r)
			i += n
		default:
			return "", false
		}
	}
	sc.buf = b
	return string(b), true
}

// badEF reports whether s starts with U+FFFE or U+FFFF, outside the XML
// character range.
func badEF(s string) bool {
	return len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF)
}

// reference decodes a predefined entity or a character reference at the
// start of s: the character and the length of the reference, or n == 0 for
// anything else (left to encoding/xml), including a reference to a character
// outside the XML range.
func reference(s string) (r rune, n int) {
	for _, e := range [...]struct {
		ref string
		r   rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}} {
		if strings.HasPrefix(s, e.ref) {
			return e.r, len(e.ref)
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0
	}
	i, base := 2, rune(10)
	if i < len(s) && s[i] == 'x' {
		i, base = 3, 16
	}
	start := i
	for ; i < len(s); i++ {
		var d rune
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0
		}
	}
	if i == start || i == len(s) || s[i] != ';' || !inXMLRange(r) {
		return 0, 0
	}
	return r, i + 1
}

// inXMLRange is encoding/xml's isInCharacterRange: the Char production of
// XML 1.0.
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
