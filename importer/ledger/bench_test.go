package ledger

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchShape is an imported tree as the benchmarks see it: builds of files, each build's
// files in one payload, sent and accepted (the state of a ledger after a backfill). The
// builds are sealed in path order (a scan's walk) unless shuffled (a watcher's arrivals).
type benchShape struct {
	builds, filesPerBuild int
	shuffled              bool
}

func (s benchShape) files() int { return s.builds * s.filesPerBuild }

// benchPath is a file path shaped like the bench corpus (bench/gen): team-kind-job/build/TEST-class.xml.
func benchPath(b, f int) string {
	teams := []string{"payments", "ledger", "search", "checkout", "identity"}
	kinds := []string{"unit", "integration", "e2e", "contract"}
	job := fmt.Sprintf("%s-%s-%d", teams[b%len(teams)], kinds[(b/5)%len(kinds)], b%37)
	return fmt.Sprintf("/srv/ci-drops/results/%s/%d/TEST-com.acme.%s.service.Component%04dServiceTest.xml",
		job, 1000+b/37, teams[b%len(teams)], f)
}

func benchBuildKey(b int) string {
	p := benchPath(b, 0)
	parts := strings.Split(p, "/")
	return "prod\x1fbench-drops\x1f" + parts[4] + "\x1f" + parts[5]
}

const benchHash = "5a2b8c1d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3"

// fillLedger imports shape into the ledger at path through the API the importer uses: one
// Seal per build (its files and one payload), then MarkSent and MarkDone.
func fillLedger(tb testing.TB, path string, shape benchShape) {
	tb.Helper()
	l, err := Open(path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	fillStore(tb, l, shape, true)
}

// fillStore imports shape into l: one Seal per build and, with send, MarkSent and MarkDone
// of its payload.
func fillStore(tb testing.TB, l Store, shape benchShape, send bool) {
	tb.Helper()
	scan, _ := l.NextScan()
	spec := json.RawMessage(`{"target":"prod","server":{"instance_id":"bench-drops","name":"Benchmark drops","type":"file"},"pipeline":"payments-unit-3","root_job":"payments-unit-3","job":"payments-unit-3","build":"1042","start":"2026-03-04T05:00:00Z","end":"2026-03-04T05:10:00Z"}`)
	order := make([]int, shape.builds)
	for i := range order {
		order[i] = i
	}
	if shape.shuffled {
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	} else {
		sort.Slice(order, func(i, j int) bool { return benchPath(order[i], 0) < benchPath(order[j], 0) })
	}
	for _, b := range order {
		key := benchBuildKey(b)
		files := make([]File, shape.filesPerBuild)
		names := make([]string, shape.filesPerBuild)
		for f := range files {
			names[f] = benchPath(b, f)
			files[f] = File{Path: names[f], Root: "/srv/ci-drops/results", Size: 4000 + int64(f), ModTime: 1772600000123456789 + int64(b*1000+f),
				Hash: benchHash, State: Parsed, Rule: "by-folder", Target: "prod", Build: key, Runs: Counts{Passed: 4, Failed: 1}, Scan: scan}
		}
		ids, err := l.Seal([]NewPayload{{Target: "prod", Build: key, Files: names, Runs: 5 * len(files), Data: []byte("gzip")}},
			files, []Build{{Key: key, Target: "prod", Start: time.Unix(1772600000, 0), Spec: spec, State: BuildPending, Runs: Counts{Passed: 400}}})
		if err != nil {
			tb.Fatal(err)
		}
		if !send {
			continue
		}
		if err := l.MarkSent(ids[0], strconv.Itoa(100000+b), "queued"); err != nil {
			tb.Fatal(err)
		}
		if err := l.MarkDone(ids[0], PayloadDone, "success", ""); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLedgerSize imports trees of 2,000 and 20,000 files and reports the size of the
// ledger file per file (the goal of issue 16: at most 400 bytes), sealed in a scan's order and
// in a watcher's (shuffled).
func BenchmarkLedgerSize(b *testing.B) {
	for _, shape := range []benchShape{{200, 10, false}, {200, 10, true}, {200, 100, false}, {200, 100, true}} {
		name := fmt.Sprintf("files=%d/order=walk", shape.files())
		if shape.shuffled {
			name = fmt.Sprintf("files=%d/order=shuffled", shape.files())
		}
		b.Run(name, func(b *testing.B) {
			var size int64
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "ledger.db")
				fillLedger(b, path, shape)
				info, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				size = info.Size()
			}
			b.ReportMetric(float64(size)/float64(shape.files()), "B/file")
			b.ReportMetric(0, "ns/op")
		})
	}
}

var rescanLedger struct {
	once sync.Once
	dir  string
	err  error
}

// rescanShape is bench/run.sh's rescan tree: 1,000 builds of 100 files.
var rescanShape = benchShape{1000, 100, false}

// rescanPath is a ledger of rescanShape, made once per test binary run (in a folder removed by
// TestMain).
func rescanPath(b *testing.B) string {
	rescanLedger.once.Do(func() {
		rescanLedger.dir, rescanLedger.err = os.MkdirTemp("", "ledger-rescan-")
		if rescanLedger.err == nil {
			fillLedger(b, filepath.Join(rescanLedger.dir, "ledger.db"), rescanShape)
		}
	})
	if rescanLedger.err != nil {
		b.Fatal(rescanLedger.err)
	}
	return filepath.Join(rescanLedger.dir, "ledger.db")
}

// BenchmarkRescan is what a rescan of 100,000 imported files asks of the ledger, in a process
// of its own (so that its peak RSS, the ledger's memory map included, is the rescan's): open
// it, look every file up by path and compare size and mtime (lookup; lookup-batch: 512 paths
// at a time with FilesAt), or read every record in
// path order (files: status, and reportSent after a scan that sent something). It reports the
// child's wall time from opening the ledger to closing it, its CPU time (the whole process)
// and its peak RSS (VmHWM).
func BenchmarkRescan(b *testing.B) {
	path := rescanPath(b)
	for _, mode := range []string{"lookup", "lookup-batch", "files"} {
		b.Run(mode, func(b *testing.B) {
			var wall, cpu time.Duration
			var rss float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRescanChild$")
				cmd.Env = append(os.Environ(), "LEDGER_RESCAN_CHILD="+mode+":"+path)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				var ms, kb float64
				for _, line := range strings.Split(string(out), "\n") {
					if _, err := fmt.Sscanf(line, "rescan %f ms %f kB", &ms, &kb); err == nil {
						break
					}
				}
				if kb == 0 {
					b.Fatalf("no figures from the child: %s", out)
				}
				wall += time.Duration(ms * float64(time.Millisecond))
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				rss = max(rss, kb/1024)
			}
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms/rescan")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "CPU-ms/rescan")
			b.ReportMetric(rss, "peak-RSS-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestRescanChild is BenchmarkRescan's child process; it does nothing in a normal test run.
func TestRescanChild(t *testing.T) {
	arg := os.Getenv("LEDGER_RESCAN_CHILD")
	if arg == "" {
		t.Skip("run by BenchmarkRescan")
	}
	mode, path, _ := strings.Cut(arg, ":")
	start := time.Now()
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	switch mode {
	case "lookup":
		for b := range rescanShape.builds {
			for f := range rescanShape.filesPerBuild {
				rec, ok, err := l.File(benchPath(b, f))
				if err != nil || !ok {
					t.Fatalf("%s: %v %v", benchPath(b, f), ok, err)
				}
				if rec.Same(4000+int64(f), time.Unix(0, 1772600000123456789+int64(b*1000+f))) && rec.State == Accepted {
					n++
				}
			}
		}
	case "lookup-batch":
		const batch = 512
		var paths []string
		check := func() {
			got, err := l.FilesAt(paths)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range got {
				if rec.State == Accepted {
					n++
				}
			}
			paths = paths[:0]
		}
		for b := range rescanShape.builds {
			for f := range rescanShape.filesPerBuild {
				if paths = append(paths, benchPath(b, f)); len(paths) == batch {
					check()
				}
			}
		}
		check()
	case "files":
		err = l.Files(func(f File) bool {
			if f.State == Accepted && len(f.Payloads) > 0 {
				n++
			}
			return true
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	elapsed := time.Since(start)
	if n != rescanShape.files() {
		t.Fatalf("%d of %d files found imported and unchanged", n, rescanShape.files())
	}
	fmt.Printf("rescan %.1f ms %d kB\n", float64(elapsed.Microseconds())/1000, vmHWM())
}

// vmHWM is this process's peak resident set size in kB (Linux), 0 elsewhere.
func vmHWM() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// writeStores are the ledgers the write benchmarks fill again and again, as a long-running
// process would (a watch, a backfill: connections, prepared statements and caches warm): an
// embedded ledger (a new file each time) and a PostgreSQL one (emptied each time).
type writeStore struct {
	name  string
	open  func(b *testing.B) Store // a new, empty ledger
	close func(Store)
}

func writeStores(b *testing.B) []writeStore {
	url := pgURL(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := OpenPostgres(ctx, url, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	return []writeStore{
		{"bbolt", func(b *testing.B) Store {
			l, err := Open(filepath.Join(b.TempDir(), "ledger.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}, func(s Store) { s.Close() }},
		{"postgres", func(b *testing.B) Store {
			for _, q := range []string{`TRUNCATE octane_import.files, octane_import.payloads, octane_import.builds, octane_import.file_claims`} {
				if _, err := pg.pool.Exec(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
			return pg
		}, func(Store) {}},
	}
}

// BenchmarkWritePath is a backfill's writes: 2,000 files in 200 builds, each build's files
// sealed with their payload and build in one call (seal), then each payload marked sent and
// accepted, which settles its files (seal+send). Issue 17's goal: PostgreSQL at most 1.3x
// the embedded ledger's time.
func BenchmarkWritePath(b *testing.B) {
	shape := benchShape{200, 10, false}
	for _, st := range writeStores(b) {
		for _, send := range []bool{false, true} {
			name := st.name + "/seal"
			if send {
				name += "+send"
			}
			b.Run(name, func(b *testing.B) {
				var elapsed time.Duration
				for b.Loop() {
					b.StopTimer()
					l := st.open(b)
					b.StartTimer()
					start := time.Now()
					fillStore(b, l, shape, send)
					elapsed += time.Since(start)
					b.StopTimer()
					st.close(l)
					b.StartTimer()
				}
				b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/2000files")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkWritePathRatio runs BenchmarkWritePath's seal+send on both backends back to back
// in every iteration and reports PostgreSQL's time over the embedded ledger's: on a shared
// machine whose disk is busy, the two separate figures drift with the load; their ratio
// taken side by side drifts less.
func BenchmarkWritePathRatio(b *testing.B) {
	shape := benchShape{200, 10, false}
	stores := writeStores(b)
	var took [2]time.Duration
	for b.Loop() {
		for i, st := range stores {
			b.StopTimer()
			l := st.open(b)
			b.StartTimer()
			start := time.Now()
			fillStore(b, l, shape, true)
			took[i] += time.Since(start)
			b.StopTimer()
			st.close(l)
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(took[0].Milliseconds())/float64(b.N), "bbolt-ms")
	b.ReportMetric(float64(took[1].Milliseconds())/float64(b.N), "postgres-ms")
	b.ReportMetric(float64(took[1])/float64(took[0]), "postgres/bbolt")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRescanStore looks the 100,000 files of an imported tree up in batches of 512
// (FilesAt, lookup) or one at a time (File, lookup-each: 10,000 of them, reported per
// 100,000), or reads them all in path order (files), in this process, against both
// backends; the PostgreSQL ledger is a Copy of the embedded one. Issue 17's goal: a rescan
// of 100,000 files within 3 s.
func BenchmarkRescanStore(b *testing.B) {
	path := rescanPath(b)
	paths := make([]string, 0, rescanShape.files())
	for bd := range rescanShape.builds {
		for f := range rescanShape.filesPerBuild {
			paths = append(paths, benchPath(bd, f))
		}
	}
	for _, name := range []string{"bbolt", "postgres"} {
		var l Store
		switch name {
		case "bbolt":
			ro, err := Open(path, Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			l = ro
		case "postgres":
			url := pgURL(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			if _, err := Copy(ctx, path, url); err != nil {
				cancel()
				b.Fatal(err)
			}
			cancel()
			ro := Options{ReadOnly: true}
			p, err := OpenPostgres(context.Background(), url, ro)
			if err != nil {
				b.Fatal(err)
			}
			l = p
		}
		b.Run(name+"/lookup", func(b *testing.B) {
			for b.Loop() {
				n := 0
				for i := 0; i < len(paths); i += 512 {
					got, err := l.FilesAt(paths[i:min(i+512, len(paths))])
					if err != nil {
						b.Fatal(err)
					}
					n += len(got)
				}
				if n != len(paths) {
					b.Fatalf("found %d of %d", n, len(paths))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/rescan")
		})
		b.Run(name+"/lookup-each", func(b *testing.B) {
			// One File call per path, as the importer reads today: 10,000 of them, reported
			// per 100,000.
			for b.Loop() {
				for _, path := range paths[:10000] {
					if _, ok, err := l.File(path); !ok || err != nil {
						b.Fatalf("%s: %v %v", path, ok, err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())*10/float64(b.N), "ms/rescan")
		})
		b.Run(name+"/files", func(b *testing.B) {
			for b.Loop() {
				n := 0
				if err := l.Files(func(File) bool { n++; return true }); err != nil || n != len(paths) {
					b.Fatalf("%d files, %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/rescan")
		})
		l.Close()
	}
}
