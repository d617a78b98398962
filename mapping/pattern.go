package mapping

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/octane-import/octane-import/internal/glob"
)

// pathPattern is a compiled rule path pattern: a glob over slash paths where
// `**` spans directories and `{name}` captures one path segment (or part of
// one).
//
// Source globs (include, exclude, manifests) use internal/glob. Rule
// patterns need named captures, which internal/glob does not have, so they
// are compiled here to the same dialect plus {name}.
type pathPattern struct {
	src      string
	re       *regexp.Regexp
	abs      bool     // the pattern starts with "/" and is matched against the absolute path
	captures []string // capture names, in order of appearance
	catchAll bool     // the pattern matches every relative path
}

var captureName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// compilePattern compiles a path pattern. With allowCaptures false, `{name}`
// is an error (source globs have no use for captures); `{a,b}` alternation is
// always allowed.
func compilePattern(src string, allowCaptures bool) (*pathPattern, error) {
	if src == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	p := &pathPattern{src: src}
	body := src
	if strings.HasPrefix(body, "/") {
		p.abs = true
		body = strings.TrimLeft(body, "/")
		if body == "" {
			return nil, fmt.Errorf("pattern %q matches no file", src)
		}
	}
	if strings.HasSuffix(body, "/") {
		return nil, fmt.Errorf("pattern %q ends with /: patterns match files, write %q for everything below", src, body+"**")
	}
	segs := strings.Split(body, "/")
	var b strings.Builder
	b.WriteString("^")
	seen := map[string]bool{}
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "":
			return nil, fmt.Errorf("pattern %q has an empty path segment (//)", src)
		case seg == "**":
			if last {
				b.WriteString(".*")
			} else {
				b.WriteString("(?:[^/]+/)*")
			}
			continue
		}
		if err := translateSegment(&b, seg, src, allowCaptures, seen, &p.captures); err != nil {
			return nil, err
		}
		if !last {
			b.WriteString("/")
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", src, err)
	}
	p.re = re
	p.catchAll = !p.abs && (body == "**" || body == "**/*")
	return p, nil
}

// translateSegment appends the regular expression for one path segment.
func translateSegment(b *strings.Builder, seg, src string, allowCaptures bool, seen map[string]bool, captures *[]string) error {
	rs := []rune(seg)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '\\':
			if i+1 >= len(rs) {
				return fmt.Errorf("pattern %q ends with a lone backslash", src)
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '*':
			for i+1 < len(rs) && rs[i+1] == '*' {
				i++ // ** inside a segment is the same as *, as in internal/glob
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j, class, err := translateClass(rs, i, src)
			if err != nil {
				return err
			}
			b.WriteString(class)
			i = j
		case '{':
			j := i + 1
			for j < len(rs) && rs[j] != '}' {
				if rs[j] == '{' {
					return fmt.Errorf("pattern %q: nested { in %q", src, seg)
				}
				j++
			}
			if j >= len(rs) {
				return fmt.Errorf("pattern %q: unclosed { in %q", src, seg)
			}
			inner := string(rs[i+1 : j])
			i = j
			if strings.Contains(inner, ",") {
				b.WriteString("(?:")
				for k, alt := range strings.Split(inner, ",") {
					if k > 0 {
						b.WriteString("|")
					}
					if err := translateSegment(b, alt, src, false, seen, captures); err != nil {
						return err
					}
				}
				b.WriteString(")")
				continue
			}
			if !allowCaptures {
				return fmt.Errorf("pattern %q: captures such as {%s} are only allowed in a rule's path pattern (use \\{ for a literal brace)", src, inner)
			}
			if !captureName.MatchString(inner) {
				return fmt.Errorf("pattern %q: {%s} is not a valid capture name (letters, digits and _, not starting with a digit)", src, inner)
			}
			if seen[inner] {
				return fmt.Errorf("pattern %q captures {%s} twice", src, inner)
			}
			seen[inner] = true
			*captures = append(*captures, inner)
			fmt.Fprintf(b, "(?P<%s>[^/]+)", inner)
		case '}':
			return fmt.Errorf("pattern %q: unmatched } in %q (use \\} for a literal brace)", src, seg)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return nil
}

// translateClass translates a [...] character class starting at rs[i]; it
// returns the index of the closing bracket.
func translateClass(rs []rune, i int, src string) (int, string, error) {
	var b strings.Builder
	b.WriteString("[")
	j := i + 1
	if j < len(rs) && (rs[j] == '!' || rs[j] == '^') {
		b.WriteString("^/")
		j++
	}
	start := j
	for ; j < len(rs); j++ {
		c := rs[j]
		if c == ']' && j > start {
			b.WriteString("]")
			return j, b.String(), nil
		}
		switch c {
		case '\\':
			if j+1 >= len(rs) {
				return 0, "", fmt.Errorf("pattern %q: unclosed [ ", src)
			}
			j++
			b.WriteString(regexp.QuoteMeta(string(rs[j])))
		case '[', '^', ']':
			b.WriteString(`\` + string(c))
		default:
			b.WriteRune(c)
		}
	}
	return 0, "", fmt.Errorf("pattern %q: unclosed [", src)
}

// match reports whether the pattern matches and returns its captures.
func (p *pathPattern) match(rel, abs string) (map[string]string, bool) {
	s := rel
	if p.abs {
		s = strings.TrimLeft(abs, "/")
	}
	m := p.re.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	caps := map[string]string{}
	for i, name := range p.re.SubexpNames() {
		if name != "" {
			caps[name] = m[i]
		}
	}
	return caps, true
}

// globList is a list of compiled source globs (internal/glob's dialect).
type globList []*glob.Glob

func compileGlobs(pats []string) (globList, []error) {
	var out globList
	var errs []error
	for _, s := range pats {
		g, err := glob.Compile(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, g)
	}
	return out, errs
}

func (g globList) any(rel string) bool {
	for _, p := range g {
		if p.Match(rel) {
			return true
		}
	}
	return false
}

// wildcard is a value pattern for manifest fields, JUnit properties and
// environment variables: `*` matches any run of characters (slashes
// included), `?` one character, `\` escapes. Nothing else is special.
type wildcard struct {
	src    string
	re     *regexp.Regexp
	absent bool // YAML null (~): the key must be missing or empty
}

func compileWildcard(src string) *wildcard {
	var b strings.Builder
	b.WriteString("^")
	rs := []rune(src)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		case '\\':
			if i+1 < len(rs) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	b.WriteString("$")
	return &wildcard{src: src, re: regexp.MustCompile(b.String())}
}

func (w *wildcard) match(v string, present bool) bool {
	if w.absent {
		return !present
	}
	return present && w.re.MatchString(v)
}
