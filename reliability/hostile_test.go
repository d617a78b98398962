//go:build faults

package reliability_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/internal/testkit"
)

// hostile is one hostile input: files written under data/hostile/1/, and what must happen.
type hostile struct {
	name  string
	write func(t *testing.T, dir string) // dir is the build folder
	// imported: the runs that must arrive (class, name); nil = the file must fail.
	imported [][2]string
	errHas   string // the failure message must contain this
	absent   string // this text must reach Octane nowhere
}

var hostileInputs = []hostile{
	{
		name: "10 levels of nested suites",
		write: func(t *testing.T, dir string) {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0"?>` + "\n<testsuites>\n")
			for i := range 10 {
				fmt.Fprintf(&b, "%s<testsuite name=\"level%d\" timestamp=\"2025-03-01T08:00:00Z\">\n", strings.Repeat(" ", i), i)
				fmt.Fprintf(&b, "%s<testcase classname=\"nested.L%d\" name=\"at level %d\"/>\n", strings.Repeat(" ", i+1), i, i)
			}
			for i := 9; i >= 0; i-- {
				fmt.Fprintf(&b, "%s</testsuite>\n", strings.Repeat(" ", i))
			}
			b.WriteString("</testsuites>\n")
			testkit.WriteFile(t, filepath.Join(dir, "nested.xml"), []byte(b.String()))
		},
		imported: func() [][2]string {
			var out [][2]string
			for i := range 10 {
				out = append(out, [2]string{fmt.Sprintf("nested.L%d", i), fmt.Sprintf("at level %d", i)})
			}
			return out
		}(),
	},
	{
		name: "billion laughs",
		write: func(t *testing.T, dir string) {
			var b strings.Builder
			b.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n")
			prev := "lol"
			for i := 1; i <= 9; i++ {
				name := fmt.Sprintf("lol%d", i)
				fmt.Fprintf(&b, " <!ENTITY %s \"%s\">\n", name, strings.Repeat("&"+prev+";", 10))
				prev = name
			}
			b.WriteString("]>\n<testsuite name=\"lolz\"><testcase classname=\"laughs\" name=\"&lol9;\"/></testsuite>\n")
			testkit.WriteFile(t, filepath.Join(dir, "lolz.xml"), []byte(b.String()))
		},
		errHas: "DOCTYPE",
		absent: "lollollol",
	},
	{
		name: "external entity to /etc/passwd",
		write: func(t *testing.T, dir string) {
			testkit.WriteFile(t, filepath.Join(dir, "xxe.xml"), []byte(`<?xml version="1.0"?>
<!DOCTYPE testsuite [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<testsuite name="xxe"><testcase classname="xxe" name="leak"><failure message="&xxe;">&xxe;</failure></testcase></testsuite>
`))
		},
		errHas: "DOCTYPE",
		absent: "root:x:0:0",
	},
	{
		name: "100,000-character test name",
		write: func(t *testing.T, dir string) {
			name := strings.Repeat("n", 100000)
			testkit.WriteFile(t, filepath.Join(dir, "long.xml"), []byte(`<testsuite name="long" timestamp="2025-03-01T08:00:00Z"><testcase classname="long.Name" name="`+name+`"/></testsuite>`))
		},
		// Octane's names hold 255 characters: the run arrives with its name cut (and a warning).
		imported: [][2]string{{"long.Name", strings.Repeat("n", 255)}},
	},
	{
		name: "invalid UTF-8",
		write: func(t *testing.T, dir string) {
			testkit.WriteFile(t, filepath.Join(dir, "utf8.xml"), []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"bad\"><testcase classname=\"utf8\" name=\"caf\xe9 \xff\xfe\"/></testsuite>\n"))
		},
		errHas: "UTF-8",
	},
	{
		name: "binary garbage named .xml",
		write: func(t *testing.T, dir string) {
			data := make([]byte, 64<<10)
			x := uint32(2463534242)
			for i := range data {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				data[i] = byte(x)
			}
			testkit.WriteFile(t, filepath.Join(dir, "garbage.xml"), data)
		},
		errHas: "garbage.xml",
	},
	{
		name: "manifest with a 10 MB field",
		write: func(t *testing.T, dir string) {
			testkit.WriteFile(t, filepath.Join(dir, "octane-build.yaml"), []byte("version: 1\nserver: {instance_id: rel-ci}\njob: {id: hostile}\nbuild: {id: \"1\", name: \""+strings.Repeat("x", 10<<20)+"\"}\n"))
			testkit.WriteFile(t, filepath.Join(dir, "owned.xml"), []byte(`<testsuite name="o" timestamp="2025-03-01T08:00:00Z"><testcase classname="owned" name="by a huge manifest"/></testsuite>`))
		},
		errHas: "manifest",
	},
}

// TestHostileInputs scans each hostile input, alone, next to ordinary builds: each gets a
// clear error or a correct import, in bounded time and memory, and the ordinary builds
// arrive exactly once whatever happens to it.
func TestHostileInputs(t *testing.T) {
	for _, h := range hostileInputs {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			d := newDataset()
			d.writeBuilds(t, e.data, 1, 1, 1, 5)
			dir := filepath.Join(e.data, "hostile", "1")
			h.write(t, dir)
			inputsTried.Add(1)
			r := e.run(2*time.Minute, "scan", "--output", "json", e.data)
			checkSane(t, r, 30*time.Second, 512<<10)
			lines := fileLines(t, r.stdout)
			for _, l := range lines {
				if !strings.HasPrefix(l.Path, dir) {
					continue
				}
				if h.imported == nil {
					if l.Outcome != "failed" || l.Error == nil || !strings.Contains(l.Error.Message, h.errHas) {
						t.Errorf("%s: %s %+v, want failed with %q", filepath.Base(l.Path), l.Outcome, l.Error, h.errHas)
					} else {
						t.Logf("%s: %s", filepath.Base(l.Path), clipText(l.Error.Message, 200))
					}
				} else if l.Outcome != "imported" {
					t.Errorf("%s: %s %+v, want imported", filepath.Base(l.Path), l.Outcome, l.Error)
				}
			}
			if len(lines) == 0 {
				t.Fatalf("no per-file output:\n%s", r)
			}
			for _, run := range h.imported {
				d.runs[identity{serverID, "hostile", "1", run[0], run[1]}] = true
			}
			e.exactlyOnce(d)
			if h.absent != "" {
				for _, run := range e.srv.Runs() {
					if strings.Contains(fmt.Sprint(run), h.absent) {
						t.Errorf("%q reached Octane in run %s", h.absent, clipText(run.Name, 80))
					}
				}
				if strings.Contains(r.stdout+r.stderr, h.absent) {
					t.Errorf("%q appears in the output", h.absent)
				}
			}
		})
	}
}

// checkSane fails the test if the binary crashed, took longer than maxTime or held more
// than maxRSS KiB.
func checkSane(t *testing.T, r result, maxTime time.Duration, maxRSS int64) {
	t.Helper()
	if r.killed || strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("the importer crashed:\n%s", r)
	}
	if r.code != 0 && r.code != 1 {
		t.Errorf("exit %d, want 0 or 1 (2 is a usage error):\n%s", r.code, r)
	}
	if r.elapsed > maxTime {
		t.Errorf("took %s, bound %s", r.elapsed, maxTime)
	}
	if r.maxRSS > maxRSS {
		t.Errorf("peak RSS %d MiB, bound %d MiB", r.maxRSS>>10, maxRSS>>10)
	}
	t.Logf("exit %d in %s, peak RSS %d MiB", r.code, r.elapsed.Round(time.Millisecond), r.maxRSS>>10)
}

// TestOneGigabyteReport streams a 1 GB report (200,000 test cases, the bulk in system-out)
// to disk and imports it: every run arrives once, in bounded time, with a peak RSS far below
// the file's size. Skipped when the disk has less than 3 GB free.
func TestOneGigabyteReport(t *testing.T) {
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || int64(st.Bavail)*int64(st.Bsize) < 3<<30 {
		t.Skipf("less than 3 GB free in %s: the 1 GB report is not written", dir)
	}
	e := newEnv(t, envOptions{dir: dir})
	const cases = 20000
	path := filepath.Join(e.data, "huge", "1", "TEST-huge.xml")
	start := time.Now()
	d := newDataset()
	d.writeSuite(t, path, "huge", "1", gen.Suite{
		Name: "com.example.huge", Classes: 50, Cases: cases, Output: (1 << 30) / cases,
		Timestamp: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
		CaseName:  func(c int) string { return fmt.Sprintf("case %d", c) },
	})
	fi, _ := os.Stat(path)
	t.Logf("wrote %d MB in %s", fi.Size()>>20, time.Since(start).Round(time.Millisecond))
	inputsTried.Add(1)
	r := e.run(5*time.Minute, "scan", "--output", "json", e.data)
	os.Remove(path)
	checkSane(t, r, 3*time.Minute, 400<<10)
	if r.code != 0 {
		t.Fatalf("the 1 GB report:\n%s", r)
	}
	e.exactlyOnce(d)
}
