package docs_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/internal/testkit"
)

func TestCookbookLayouts(t *testing.T) {
	targets, layouts, err := testkit.Cookbook("cookbook.md")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"per-build", "flat", "jenkins", "gitlab", "manifests"}
	var got []string
	for _, l := range layouts {
		got = append(got, l.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("cookbook layouts %v, want %v", got, want)
	}
	t.Setenv("OCTANE_CLIENT_ID", "cookbook-id")
	t.Setenv("OCTANE_CLIENT_SECRET", "cookbook-secret")
	for _, l := range layouts {
		t.Run(l.Name, func(t *testing.T) {
			if l.Config == "" || len(l.Rows) == 0 {
				t.Fatalf("layout %s: no <!-- cookbook:config --> block or no table", l.Name)
			}
			root := t.TempDir()
			for name, content := range l.Files {
				if content == "" {
					content = testkit.SmallReport
				}
				testkit.WriteFile(t, filepath.Join(root, filepath.FromSlash(name)), content)
			}
			if l.Name == "jenkins" {
				// Jenkins' own links: never followed, or build 58 would be read twice.
				link := filepath.Join(root, "jobs", "payments", "builds", "lastSuccessfulBuild")
				if err := os.Symlink("58", link); err != nil {
					t.Skip("cannot make a symbolic link here:", err)
				}
			}
			cfgPath := filepath.Join(t.TempDir(), "octane-import.yaml")
			testkit.WriteFile(t, cfgPath, targets+strings.ReplaceAll(l.Config, "/drops", root))
			cfg, err := config.LoadFile(cfgPath)
			if err != nil {
				t.Fatalf("the snippet does not load:\n%v", err)
			}
			if len(cfg.Warnings) > 0 {
				t.Errorf("the snippet loads with warnings: %v", cfg.Warnings)
			}

			out, err := exec.Command(testkit.Binary(t), "explain", "--config", cfgPath, "--output", "json", root).Output()
			unmatched := 0
			for _, r := range l.Rows {
				if r.Job == "unmatched" {
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
			for _, r := range l.Rows {
				e, ok := entries[r.Path]
				delete(entries, r.Path)
				switch {
				case r.Job == "not read":
					if ok {
						t.Errorf("%s: read as a report, want it left out", r.Path)
					}
				case !ok:
					t.Errorf("%s: not read, want %s#%s", r.Path, r.Job, r.Build)
				case r.Job == "unmatched":
					if !e.Unmatched {
						t.Errorf("%s: %+v, want unmatched", r.Path, e)
					}
				case e.Decision == nil || e.Error != "":
					t.Errorf("%s: no decision (%s), want %s#%s", r.Path, e.Error, r.Job, r.Build)
				case e.Decision.Job != r.Job || e.Decision.Build != r.Build:
					t.Errorf("%s: %s#%s, want %s#%s", r.Path, e.Decision.Job, e.Decision.Build, r.Job, r.Build)
				}
			}
			for p := range entries {
				t.Errorf("%s: read, but not in the table", p)
			}
		})
	}
}
