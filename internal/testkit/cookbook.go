package testkit

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Layout is one layout of docs/cookbook.md: its configuration snippet, the files it
// creates with their content ("" = a small JUnit report), and the table of what each
// report must map to.
type Layout struct {
	Name   string
	Config string
	Files  map[string]string // path under /drops → content
	Rows   []CookbookRow
}

// CookbookRow is one row of a layout's table: a report and its job and build, or the job
// "unmatched" or "not read".
type CookbookRow struct {
	Path, Job, Build string
}

var (
	layoutMarker = regexp.MustCompile(`^<!-- cookbook:layout (\S+) -->$`)
	fileMarker   = regexp.MustCompile(`^<!-- file: (\S.*\S) -->$`)
	tableRow     = regexp.MustCompile("^\\| `([^`]+)` \\| (`([^`]+)`|unmatched|not read) \\| (`([^`]+)`)? *\\|$")
)

// SmallReport is the report the cookbook's layouts hold where they give no content.
const SmallReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.Sample" tests="2" failures="0" errors="0" skipped="0" time="0.3" timestamp="2026-11-20T10:00:00">
  <testcase classname="com.acme.Sample" name="works" time="0.1"/>
  <testcase classname="com.acme.Sample" name="still works" time="0.2"/>
</testsuite>
`

// Cookbook reads the targets block and the layouts of the cookbook at path.
func Cookbook(path string) (targets string, layouts []*Layout, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	lines := strings.Split(string(data), "\n")
	// fenced returns the content of the fenced block starting at or after line i.
	fenced := func(i int) (string, int) {
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
		}
		var b strings.Builder
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			b.WriteString(lines[i] + "\n")
		}
		return b.String(), i
	}
	var cur *Layout
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "<!-- cookbook:targets -->":
			targets, i = fenced(i + 1)
		case layoutMarker.MatchString(line):
			cur = &Layout{Name: layoutMarker.FindStringSubmatch(line)[1], Files: map[string]string{}}
			layouts = append(layouts, cur)
		case cur == nil:
		case line == "<!-- cookbook:config -->":
			cur.Config, i = fenced(i + 1)
		case fileMarker.MatchString(line):
			name := fileMarker.FindStringSubmatch(line)[1]
			cur.Files[name], i = fenced(i + 1)
		case strings.HasPrefix(line, "| `"):
			m := tableRow.FindStringSubmatch(line)
			if m == nil {
				return "", nil, fmt.Errorf("%s:%d: table row %q is not | `file` | `job` or unmatched or not read | `build` |", path, i+1, line)
			}
			r := CookbookRow{Path: m[1], Job: m[2], Build: m[5]}
			if m[3] != "" {
				r.Job = m[3]
			}
			cur.Rows = append(cur.Rows, r)
			if _, ok := cur.Files[r.Path]; !ok {
				cur.Files[r.Path] = ""
			}
		}
	}
	if targets == "" {
		return "", nil, fmt.Errorf("%s: no <!-- cookbook:targets --> block", path)
	}
	return targets, layouts, nil
}
