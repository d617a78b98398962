package mapping

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/octane-import/octane-import/internal/glob"
)

// pathPattern is a compiled rule path pattern: internal/glob's syntax with
// named captures ({name}, see docs/configuration.md "Path patterns"),
// matched against the report's path relative to its root, or against its
// absolute path when the pattern starts with "/".
type pathPattern struct {
	src      string
	g        *glob.Glob
	abs      bool     // the pattern starts with "/" and is matched against the absolute path
	captures []string // capture names, in order of appearance
	catchAll bool     // the pattern matches every relative path
}

// compilePattern compiles a rule's path pattern.
func compilePattern(src string) (*pathPattern, error) {
	p := &pathPattern{src: src}
	body := src
	if strings.HasPrefix(body, "/") {
		p.abs = true
		body = strings.TrimLeft(body, "/")
		if body == "" {
			return nil, fmt.Errorf("pattern %q matches no file", src)
		}
	}
	switch {
	case strings.HasSuffix(body, "/"):
		return nil, fmt.Errorf("pattern %q ends with /: patterns match files, write %q for everything below", src, body+"**")
	case strings.Contains(body, "//"):
		return nil, fmt.Errorf("pattern %q has an empty path segment (//)", src)
	}
	if p.abs {
		body = "/" + body
	}
	g, err := glob.CompileCaptures(body)
	if err != nil {
		return nil, err
	}
	p.captures = g.Captures()
	// A rule's "x/**" matches the files below x, never a file named x
	// (which glob's "x/**" would): "x/**/*" is exactly that.
	if strings.HasSuffix(body, "/**") {
		if g, err = glob.CompileCaptures(body + "/*"); err != nil {
			return nil, err
		}
	}
	p.g = g
	p.catchAll = !p.abs && (body == "**" || body == "**/*")
	return p, nil
}

// match reports whether the pattern matches and returns its captures.
func (p *pathPattern) match(rel, abs string) (map[string]string, bool) {
	if p.abs {
		return p.g.MatchCaptures("/" + strings.TrimLeft(abs, "/"))
	}
	return p.g.MatchCaptures(rel)
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
