package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
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
				if info, err := os.Lstat(c.path); err != nil || info.Size() != c.size || !info.ModTime().Equal(c.modTime) {
					t.Errorf("%s: found with size %d, mtime %v; lstat says %v", c.path, c.size, c.modTime, info)
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

// TestEntryStat checks the walk's stat of an entry against os.Lstat: a file, a folder, a
// symbolic link, files of several folders in turn, and one gone since it was listed.
func TestEntryStat(t *testing.T) {
	base := t.TempDir()
	for _, dir := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(base, dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, dir, "TEST-x.xml"), []byte("<testsuite/>"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("TEST-x.xml", filepath.Join(base, "a", "link.xml")); err != nil {
		t.Fatal(err)
	}
	var st entryStat
	defer st.close()
	for _, rel := range []string{"a/TEST-x.xml", "a/sub", "a/link.xml", "b/TEST-x.xml", "a/TEST-x.xml", "b/sub"} {
		path := filepath.Join(base, rel)
		info, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		regular, size, mtime, err := st.stat(path, fs.FileInfoToDirEntry(info))
		if err != nil || regular != info.Mode().IsRegular() || size != info.Size() || !mtime.Equal(info.ModTime()) {
			t.Errorf("%s: stat %v %d %v %v, lstat %v", rel, regular, size, mtime, err, info)
		}
	}
	gone := filepath.Join(base, "b", "gone.xml")
	_, _, _, err := st.stat(gone, nil)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "lstat" || pe.Path != gone || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat of a file gone: %v, want lstat's error", err)
	}
}

func TestPlaceRel(t *testing.T) {
	for _, tc := range []struct{ base, path string }{
		{"/drops", "/drops/a/TEST-x.xml"}, {"/drops", "/drops"}, {"/drops", "/dropsx/a"}, {"/drops", "/other/a"},
		{"/", "/a/b"}, {"/drops/a", "/drops/a/b"}, {"/drops/a", "/drops/b"},
	} {
		want, err := filepath.Rel(tc.base, tc.path)
		if err != nil {
			want = tc.path
		}
		if got := (place{base: tc.base}).rel(tc.path); got != filepath.ToSlash(want) {
			t.Errorf("rel of %s under %s = %q, want %q", tc.path, tc.base, got, want)
		}
	}
}

// BenchmarkDiscover is a scan's discovery of a tree of 20,000 reports in 200 build folders
// (with a manifest each) that it has already imported: the first pass (manifests, and the
// reports counted), then the second (every report with its size and mtime), without reading
// them. It is most of what a rescan of unchanged files costs besides the ledger.
func BenchmarkDiscover(b *testing.B) {
	base := b.TempDir()
	manifest := []byte("version: 1\nserver: {instance_id: ci, name: CI, type: jenkins}\njob: {id: job}\nbuild: {id: \"1\"}\n")
	for d := range 200 {
		dir := filepath.Join(base, fmt.Sprintf("team-%d", d%10), fmt.Sprintf("job-%d", d), "1041")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "octane-build.yaml"), manifest, 0o644); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			name := fmt.Sprintf("TEST-com.acme.payments.ledger.Ledger%03dServiceTest.xml", f)
			if err := os.WriteFile(filepath.Join(dir, name), []byte("<testsuite/>"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	im, err := New(Options{Rules: mapping.Default("test-host"), DryRun: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	roots, err := im.roots([]string{base})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		_, counted, err := im.loadManifests(ctx, roots, func(c candidate, err error) { b.Fatalf("%s: %v", c.path, err) })
		if err != nil {
			b.Fatal(err)
		}
		found := 0
		err = roots[0].walk(ctx, func(kind string, c candidate) error {
			if kind == "report" && c.size > 0 {
				found++
			}
			return nil
		}, func(path string, err error) { b.Fatalf("%s: %v", path, err) })
		if err != nil || counted != 20000 || found != 20000 {
			b.Fatalf("counted %d, found %d, %v", counted, found, err)
		}
	}
	// On a shared machine, the CPU time is the steadier figure.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/20000, "CPU-ns/file")
}

// cpuTime is the process's CPU time so far, user and system, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
