package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/octane-import/octane-import/bench/gen"
)

// genReport writes one report of about cases test cases with bench/gen (the
// benchmarks' corpus generator: Surefire-style, 6 % failures with short stack
// traces, 2 % errors, 3 % skipped, some captured output) under dir, and
// returns its path, its exact number of test cases and its size.
func genReport(tb testing.TB, dir string, cases int) (path string, n int, size int64) {
	tb.Helper()
	st, err := gen.Write(dir, gen.Spec{Seed: 16, Builds: 1, FilesPerBuild: 1, CasesPerFile: cases, Detail: 0.1})
	if err != nil {
		tb.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*", "TEST-*.xml"))
	if err != nil || len(files) != 1 {
		tb.Fatalf("generated %v, %v", files, err)
	}
	return files[0], st.Cases, st.Bytes - manifestBytes(tb, filepath.Dir(files[0]))
}

func manifestBytes(tb testing.TB, dir string) int64 {
	st, err := os.Stat(filepath.Join(dir, "octane-build.yaml"))
	if err != nil {
		return 0
	}
	return st.Size()
}

var (
	largeOnce           sync.Once
	largePath, largeDir string
	largeCases          int
	largeSize           int64
)

// largeGenReport is the benchmarks' report: about 200,000 test cases.
func largeGenReport(b *testing.B) (string, int, int64) {
	largeOnce.Do(func() {
		var err error
		if largeDir, err = os.MkdirTemp("", "report-bench-"); err != nil {
			b.Fatal(err)
		}
		largePath, largeCases, largeSize = genReport(b, largeDir, 200_000)
	})
	if largePath == "" {
		b.Fatal("no large report")
	}
	return largePath, largeCases, largeSize
}

// streamFile reads a report with a Decoder, as the importer does, and returns
// its number of test cases (attempts).
func streamFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	d := NewDecoder(f, path, Options{})
	if _, err := d.Head(); err != nil {
		return 0, err
	}
	for {
		_, err := d.Next()
		if err == io.EOF {
			return d.Summary().Testcases, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// BenchmarkStream compares the Decoder with the token floor on one core, on a
// generated report of about 200,000 test cases: ns/op, MB/s, allocations per
// run (allocs/run: the floor's own are encoding/xml's), and the ratio to the
// floor (x-floor, measured in the same run). read is Read, which keeps the
// whole report.
func BenchmarkStream(b *testing.B) {
	path, cases, size := largeGenReport(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var floorNs, floorCPU float64
	for _, impl := range []struct {
		name string
		fn   func(string) (int, error)
	}{
		{"floor", gen.TokenFloor},
		{"decoder", streamFile},
		{"read", func(p string) (int, error) {
			r, err := ReadFile(p)
			if err != nil {
				return 0, err
			}
			return r.Counts().Total, nil
		}},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			for b.Loop() {
				n, err := impl.fn(path)
				if err != nil {
					b.Fatal(err)
				}
				if n != cases && impl.name != "read" {
					b.Fatalf("%d test cases, want %d", n, cases)
				}
			}
			cpu := float64(cpuTime()-cpu0) / float64(b.N)
			runtime.ReadMemStats(&after)
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(cases), "allocs/run")
			b.ReportMetric(float64(cases)*1e9/ns, "runs/s")
			// CPU time (user and system, the GC's included) as well as wall
			// time: on a shared machine the wall clock also counts waiting.
			b.ReportMetric(cpu, "cpu-ns/op")
			if impl.name == "floor" {
				floorNs, floorCPU = ns, cpu
			} else if floorNs > 0 {
				b.ReportMetric(ns/floorNs, "x-floor")
				b.ReportMetric(cpu/floorCPU, "x-floor-cpu")
			}
		})
	}
}

// TestStreamHeapFlat: the peak live heap of streaming a report does not grow
// with the report. Two generated reports, 8 times apart in size, each read
// in a child process (this test binary) that samples the live heap; the
// larger may not need meaningfully more. Skipped with -short and under the
// race detector.
func TestStreamHeapFlat(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("memory measurement: not with -short or -race")
	}
	var live [2]float64
	for i, cases := range []int{40_000, 320_000} {
		path, n, size := genReport(t, t.TempDir(), cases)
		// The least of two reads: a GC cycle that happens to mark at a bad
		// moment is not the reader's size.
		l, rss := measurePeak(t, "stream", path)
		if l2, rss2 := measurePeak(t, "stream", path); l2 < l {
			l, rss = l2, rss2
		}
		live[i] = l
		t.Logf("%d test cases, %.1f MiB: peak live heap %.3f MiB, peak RSS %.1f MiB", n, float64(size)/(1<<20), l, rss)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	// Were it to grow with the report, as Read's does (about 6 times the
	// file), the larger would need some 400 MiB.
	if live[1] > live[0]*1.5+2 || live[1] > 16 {
		t.Errorf("peak live heap %.2f MiB for the larger report, %.2f MiB for the smaller: it grows with the report", live[1], live[0])
	}
}

// cpuTime is the process's CPU time so far, user and system, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func init() {
	peakImpls["stream"] = func(path string) error {
		n, err := streamFile(path)
		if err == nil && n == 0 {
			err = fmt.Errorf("no test cases")
		}
		return err
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if largeDir != "" {
		os.RemoveAll(largeDir)
	}
	os.Exit(code)
}
