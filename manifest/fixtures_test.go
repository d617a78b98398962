package manifest

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestFixtureReports checks the example builds as a whole: every report is
// well-formed XML whose test names fit Octane's 255 characters, the tree holds
// 30 to 60 test cases, and each report is owned by exactly the manifest of
// its build folder (the nightly report by none).
func TestFixtureReports(t *testing.T) {
	root := filepath.Join(testkit.RepoRoot(t), "testdata", "builds")
	var manifests []*Manifest
	for _, rel := range fixtures(t) {
		m, err := Load(filepath.Join(testkit.RepoRoot(t), rel))
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, m)
	}
	wantOwner := map[string]string{ // report folder → manifest folder ("" = none)
		"payments/unit/1041/surefire-reports": "payments/unit/1041",
		"payments/unit/1042/surefire-reports": "payments/unit/1042",
		"web/e2e/77":                          "web/e2e/77",
		"nightly/smoke/2026-11-20":            "",
	}
	total, reports := 0, 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".xml") {
			return err
		}
		reports++
		n, err := countTestcases(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		total += n
		relDir, _ := filepath.Rel(root, filepath.Dir(p))
		want, ok := wantOwner[filepath.ToSlash(relDir)]
		if !ok {
			t.Errorf("%s: report in an unexpected folder", p)
		}
		var owners []string
		for _, m := range manifests {
			if m.Owns(p) {
				rel, _ := filepath.Rel(root, filepath.Dir(m.Path))
				owners = append(owners, filepath.ToSlash(rel))
			}
		}
		switch {
		case want == "" && len(owners) != 0:
			t.Errorf("%s: owned by %v, want no manifest", p, owners)
		case want != "" && (len(owners) != 1 || owners[0] != want):
			t.Errorf("%s: owned by %v, want %s", p, owners, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if reports < 8 || total < 30 || total > 60 {
		t.Errorf("%d reports with %d test cases; want 8+ reports and 30-60 cases", reports, total)
	}
}

func countTestcases(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	n := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "testcase" {
			n++
			for _, a := range se.Attr {
				if a.Name.Local == "name" && a.Value == "" {
					line, _ := dec.InputPos()
					return n, fmt.Errorf("line %d: a testcase without a name", line)
				}
				if (a.Name.Local == "name" || a.Name.Local == "classname") && utf8.RuneCountInString(a.Value) > MaxLen {
					return n, fmt.Errorf("testcase %s %q is longer than %d characters", a.Name.Local, a.Value, MaxLen)
				}
			}
		}
	}
}
