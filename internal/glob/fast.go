package glob

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// fastMatcher matches the pattern shapes that cover nearly every real pattern without the
// regular expression, which costs a scan more than reading its directories: a discovery
// matches every file it passes against its source's globs, and a rescan of 100,000 files
// spent half of its CPU in regexp before this.
//
// A pattern takes the fast path when it is a sequence of '/'-separated segments, at most
// one of which is "**" (zero or more whole segments, or the rest of the path when it ends
// the pattern), and every other segment is a literal with at most one '*' or, with
// captures, one {name} in it: "**/*.xml", "surefire-reports/TEST-*.xml", "a/**",
// "{job}/{build}/*.xml", "build-{n}/**/report.xml"; and, in a pattern without captures,
// brace groups of plain alternatives ("**/TEST-*.{xml,XML}"), written out as one such
// pattern each. Anything else ('?', classes, other braces, two wildcards in one segment,
// two "**") goes to the regular expression. Matching is then a few prefix and suffix
// comparisons per segment, with no allocation.
//
// The result is exactly the regular expression's (fast_test.go compares both on generated
// patterns and paths, and FuzzFastPath on any): each segment matches exactly one path
// segment, so with at most one "**" there is one way to split a path, and captures take
// the same values as the regular expression's leftmost-first ones. Literals are compared
// as bytes, which is the regular expression's rune-by-rune comparison for a valid UTF-8
// literal without U+FFFD (the rune an invalid byte of the path decodes to).
type fastMatcher struct {
	head []fastSeg // the segments before the "**" (all of them without one)
	tail []fastSeg // the segments after it
	// globstar: a "**" segment stands between head and tail.
	globstar bool
	// rest: the "**" ends the pattern ("**" alone, or "a/**"): after the head, either
	// nothing or '/' and any characters but '\n' (what the regular expression's '.' matches).
	rest bool
	// captures is how many captures the pattern has.
	captures int
}

type segKind uint8

const (
	segLiteral segKind = iota // the segment is prefix
	segStar                   // prefix, any characters (but '/'), suffix
	segCapture                // prefix, one or more characters (but '/'), captured, suffix
)

// fastSeg is one segment of a pattern on the fast path.
type fastSeg struct {
	kind    segKind
	prefix  string
	suffix  string
	capture int // the capture's index (segCapture)
}

// maxAlternatives bounds the patterns a pattern's brace groups expand to on the fast path.
const maxAlternatives = 16

// newFast returns the fast matchers of a pattern Compile or CompileCaptures accepted (the
// path matches when one of them matches), or nil when the pattern's shape needs the regular
// expression. Brace groups of plain alternatives ("*.{xml,XML}") expand to one matcher each,
// in a pattern without captures.
func newFast(pattern string, captures bool) []*fastMatcher {
	if strings.ContainsRune(pattern, utf8.RuneError) {
		return nil
	}
	pats, ok := expandBraces(pattern, captures)
	if !ok {
		return nil
	}
	out := make([]*fastMatcher, 0, len(pats))
	for _, p := range pats {
		f := newFastMatcher(p, captures)
		if f == nil || (len(pats) > 1 && f.captures > 0) {
			return nil
		}
		out = append(out, f)
	}
	return out
}

// expandBraces writes out the brace groups of a pattern whose groups hold only plain,
// non-empty alternatives ({xml,XML}: no wildcard, class, brace, escape or '/'), each
// alternative in place of the group: the same language, since such an alternative never
// joins or splits a wildcard or a segment. Captures ({name}, with captures) stay as they
// are. It reports false for any other group, and past maxAlternatives patterns.
func expandBraces(pattern string, captures bool) ([]string, bool) {
	if !strings.ContainsRune(pattern, '{') {
		return []string{pattern}, true
	}
	out := []string{""}
	add := func(s string) {
		for k := range out {
			out[k] += s
		}
	}
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			if i+1 >= len(pattern) {
				return nil, false
			}
			add(pattern[i : i+2])
			i++
		case '{':
			end := strings.IndexByte(pattern[i+1:], '}')
			if end < 0 {
				return nil, false
			}
			body := pattern[i+1 : i+1+end]
			if captures && !strings.Contains(body, ",") {
				add(pattern[i : i+2+end]) // a capture
				i += 1 + end
				continue
			}
			alts := strings.Split(body, ",")
			if strings.ContainsAny(body, `*?[{\/`) || slices.Contains(alts, "") || len(out)*len(alts) > maxAlternatives {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(alts))
			for _, o := range out {
				for _, a := range alts {
					next = append(next, o+a)
				}
			}
			out = next
			i += 1 + end
		default:
			add(pattern[i : i+1])
		}
	}
	return out, true
}

// newFastMatcher returns the fast matcher of a pattern without brace groups (captures
// aside), or nil when its shape needs the regular expression.
func newFastMatcher(pattern string, captures bool) *fastMatcher {
	f := &fastMatcher{}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if len(s) >= 2 && strings.Trim(s, "*") == "" {
			// A whole segment of '*'s: the globstar (see compiler.sequence).
			if f.globstar {
				return nil
			}
			f.globstar = true
			f.rest = i == len(segs)-1
			continue
		}
		seg, ok := f.segment(s, captures)
		if !ok {
			return nil
		}
		if f.globstar {
			f.tail = append(f.tail, seg)
		} else {
			f.head = append(f.head, seg)
		}
	}
	return f
}

// segment parses one segment (no '/' in it) into a literal with at most one wildcard.
func (f *fastMatcher) segment(s string, captures bool) (fastSeg, bool) {
	var seg fastSeg
	var lit strings.Builder
	wild := false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			if i+1 >= len(s) {
				return seg, false // a trailing backslash (or "\/"): not a pattern to match fast
			}
			i++
			lit.WriteByte(s[i])
		case '*':
			for i+1 < len(s) && s[i+1] == '*' {
				i++
			}
			if wild {
				return seg, false
			}
			wild = true
			seg.kind, seg.prefix = segStar, lit.String()
			lit.Reset()
		case '{':
			end := strings.IndexByte(s[i+1:], '}')
			if !captures || wild || end < 0 || !IsCaptureName(s[i+1:i+1+end]) {
				return seg, false // an alternation (or a group), a second wildcard
			}
			wild = true
			seg.kind, seg.prefix, seg.capture = segCapture, lit.String(), f.captures
			f.captures++
			lit.Reset()
			i += 1 + end
		case '?', '[':
			return seg, false
		case '}':
			if captures {
				return seg, false // an error for CompileCaptures, which never gets here
			}
			lit.WriteByte(ch)
		default:
			lit.WriteByte(ch)
		}
	}
	if wild {
		seg.suffix = lit.String()
	} else {
		seg.prefix = lit.String()
	}
	return seg, true
}

// match reports whether the whole of path matches, filling caps (when not nil) with the
// captures in order.
func (f *fastMatcher) match(path string, caps []string) bool {
	if !f.globstar {
		for i := range f.head {
			seg, after, found := strings.Cut(path, "/")
			if found == (i == len(f.head)-1) {
				return false // a segment too many, or too few
			}
			if !f.head[i].match(seg, caps) {
				return false
			}
			path = after
		}
		return true
	}
	// The head, from the front: each of its segments is followed by a '/' (or, before a
	// "**" that ends the pattern, by the end of the path or a '/').
	for i := range f.head {
		seg, after, found := strings.Cut(path, "/")
		if !f.head[i].match(seg, caps) {
			return false
		}
		if !found {
			return f.rest && i == len(f.head)-1
		}
		path = after
	}
	if f.rest {
		return strings.IndexByte(path, '\n') < 0
	}
	// The tail, from the back; the "**" takes whatever segments are left before it.
	for i := len(f.tail) - 1; i >= 0; i-- {
		j := strings.LastIndexByte(path, '/')
		if j < 0 && i > 0 {
			return false
		}
		if !f.tail[i].match(path[j+1:], caps) {
			return false
		}
		if j >= 0 {
			path = path[:j]
		}
	}
	return true
}

// match reports whether one path segment (without '/') matches the pattern segment.
func (s *fastSeg) match(seg string, caps []string) bool {
	switch s.kind {
	case segLiteral:
		return seg == s.prefix
	case segStar:
		return len(seg) >= len(s.prefix)+len(s.suffix) && strings.HasPrefix(seg, s.prefix) && strings.HasSuffix(seg, s.suffix)
	default:
		if len(seg) <= len(s.prefix)+len(s.suffix) || !strings.HasPrefix(seg, s.prefix) || !strings.HasSuffix(seg, s.suffix) {
			return false
		}
		if caps != nil {
			caps[s.capture] = seg[len(s.prefix) : len(seg)-len(s.suffix)]
		}
		return true
	}
}
