// Package glob matches slash-separated paths against shell-style patterns
// with `**`: the source globs (include, exclude, manifests), a manifest's
// report globs, watch's --marker and, with named captures, the rules' path
// patterns.
//
// Syntax:
//
//	syntax   matches
//	*        any run of characters except '/'
//	?        one character except '/'
//	**       as a whole path segment: zero or more segments ("**/x" matches "x"
//	         and "a/b/x"; "a/**" matches "a" and everything under it); inside a
//	         segment ("a**b") it is the same as '*'
//	[abc]    one character of the class; ranges "[a-z]"; negation "[!a-z]" or
//	         "[^a-z]"; a class never matches '/'
//	{a,b}    either alternative; alternatives may hold any syntax, including
//	         nested braces
//	\x       the character x itself
//
// With captures (CompileCaptures), a brace without a comma is a capture:
// {name} matches one or more characters other than '/' and captures them
// (a name is letters, digits and _, not starting with a digit, used once).
// Braces do not nest there and a '}' outside braces is an error (write \{
// and \} for literal braces), since a pattern's captures feed templates.
//
// Matching is case-sensitive and anchored at both ends. A pattern is compiled
// to an RE2 regular expression, so matching takes time linear in the path; the
// common shapes ("**/*.xml", "{job}/{build}/TEST-*.xml", "a/**") are also
// compiled to a matcher of their own that gives the same answers without it
// (fast.go).
package glob

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Glob is a compiled pattern. It is safe for concurrent use.
type Glob struct {
	pattern  string
	re       *regexp.Regexp
	fast     []*fastMatcher // the common shapes, matched without re (fast.go); nil for the others
	captures []string
}

// maxPattern bounds a pattern's length, so a hostile rules file or manifest
// cannot make compilation expensive.
const maxPattern = 4096

// maxBraceDepth bounds the nesting of {a,{b,c}}.
const maxBraceDepth = 10

// Compile parses pattern. Errors name the pattern and the offending offset.
func Compile(pattern string) (*Glob, error) {
	return compile(pattern, false)
}

// CompileCaptures parses a pattern with named captures ({name}). Errors
// name the pattern and the offending offset.
func CompileCaptures(pattern string) (*Glob, error) {
	return compile(pattern, true)
}

func compile(pattern string, captures bool) (*Glob, error) {
	noun := "glob"
	if captures {
		noun = "pattern"
	}
	if pattern == "" {
		return nil, fmt.Errorf("%s %q: empty pattern", noun, pattern)
	}
	if len(pattern) > maxPattern {
		return nil, fmt.Errorf("%s %q: longer than %d bytes", noun, truncate(pattern), maxPattern)
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%s %q: not valid UTF-8", noun, truncate(pattern))
	}
	c := compiler{pat: pattern, captures: captures}
	var b strings.Builder
	b.WriteString(`\A`)
	if err := c.sequence(&b, 0); err != nil {
		return nil, fmt.Errorf("%s %q: %w", noun, truncate(pattern), err)
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", noun, truncate(pattern), err)
	}
	g := &Glob{pattern: pattern, re: re, captures: c.names}
	if fast := newFast(pattern, captures); len(fast) != 1 || fast[0].captures == len(c.names) {
		g.fast = fast
	}
	return g, nil
}

// MustCompile is Compile for patterns known at compile time; it panics on error.
func MustCompile(pattern string) *Glob {
	g, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return g
}

// Match reports whether the whole of slashPath matches the pattern.
func (g *Glob) Match(slashPath string) bool {
	if g.fast != nil {
		for _, f := range g.fast {
			if f.match(slashPath, nil) {
				return true
			}
		}
		return false
	}
	return g.re.MatchString(slashPath)
}

// MatchCaptures reports whether the whole of slashPath matches the pattern,
// and returns its captures by name (empty, not nil, for a pattern without).
func (g *Glob) MatchCaptures(slashPath string) (map[string]string, bool) {
	if len(g.fast) > 1 { // alternatives, and so no captures
		if !g.Match(slashPath) {
			return nil, false
		}
		return map[string]string{}, true
	}
	if g.fast != nil {
		var buf [8]string // no allocation for up to 8 captures
		var vals []string
		if len(g.captures) <= len(buf) {
			vals = buf[:len(g.captures)]
		} else {
			vals = make([]string, len(g.captures))
		}
		if !g.fast[0].match(slashPath, vals) {
			return nil, false
		}
		caps := make(map[string]string, len(g.captures))
		for i, name := range g.captures {
			caps[name] = vals[i]
		}
		return caps, true
	}
	m := g.re.FindStringSubmatch(slashPath)
	if m == nil {
		return nil, false
	}
	caps := make(map[string]string, len(g.captures))
	for i, name := range g.re.SubexpNames() {
		if name != "" {
			caps[name] = m[i]
		}
	}
	return caps, true
}

// Captures returns the names the pattern captures, in order.
func (g *Glob) Captures() []string { return slices.Clone(g.captures) }

// IsCaptureName reports whether s can name a capture: letters, digits and
// _, not starting with a digit (what a template can refer to).
func IsCaptureName(s string) bool { return captureName.MatchString(s) }

var captureName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Match reports whether name matches pattern, as filepath.Match does for a
// file's base name but in this package's syntax. Compiled patterns are kept
// for the next call.
func Match(pattern, name string) (bool, error) {
	g, err := cached(pattern)
	if err != nil {
		return false, err
	}
	return g.Match(name), nil
}

// maxCached bounds the patterns Match keeps compiled.
const maxCached = 64

var cache struct {
	sync.Mutex
	m map[string]*Glob
}

func cached(pattern string) (*Glob, error) {
	cache.Lock()
	g := cache.m[pattern]
	cache.Unlock()
	if g != nil {
		return g, nil
	}
	g, err := Compile(pattern)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if len(cache.m) >= maxCached || cache.m == nil {
		cache.m = map[string]*Glob{}
	}
	cache.m[pattern] = g
	cache.Unlock()
	return g, nil
}

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// HasMeta reports whether s contains any glob syntax, i.e. whether it would
// match anything other than itself.
func HasMeta(s string) bool { return strings.ContainsAny(s, `*?[{\`) }

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

type compiler struct {
	pat      string
	pos      int
	braceSeg []bool // for each open brace group: does it begin a path segment?
	captures bool   // {name} is a capture; braces do not nest; a lone } is an error
	names    []string
}

// atSegmentStart reports whether offset i begins a path segment: the
// start of the pattern, after a '/', or the start of an alternative of a
// brace group that itself begins a segment.
func (c *compiler) atSegmentStart(i int) bool {
	if i == 0 || c.pat[i-1] == '/' {
		return true
	}
	if n := len(c.braceSeg); n > 0 && (c.pat[i-1] == '{' || c.pat[i-1] == ',') {
		return c.braceSeg[n-1]
	}
	return false
}

// atSegmentEnd reports whether offset i ends a path segment (or the
// pattern, or an alternative).
func (c *compiler) atSegmentEnd(i int, depth int) bool {
	if i >= len(c.pat) || c.pat[i] == '/' {
		return true
	}
	return depth > 0 && (c.pat[i] == ',' || c.pat[i] == '}')
}

// sequence translates pattern text until the end, or, inside braces
// (depth > 0), until an unescaped ',' or '}' which it leaves unconsumed.
func (c *compiler) sequence(b *strings.Builder, depth int) error {
	for c.pos < len(c.pat) {
		ch := c.pat[c.pos]
		switch {
		case depth > 0 && (ch == ',' || ch == '}'):
			return nil
		case ch == '*':
			start := c.pos
			n := 0
			for c.pos < len(c.pat) && c.pat[c.pos] == '*' {
				c.pos++
				n++
			}
			if n >= 2 && c.atSegmentStart(start) && c.atSegmentEnd(c.pos, depth) {
				switch {
				case c.pos < len(c.pat) && c.pat[c.pos] == '/':
					// "**/" : zero or more whole segments.
					c.pos++
					b.WriteString(`(?:[^/]*(?:/[^/]*)*/)?`)
				case start > 0 && c.pat[start-1] == '/' && strings.HasSuffix(b.String(), "/"):
					// ".../**" at the end: the directory itself or anything below.
					// The '/' was already written; make it optional with what follows.
					s := b.String()
					b.Reset()
					b.WriteString(strings.TrimSuffix(s, "/"))
					b.WriteString(`(?:/.*)?`)
				default:
					// "**" alone: anything.
					b.WriteString(`.*`)
				}
			} else {
				b.WriteString(`[^/]*`)
			}
		case ch == '?':
			c.pos++
			b.WriteString(`[^/]`)
		case ch == '[':
			if err := c.class(b); err != nil {
				return err
			}
		case ch == '{' && c.captures && depth > 0:
			return fmt.Errorf("nested '{' at offset %d: braces do not nest in a pattern with captures", c.pos)
		case ch == '{' && c.captures && c.isCapture():
			if err := c.capture(b); err != nil {
				return err
			}
		case ch == '{':
			if err := c.braces(b, depth); err != nil {
				return err
			}
		case ch == '}' && c.captures:
			return fmt.Errorf("unmatched '}' at offset %d (write \\} for a literal brace)", c.pos)
		case ch == '\\':
			if c.pos+1 >= len(c.pat) {
				return fmt.Errorf("trailing backslash at offset %d", c.pos)
			}
			r, size := utf8.DecodeRuneInString(c.pat[c.pos+1:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			c.pos += 1 + size
		default:
			r, size := utf8.DecodeRuneInString(c.pat[c.pos:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			c.pos += size
		}
	}
	return nil
}

// isCapture reports whether the brace at c.pos closes before any comma: a
// capture, not an alternation (an unclosed brace is left to braces).
func (c *compiler) isCapture() bool {
	for i := c.pos + 1; i < len(c.pat); i++ {
		switch c.pat[i] {
		case '\\':
			i++
		case ',', '{':
			return false
		case '}':
			return true
		}
	}
	return false
}

// capture translates "{name}".
func (c *compiler) capture(b *strings.Builder) error {
	open := c.pos
	end := open + 1 + strings.IndexByte(c.pat[open+1:], '}')
	name := c.pat[open+1 : end]
	switch {
	case !captureName.MatchString(name):
		return fmt.Errorf("{%s} at offset %d is not a valid capture name (letters, digits and _, not starting with a digit)", name, open)
	case slices.Contains(c.names, name):
		return fmt.Errorf("captures {%s} twice (offset %d)", name, open)
	}
	c.names = append(c.names, name)
	fmt.Fprintf(b, "(?P<%s>[^/]+)", name)
	c.pos = end + 1
	return nil
}

func (c *compiler) braces(b *strings.Builder, depth int) error {
	open := c.pos
	if depth+1 > maxBraceDepth {
		return fmt.Errorf("braces nested deeper than %d at offset %d", maxBraceDepth, open)
	}
	c.braceSeg = append(c.braceSeg, c.atSegmentStart(open))
	defer func() { c.braceSeg = c.braceSeg[:len(c.braceSeg)-1] }()
	c.pos++ // '{'
	b.WriteString(`(?:`)
	for {
		if err := c.sequence(b, depth+1); err != nil {
			return err
		}
		if c.pos >= len(c.pat) {
			return fmt.Errorf("unclosed '{' at offset %d", open)
		}
		if c.pat[c.pos] == '}' {
			c.pos++
			b.WriteString(`)`)
			return nil
		}
		c.pos++ // ','
		b.WriteString(`|`)
	}
}

// class translates "[...]". A class never matches '/'.
func (c *compiler) class(b *strings.Builder) error {
	open := c.pos
	i := c.pos + 1
	negate := false
	if i < len(c.pat) && (c.pat[i] == '!' || c.pat[i] == '^') {
		negate = true
		i++
	}
	type span struct{ lo, hi rune }
	var spans []span
	first := true
	for {
		if i >= len(c.pat) {
			return fmt.Errorf("unclosed '[' at offset %d", open)
		}
		if c.pat[i] == ']' && !first {
			i++
			break
		}
		first = false
		lo, n, err := c.classChar(i)
		if err != nil {
			return err
		}
		i += n
		hi := lo
		if i+1 < len(c.pat) && c.pat[i] == '-' && c.pat[i+1] != ']' {
			hi, n, err = c.classChar(i + 1)
			if err != nil {
				return err
			}
			i += 1 + n
			if hi < lo {
				return fmt.Errorf("range %q-%q out of order at offset %d", lo, hi, open)
			}
		}
		spans = append(spans, span{lo, hi})
	}
	c.pos = i
	var cls strings.Builder
	add := func(lo, hi rune) {
		cls.WriteString(classQuote(lo))
		if hi != lo {
			cls.WriteString("-")
			cls.WriteString(classQuote(hi))
		}
	}
	for _, s := range spans {
		if negate {
			add(s.lo, s.hi)
			continue
		}
		// Cut '/' out of positive classes.
		if s.lo <= '/' && '/' <= s.hi {
			if s.lo <= '.' {
				add(s.lo, '.')
			}
			if s.hi >= '0' {
				add('0', s.hi)
			}
			continue
		}
		add(s.lo, s.hi)
	}
	switch {
	case negate:
		b.WriteString(`[^/` + cls.String() + `]`)
	case cls.Len() == 0:
		b.WriteString(`[^\x00-\x{10FFFF}]`) // matches nothing
	default:
		b.WriteString(`[` + cls.String() + `]`)
	}
	return nil
}

// classChar reads one (possibly escaped) character of a class at offset i.
func (c *compiler) classChar(i int) (rune, int, error) {
	if c.pat[i] == '\\' {
		if i+1 >= len(c.pat) {
			return 0, 0, fmt.Errorf("trailing backslash at offset %d", i)
		}
		r, size := utf8.DecodeRuneInString(c.pat[i+1:])
		return r, 1 + size, nil
	}
	r, size := utf8.DecodeRuneInString(c.pat[i:])
	return r, size, nil
}

func classQuote(r rune) string {
	switch r {
	case '\\', ']', '[', '^', '-':
		return `\` + string(r)
	}
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf(`\x{%x}`, r)
	}
	return string(r)
}
