package yamlnode

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a file, at a position in it.
type Problem struct {
	File   string // the file's name as the user gave it
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based, in characters; 0 when unknown
	Path   string // the field, e.g. "build.started" or "rules[1].set.job"; "" for the whole file
	Msg    string
}

// String formats the problem as "file:line:col: path: msg". Unknown parts
// (a zero line or column, an empty path) are left out.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Sort orders problems by position, keeping the order of those at the same
// place.
func Sort(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}

// Error holds every problem found in one file.
type Error struct {
	File     string
	Problems []Problem // in file order; never empty
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
