package docs_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/mapping"
)

// A layout of docs/cookbook.md: its configuration snippet, the files it creates with their
// content, and the table of what each report must map to.
type layout struct {
	name   string
	config string
	files  map[string]string // path under /drops → content ("" = a small JUnit report)
	rows   []row
}

type row struct {
	path, job, build string // job "unmatched" or "not read"
}

var (
	layoutMarker = regexp.MustCompile(`^<!-- cookbook:layout (\S+) -->$`)
	fileMarker   = regexp.MustCompile(`^<!-- file: (\S.*\S) -->$`)
	tableRow     = regexp.MustCompile("^\\| `([^`]+)` \\| (`([^`]+)`|unmatched|not read) \\| (`([^`]+)`)? *\\|$")
)

// parseCookbook reads the targets block and the layouts of docs/cookbook.md.
func parseCookbook(t *testing.T) (targets string, layouts []*layout) {
	t.Helper()
	data, err := os.ReadFile("cookbook.md")
	if err != nil {
		t.Fatal(err)
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
	var cur *layout
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "<!-- cookbook:targets -->":
			targets, i = fenced(i + 1)
		case layoutMarker.MatchString(line):
			cur = &layout{name: layoutMarker.FindStringSubmatch(line)[1], files: map[string]string{}}
			layouts = append(layouts, cur)
		case cur == nil:
		case line == "<!-- cookbook:config -->":
			cur.config, i = fenced(i + 1)
		case fileMarker.MatchString(line):
			name := fileMarker.FindStringSubmatch(line)[1]
			cur.files[name], i = fenced(i + 1)
		case strings.HasPrefix(line, "| `"):
			m := tableRow.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("cookbook.md:%d: table row %q is not | `file` | `job` or unmatched or not read | `build` |", i+1, line)
			}
			r := row{path: m[1], job: m[2], build: m[5]}
			if m[3] != "" {
				r.job = m[3]
			}
			cur.rows = append(cur.rows, r)
			if _, ok := cur.files[r.path]; !ok {
				cur.files[r.path] = ""
			}
		}
	}
	if targets == "" {
		t.Fatal("cookbook.md: no <!-- cookbook:targets --> block")
	}
	return targets, layouts
}

const smallReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.Sample" tests="2" failures="0" errors="0" skipped="0" time="0.3" timestamp="2026-11-20T10:00:00">
  <testcase classname="com.acme.Sample" name="works" time="0.1"/>
  <testcase classname="com.acme.Sample" name="still works" time="0.2"/>
</testsuite>
`

func TestCookbookLayouts(t *testing.T) {
	targets, layouts := parseCookbook(t)
	want := []string{"per-build", "flat", "jenkins", "gitlab", "manifests"}
	var got []string
	for _, l := range layouts {
		got = append(got, l.name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("cookbook layouts %v, want %v", got, want)
	}
	t.Setenv("OCTANE_CLIENT_ID", "cookbook-id")
	t.Setenv("OCTANE_CLIENT_SECRET", "cookbook-secret")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			if l.config == "" || len(l.rows) == 0 {
				t.Fatalf("layout %s: no <!-- cookbook:config --> block or no table", l.name)
			}
			root := t.TempDir()
			for name, content := range l.files {
				if content == "" {
					content = smallReport
				}
				writeFile(t, filepath.Join(root, filepath.FromSlash(name)), content)
			}
			if l.name == "jenkins" {
				// Jenkins' own links: never followed, or build 58 would be read twice.
				link := filepath.Join(root, "jobs", "payments", "builds", "lastSuccessfulBuild")
				if err := os.Symlink("58", link); err != nil {
					t.Skip("cannot make a symbolic link here:", err)
				}
			}
			cfgPath := filepath.Join(t.TempDir(), "octane-import.yaml")
			writeFile(t, cfgPath, targets+strings.ReplaceAll(l.config, "/drops", root))
			cfg, err := mapping.Load(cfgPath)
			if err != nil {
				t.Fatalf("the snippet does not load:\n%v", err)
			}
			if len(cfg.Warnings) > 0 {
				t.Errorf("the snippet loads with warnings: %v", cfg.Warnings)
			}

			out, err := exec.Command(bin, "explain", "--config", cfgPath, "--output", "json", root).Output()
			unmatched := 0
			for _, r := range l.rows {
				if r.job == "unmatched" {
					unmatched++
				}
			}
			if ee, ok := err.(*exec.ExitError); ok && (unmatched == 0 || ee.ExitCode() != 1) {
				t.Fatalf("explain: exit %d (%d unmatched rows)\n%s", ee.ExitCode(), unmatched, ee.Stderr)
			} else if err != nil && !ok {
				t.Fatal(err)
			}
			type entry struct {
				Type      string `json:"type"`
				Path      string `json:"path"`
				Unmatched bool   `json:"unmatched"`
				Error     string `json:"error"`
				Decision  *struct {
					Job   string `json:"job"`
					Build string `json:"build"`
				} `json:"decision"`
			}
			entries := map[string]entry{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var e entry
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("explain line %q: %v", line, err)
				}
				if e.Type == "summary" {
					continue
				}
				rel, err := filepath.Rel(root, e.Path)
				if err != nil {
					t.Fatal(err)
				}
				entries[filepath.ToSlash(rel)] = e
			}
			for _, r := range l.rows {
				e, ok := entries[r.path]
				delete(entries, r.path)
				switch {
				case r.job == "not read":
					if ok {
						t.Errorf("%s: read as a report, want it left out", r.path)
					}
				case !ok:
					t.Errorf("%s: not read, want %s#%s", r.path, r.job, r.build)
				case r.job == "unmatched":
					if !e.Unmatched {
						t.Errorf("%s: %+v, want unmatched", r.path, e)
					}
				case e.Decision == nil || e.Error != "":
					t.Errorf("%s: no decision (%s), want %s#%s", r.path, e.Error, r.job, r.build)
				case e.Decision.Job != r.job || e.Decision.Build != r.build:
					t.Errorf("%s: %s#%s, want %s#%s", r.path, e.Decision.Job, e.Decision.Build, r.job, r.build)
				}
			}
			for p := range entries {
				t.Errorf("%s: read, but not in the table", p)
			}
		})
	}
}
