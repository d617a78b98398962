package importer

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/octane-import/octane-import/mapping"
)

func TestRootsOverlap(t *testing.T) {
	im := &Importer{}
	dir := func(p string) *root { return im.newRoot(p, true) }
	file := func(p string) *root { return im.newRoot(p, false) }
	tests := []struct {
		name  string
		roots []*root
		want  bool
	}{
		{"one folder", []*root{dir("/drops")}, false},
		{"folders apart", []*root{dir("/drops/a"), dir("/drops/b"), dir("/other")}, false},
		{"a prefix that is not a parent", []*root{dir("/drops/a"), dir("/drops/ab")}, false},
		{"a folder in another", []*root{dir("/drops"), dir("/drops/web")}, true},
		{"a folder in a later one", []*root{dir("/drops/web"), dir("/drops")}, true},
		{"the same folder twice", []*root{dir("/drops"), dir("/drops")}, true},
		{"a file in a folder", []*root{dir("/drops"), file("/drops/web/TEST-a.xml")}, true},
		{"a folder after a file in it", []*root{file("/drops/TEST-a.xml"), dir("/drops")}, true},
		{"a file beside a folder", []*root{dir("/drops/web"), file("/drops/TEST-a.xml")}, false},
		{"two files of one folder", []*root{file("/drops/TEST-a.xml"), file("/drops/TEST-b.xml")}, false},
		{"the same file twice", []*root{file("/drops/TEST-a.xml"), file("/drops/TEST-a.xml")}, true},
	}
	for _, tc := range tests {
		if got := rootsOverlap(tc.roots); got != tc.want {
			t.Errorf("%s: rootsOverlap = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFirstPassCountsWhatTheSecondFinds checks that the first pass, which counts reports
// without looking at each one's size and mtime, counts what the second pass reads: the
// reports, not the manifests, other files, symbolic links, sockets or folders named like reports,
// and under a source with a max_age only the reports young enough.
func TestFirstPassCountsWhatTheSecondFinds(t *testing.T) {
	base := t.TempDir()
	write := func(rel string, age time.Duration) {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := "<testsuite/>"
		if filepath.Ext(p) == ".yaml" {
			content = "version: 1\nserver: {instance_id: ci, name: CI, type: jenkins}\njob: {id: job}\nbuild: {id: \"1\"}\n"
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if age > 0 {
			old := time.Now().Add(-age)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rel := range []string{"free/job/1/TEST-a.xml", "free/job/1/TEST-b.xml", "free/job/1/notes.txt",
		"free/job/1/octane-build.yaml", "aged/job/2/TEST-new.xml", "plain/job/3/TEST-c.xml"} {
		write(rel, 0)
	}
	write("aged/job/2/TEST-old.xml", 48*time.Hour)
	write("free/job/1/dir.xml/TEST-in-a-folder-named-like-a-report.xml", 0)
	if err := os.Symlink(filepath.Join(base, "free/job/1/TEST-a.xml"), filepath.Join(base, "free/job/1/TEST-link.xml")); err != nil {
		t.Fatal(err)
	}
	// Neither a file nor a folder: a socket named like a report (what admit rejects).
	ln, err := net.Listen("unix", filepath.Join(base, "free/job/1/TEST-s.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sources := []Source{
		{Dir: filepath.Join(base, "free")},
		{Dir: filepath.Join(base, "aged"), MaxAge: 24 * time.Hour},
	}
	for i := range sources {
		if err := sources[i].Compile(); err != nil {
			t.Fatal(err)
		}
	}
	im, err := New(Options{Rules: mapping.Default("test-host"), Sources: sources, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, paths := range [][]string{nil, {base}, {filepath.Join(base, "free", "job", "1", "TEST-a.xml")}} {
		roots, err := im.roots(paths)
		if err != nil {
			t.Fatal(err)
		}
		_, counted, err := im.loadManifests(ctx, roots, func(c candidate, err error) { t.Errorf("%s: %v", c.path, err) })
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, r := range roots {
			err := r.walk(ctx, func(kind string, c candidate) error {
				if kind == "report" {
					found = append(found, c.path)
				}
				return nil
			}, func(path string, err error) { t.Errorf("%s: %v", path, err) })
			if err != nil {
				t.Fatal(err)
			}
		}
		if counted != len(found) {
			t.Errorf("scan %q: the first pass counted %d reports, the second found %d: %q", paths, counted, len(found), found)
		}
		if paths == nil && (len(found) != 4 || slices.ContainsFunc(found, func(p string) bool { return filepath.Base(p) == "TEST-old.xml" })) {
			t.Errorf("the sources' reports: %q, want the 4 young ones", found)
		}
	}
}
