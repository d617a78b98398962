package importer

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/glob"
)

// fakeInfo is the fs.FileInfo of a file on the test's made-up disk.
type fakeInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (f fakeInfo) ModTime() time.Time { return f.mtime }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// act is one line of an arrivals table: something happens at `at` (on the made-up disk,
// with or without a file event), or the test steps as the watch loop does and checks.
//
//	create, create-whole, write  the file gets `size` bytes and mtime `at`, with the event
//	grow                         the same without an event (a network drive, a missed event)
//	poll                         a rescan finds every file on the disk under path
//	remove                       path (a file or folder) is deleted, with the event
//	rename                       path "a -> b": moved into place whole (create-whole of b)
//	dir                          a folder appeared; want: the folders to look through
//	step                         the loop's step: look again at what is due (from the disk),
//	                             then take what is ready; want: the reports handed out;
//	                             notes: substrings of the log lines
//	waiting                      want: "path reason" of every report held back
type act struct {
	at    time.Duration
	do    string
	path  string
	size  int64
	want  []string
	notes []string
}

func TestArrivals(t *testing.T) {
	const settle, wait = 2 * time.Second, 30 * time.Second
	s := time.Second
	manifestSoon := "waiting up to 30s for octane-build.yaml in /drops/app/2 (/drops/app/1 has one)"
	previousBuild := []act{ // a build with its manifest, found by the first scan
		{at: -60 * s, do: "grow", path: "app/1/octane-build.yaml", size: 90},
		{at: -60 * s, do: "grow", path: "app/1/TEST-a.xml", size: 500},
		{at: -10 * s, do: "poll", path: ""},
		{at: -8 * s, do: "step", want: []string{"app/1/TEST-a.xml"}},
	}
	for _, tc := range []struct {
		name string
		acts []act
	}{
		{"settle: complete when a second look, --settle after the last change, finds it the same", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 1 * s, do: "step", want: nil},
			{at: 1 * s, do: "waiting", want: []string{"job/1/TEST-a.xml settling"}},
			{at: 2 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
			{at: 2 * s, do: "waiting", want: nil},
		}},
		{"a file still growing waits for its last write", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 1 * s, do: "write", path: "job/1/TEST-a.xml", size: 200},
			{at: 2 * s, do: "step", want: nil},
			{at: 2500 * time.Millisecond, do: "write", path: "job/1/TEST-a.xml", size: 300},
			{at: 4 * s, do: "step", want: nil},
			{at: 4500 * time.Millisecond, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"growing with no event: the second look sees it and it settles again", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 1500 * time.Millisecond, do: "grow", path: "job/1/TEST-a.xml", size: 900},
			{at: 2 * s, do: "step", want: nil},
			{at: 3 * s, do: "waiting", want: []string{"job/1/TEST-a.xml settling"}},
			{at: 4 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"atomic rename into place: complete at once", []act{
			{at: 0, do: "rename", path: "job/1/.TEST-a.xml.tmp -> job/1/TEST-a.xml", size: 100},
			{at: 0, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"a report created whole, then written again, settles", []act{
			{at: 0, do: "create-whole", path: "job/1/TEST-a.xml", size: 100},
			{at: 0, do: "write", path: "job/1/TEST-a.xml", size: 120},
			{at: 1 * s, do: "step", want: nil},
			{at: 2 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"a marker makes its folder's files (and those below) complete at once", []act{
			{at: 0, do: "create", path: "job/1/surefire-reports/TEST-a.xml", size: 100},
			{at: 0, do: "create", path: "job/1/TEST-b.xml", size: 100},
			{at: 0, do: "create", path: "job/2/TEST-c.xml", size: 100},
			{at: 500 * time.Millisecond, do: "create", path: "job/1/build.done"},
			{at: 500 * time.Millisecond, do: "step", want: []string{"job/1/TEST-b.xml", "job/1/surefire-reports/TEST-a.xml"}},
			{at: 2 * s, do: "step", want: []string{"job/2/TEST-c.xml"}},
		}},
		{"a marker found before the reports by a walk still counts", []act{
			{at: 0, do: "grow", path: "job/1/build.done"},
			{at: 0, do: "grow", path: "job/1/TEST-a.xml", size: 100},
			{at: 1 * s, do: "poll", path: "job/1"},
			{at: 1 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"a file written after the marker (a folder reused) settles as usual", []act{
			{at: 0, do: "create", path: "job/1/build.done"},
			{at: 5 * s, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 5 * s, do: "step", want: nil},
			{at: 7 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
		{"a removed marker completes nothing more", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 0, do: "create", path: "job/1/build.done"},
			{at: 0, do: "remove", path: "job/1/build.done"},
			{at: 0, do: "step", want: []string{"job/1/TEST-a.xml"}},
			{at: 1 * s, do: "create", path: "job/1/TEST-b.xml", size: 1},
			{at: 1 * s, do: "step", want: nil},
		}},
		{"no manifest anywhere: no wait for one", []act{
			{at: 0, do: "create", path: "nightly/smoke/2026-11-20/report.xml", size: 100},
			{at: 2 * s, do: "step", want: []string{"nightly/smoke/2026-11-20/report.xml"}},
		}},
		{"a report whose folder has no manifest, in a tree where others have one at another level", append(slices.Clone(previousBuild), []act{
			{at: 0, do: "create", path: "nightly/smoke/2026-11-20/report.xml", size: 100},
			{at: 0, do: "create", path: "app/flaky.xml", size: 100},
			{at: 2 * s, do: "step", want: []string{"app/flaky.xml", "nightly/smoke/2026-11-20/report.xml"}},
		}...)},
		{"a report waits for a manifest like its sibling's, which then arrives", append(slices.Clone(previousBuild), []act{
			{at: 0, do: "create-whole", path: "app/2/TEST-a.xml", size: 100},
			{at: 0, do: "create-whole", path: "app/2/TEST-b.xml", size: 100},
			{at: 0, do: "step", want: nil, notes: []string{manifestSoon}},
			{at: 1 * s, do: "step", want: nil, notes: nil}, // logged once for the folder
			{at: 1 * s, do: "waiting", want: []string{"app/2/TEST-a.xml manifest", "app/2/TEST-b.xml manifest"}},
			{at: 3 * s, do: "create", path: "app/2/octane-build.yaml", size: 80},
			{at: 3 * s, do: "step", want: nil},
			{at: 4 * s, do: "waiting", want: []string{"app/2/TEST-a.xml manifest_written", "app/2/TEST-b.xml manifest_written"}},
			{at: 5 * s, do: "step", want: []string{"app/2/TEST-a.xml", "app/2/TEST-b.xml"}},
		}...)},
		{"a report in a sub-folder expects the manifest where its sibling build has it", append(slices.Clone(previousBuild), []act{
			{at: 0, do: "create-whole", path: "app/2/surefire-reports/TEST-a.xml", size: 100},
			{at: 0, do: "step", want: nil, notes: []string{manifestSoon}},
			{at: 1 * s, do: "create-whole", path: "app/2/octane-build.yaml", size: 80},
			{at: 1 * s, do: "step", want: nil},
			{at: 3 * s, do: "step", want: []string{"app/2/surefire-reports/TEST-a.xml"}},
		}...)},
		{"the wait for an expected manifest ends after --manifest-wait", append(slices.Clone(previousBuild), []act{
			{at: 0, do: "create-whole", path: "app/2/TEST-a.xml", size: 100},
			{at: 0, do: "step", want: nil, notes: []string{manifestSoon}},
			{at: 29 * s, do: "step", want: nil},
			{at: 30 * s, do: "step", want: []string{"app/2/TEST-a.xml"}, notes: []string{"no build manifest in /drops/app/2 after 30s: importing its reports without one"}},
		}...)},
		{"a marker ends the wait for an expected manifest", append(slices.Clone(previousBuild), []act{
			{at: 0, do: "create", path: "app/2/TEST-a.xml", size: 100},
			{at: 2 * s, do: "step", want: nil, notes: []string{manifestSoon}},
			{at: 3 * s, do: "create", path: "app/2/build.done"},
			{at: 3 * s, do: "step", want: []string{"app/2/TEST-a.xml"}},
		}...)},
		{"a manifest still being written holds its reports, even marked ones", []act{
			{at: 0, do: "create", path: "app/7/octane-build.yaml", size: 10},
			{at: 0, do: "create-whole", path: "app/7/reports/TEST-a.xml", size: 100},
			{at: 0, do: "create", path: "app/7/reports/ok.done"},
			{at: 0, do: "step", want: nil},
			{at: 1 * s, do: "write", path: "app/7/octane-build.yaml", size: 80},
			{at: 2 * s, do: "step", want: nil},
			{at: 2 * s, do: "waiting", want: []string{"app/7/reports/TEST-a.xml manifest_written"}},
			{at: 3 * s, do: "step", want: []string{"app/7/reports/TEST-a.xml"}},
		}},
		{"a source that declares manifests: its reports wait for one", []act{
			{at: 0, do: "create-whole", path: "src/job/1/TEST-a.xml", size: 100},
			{at: 0, do: "step", want: nil, notes: []string{"waiting up to 30s for a manifest (**/build-info.json) in /drops/src/job/1 (the source /drops/src declares build manifests)"}},
			{at: 1 * s, do: "create-whole", path: "src/job/1/build-info.json", size: 80},
			{at: 1 * s, do: "step", want: nil},
			{at: 3 * s, do: "step", want: []string{"src/job/1/TEST-a.xml"}},
		}},
		{"removal: a file removed, and a folder removed with its files", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 0, do: "create", path: "job/2/TEST-b.xml", size: 100},
			{at: 0, do: "create", path: "job/2/deep/TEST-c.xml", size: 100},
			{at: 1 * s, do: "remove", path: "job/1/TEST-a.xml"},
			{at: 1 * s, do: "remove", path: "job/2"},
			{at: 1 * s, do: "waiting", want: nil},
			{at: 2 * s, do: "step", want: nil},
		}},
		{"removal without an event: the second look finds it gone", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 1 * s, do: "remove-quietly", path: "job/1/TEST-a.xml"},
			{at: 2 * s, do: "step", want: nil},
			{at: 2 * s, do: "waiting", want: nil},
		}},
		{"renamed away: gone under its old name", []act{
			{at: 0, do: "create", path: "job/1/TEST-a.xml", size: 100},
			{at: 1 * s, do: "rename", path: "job/1/TEST-a.xml -> archive/TEST-a.xml", size: 100},
			{at: 1 * s, do: "step", want: []string{"archive/TEST-a.xml"}},
			{at: 3 * s, do: "step", want: nil},
		}},
		{"a directory created with files already in it: looked through, its files settle", []act{
			{at: 0, do: "grow", path: "job/9/deep/TEST-a.xml", size: 100},
			{at: 0, do: "grow", path: "job/9/TEST-b.xml", size: 100},
			{at: 0, do: "dir", path: "job/9", want: []string{"job/9"}},
			{at: 0, do: "poll", path: "job/9"}, // the loop's walk of job/9
			{at: 0, do: "step", want: nil},
			{at: 2 * s, do: "step", want: []string{"job/9/TEST-b.xml", "job/9/deep/TEST-a.xml"}},
		}},
		{"files that are neither reports, manifests nor markers are not kept", []act{
			{at: 0, do: "create", path: "job/1/notes.txt", size: 100},
			{at: 0, do: "waiting", want: nil},
			{at: 2 * s, do: "step", want: nil},
		}},
		{"a rescan of files already handed out keeps nothing twice", []act{
			{at: 0, do: "create-whole", path: "job/1/TEST-a.xml", size: 100},
			{at: 0, do: "step", want: []string{"job/1/TEST-a.xml"}},
			{at: 0, do: "poll", path: "job/1/TEST-a.xml"}, // the loop asks the ledger first; here nothing filters it
			{at: 2 * s, do: "step", want: []string{"job/1/TEST-a.xml"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runArrivals(t, settle, wait, tc.acts)
		})
	}
}

func runArrivals(t *testing.T, settle, wait time.Duration, acts []act) {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	src := Source{Dir: "/drops/src", Manifests: []string{"**/build-info.json"}}
	im := &Importer{sources: []sourceDir{{dir: "/drops/src", src: &src}}}
	drops := &root{dir: "/drops", named: "/drops", im: im}
	a := newArrivals(settle, wait, im.expectsManifests)
	disk := map[string]fakeInfo{}
	abs := func(rel string) string {
		if rel == "" {
			return "/drops"
		}
		return filepath.Join("/drops", filepath.FromSlash(rel))
	}
	rel := func(path string) string { r, _ := filepath.Rel("/drops", path); return filepath.ToSlash(r) }
	// see is the loop's consider: what discovery and --marker make of the file, observed.
	see := func(path string, op arrivalOp, whole bool, now time.Time) {
		o, ok := observationOf(drops, glob.MustCompile("*.done"), path, disk[path], op)
		if ok {
			o.whole = whole && o.kind == "report"
			a.observe(o, now)
		}
	}
	for i, x := range acts {
		now := t0.Add(x.at)
		where := func() string { return fmt.Sprintf("act %d (%s %s)", i, x.do, x.path) }
		put := func(path string) { disk[path] = fakeInfo{name: filepath.Base(path), size: x.size, mtime: now} }
		switch x.do {
		case "create", "create-whole", "write":
			p := abs(x.path)
			put(p)
			op := opWritten
			if x.do != "write" {
				op = opCreated
			}
			see(p, op, x.do == "create-whole", now)
		case "grow":
			put(abs(x.path))
		case "poll":
			for _, p := range sortedKeys(disk) {
				if within(p, abs(x.path)) {
					see(p, opFound, false, now)
				}
			}
		case "remove", "remove-quietly":
			for p := range disk {
				if within(p, abs(x.path)) {
					delete(disk, p)
				}
			}
			if x.do == "remove" {
				a.observe(observation{op: opRemoved, c: candidate{path: abs(x.path)}}, now)
			}
		case "rename":
			from, to, _ := strings.Cut(x.path, " -> ")
			delete(disk, abs(from))
			a.observe(observation{op: opRenamed, c: candidate{path: abs(from)}}, now)
			put(abs(to))
			see(abs(to), opCreated, true, now)
		case "dir":
			a.observe(observation{op: opDirCreated, c: candidate{path: abs(x.path), root: drops}}, now)
			var got []string
			for _, d := range sortedKeys(a.takeDirty()) {
				got = append(got, rel(d))
			}
			if !slices.Equal(got, x.want) {
				t.Errorf("%s: folders to look through %q, want %q", where(), got, x.want)
			}
		case "step":
			for _, o := range a.lookAgain(now) {
				info, ok := disk[o.c.path]
				if !ok {
					a.observe(observation{op: opRemoved, c: candidate{path: o.c.path}}, now)
					continue
				}
				o.c.size, o.c.modTime = info.size, info.mtime
				a.observe(o, now)
			}
			if next := a.next(); !next.IsZero() && next.After(now) && len(a.reports) == 0 && len(a.manifests) == 0 {
				t.Errorf("%s: a step is due at %v with nothing kept", where(), next)
			}
			ready, notes := a.ready(now)
			var got []string
			for _, p := range ready {
				got = append(got, rel(p.c.path))
			}
			if !slices.Equal(got, x.want) {
				t.Errorf("at %v, %s: ready %q, want %q", x.at, where(), got, x.want)
			}
			var lines []string
			for _, n := range notes {
				lines = append(lines, n.String(wait))
			}
			if len(lines) != len(x.notes) {
				t.Errorf("at %v, %s: log lines %q, want %d like %q", x.at, where(), lines, len(x.notes), x.notes)
				continue
			}
			for j, want := range x.notes {
				if !strings.Contains(lines[j], want) {
					t.Errorf("at %v, %s: log line %q, want %q", x.at, where(), lines[j], want)
				}
			}
			// Whatever still waits on time has a step due for it.
			for _, p := range a.reports {
				if next := a.next(); next.IsZero() && (p.complete.IsZero() || a.mayWait(p, now)) {
					t.Errorf("at %v, %s: %s waits, and no step is due", x.at, where(), rel(p.c.path))
				}
			}
		case "waiting":
			var got []string
			for _, w := range a.waiting(now) {
				got = append(got, rel(w.Path)+" "+w.Reason)
				if w.Detail == "" || w.Since.IsZero() {
					t.Errorf("%s: %+v says too little", where(), w)
				}
			}
			if !slices.Equal(got, x.want) {
				t.Errorf("at %v, %s: waiting %q, want %q", x.at, where(), got, x.want)
			}
		default:
			t.Fatalf("unknown act %q", x.do)
		}
	}
}
