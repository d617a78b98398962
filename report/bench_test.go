package report

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"
	"github.com/octane-import/octane-import/bench/gen"
)

// writeLargeReport writes a report of n testcases with bench/gen (classes of 100 cases,
// each its own suite; every 50th case failing with a stack trace, every 100th skipped),
// about 100 bytes a testcase, and returns its size.
func writeLargeReport(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	st, err := gen.WriteSuite(path, gen.Suite{
		Name: "com.example.module0.Suite", Cases: n, Classes: n / 100, Failed: n / 50, Skipped: n / 100,
		Timestamp: time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC),
		CaseName:  func(i int) string { return fmt.Sprintf("testMethodNumber%07d", i) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st.Bytes
}

const largeN = 200_000

// BenchmarkRead compares our streaming reader with go-junit alone on a
// generated 200,000-testcase report (~20 MB): ns/op, MB/s, allocated bytes,
// and, measured once in a child process, the peak live heap and the peak RSS.
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "large.xml")
	size := writeLargeReport(b, path, largeN)
	for _, impl := range []string{"ours", "go-junit"} {
		b.Run(impl, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := readWith(impl, path); err != nil {
					b.Fatal(err)
				}
			}
			if !raceEnabled {
				b.StopTimer()
				live, rss := measurePeak(b, impl, path)
				b.ReportMetric(live, "peak-live-MiB")
				b.ReportMetric(rss, "peak-RSS-MiB")
			}
		})
	}
}

// peakImpls are further readers measurePeak can measure, by name.
var peakImpls = map[string]func(path string) error{}

func readWith(impl, path string) error {
	if fn, ok := peakImpls[impl]; ok {
		return fn(path)
	}
	if impl == "go-junit" {
		suites, err := junit.IngestFile(path)
		if err == nil && len(suites) == 0 {
			err = fmt.Errorf("no suites")
		}
		return err
	}
	r, err := ReadFile(path)
	if err == nil && len(r.Runs) != largeN {
		err = fmt.Errorf("%d runs", len(r.Runs))
	}
	for i := 1; err == nil && i < len(r.Runs); i++ {
		if r.Runs[i].Line <= r.Runs[i-1].Line {
			err = fmt.Errorf("run %d out of document order", i)
		}
	}
	return err
}

// measurePeak runs TestPeakChild in a child process (this test binary) and
// returns its peak live heap (the heap marked live by the GC, sampled every
// millisecond) and its peak RSS, in MiB.
func measurePeak(tb testing.TB, impl, path string) (liveMiB, rssMiB float64) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REPORT_PEAK_IMPL="+impl, "REPORT_PEAK_FILE="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "peak-rss-kb "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			rssMiB = n / 1024
		}
		if v, ok := strings.CutPrefix(line, "peak-live-bytes "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			liveMiB = n / (1 << 20)
		}
	}
	if liveMiB == 0 {
		tb.Fatalf("child printed no peak:\n%s", out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if rssMiB == 0 {
			// The child's own VmHWM is exact; ru_maxrss also counts the parent's
			// memory at fork time.
			rssMiB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
	}
	return liveMiB, rssMiB
}

// TestPeakChild is the child of measurePeak; it does nothing in a normal run.
func TestPeakChild(t *testing.T) {
	impl, path := os.Getenv("REPORT_PEAK_IMPL"), os.Getenv("REPORT_PEAK_FILE")
	if impl == "" || path == "" {
		t.Skip("only run as a child of measurePeak")
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			max = maxU(max, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	runtime.GC()
	if err := readWith(impl, path); err != nil {
		t.Fatal(err)
	}
	runtime.GC() // so that the live heap at the end of the read is counted
	close(done)
	fmt.Printf("peak-live-bytes %d\n", <-peak)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Printf("peak-rss-kb %s\n", strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestMemoryBound: reading a 200,000-testcase report needs at most a few
// times the file's size (peak live heap), and the Report itself (retained
// after a GC) less: the runs are kept in chunks and copied once into
// Report.Runs at the end, so the peak is about twice the Report. (The bound was
// 6× until Run gained Classname and EarlierFailures, 40 bytes a run: 5.9× then.
// The Decoder's peak does not grow with the file at all: TestStreamHeapFlat.)
// Skipped with -short and under the race detector.
func TestMemoryBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("memory measurement: not with -short or -race")
	}
	path := filepath.Join(t.TempDir(), "large.xml")
	size := writeLargeReport(t, path, largeN)
	live, rss := measurePeak(t, "ours", path)
	ratio := live * (1 << 20) / float64(size)
	t.Logf("file %.1f MiB, peak live heap %.1f MiB (%.1f× the file), peak RSS %.1f MiB", float64(size)/(1<<20), live, ratio, rss)
	if ratio > 6.5 {
		t.Errorf("peak live heap is %.1f× the file size, want at most 6.5×", ratio)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	t.Logf("report retained: %.1f MiB (%.1f× the file) for %d runs", kept/(1<<20), kept/float64(size), len(r.Runs))
	if kept > 3.5*float64(size) {
		t.Errorf("the Report holds %.1f× the file size, want at most 3.5×", kept/float64(size))
	}
	runtime.KeepAlive(r)
}
