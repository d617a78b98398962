package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/sandbox"
)

// Environment of the child process of TestScanHeapFlat (this test binary, run again).
const (
	heapArgsEnv = "OCTANE_IMPORT_TEST_HEAP_ARGS" // the command line, as JSON
	heapOutEnv  = "OCTANE_IMPORT_TEST_HEAP_OUT"  // where the child writes its figures
)

// TestScanHeapFlat: the peak live heap of importing one report does not grow with the report
// (issue 16: runs flow from the reader through the encoder into payloads staged on disk;
// nothing holds a whole report). Two generated single reports, 20,000 and 80,000 test cases
// (3 and 12 MB), are each imported by the real command (`octane-import scan`, run by a child
// process of this test binary, see TestScanHeapChild) to a stand-in Octane in this process
// over HTTP, and the child's peak live heap is measured. Both are larger than one payload
// (5,000 runs), so both are cut into payloads staged on disk; the larger may need at most 1.3
// times the smaller's peak plus 2 MiB. Before the importer streamed (commit 18fa514) this test
// failed: 14 MiB for the smaller report, 53 MiB for the larger (under the race detector, with
// the sizes below, 4 and 18 MiB); with the streaming importer both need about 5 MiB.
//
// Under the race detector, which makes an import (and the stand-in) some 8 times slower, the
// reports are 6,000 and 24,000 test cases, imported once each (21 s on the shared 2 cores at a
// load of 5): still 4 times apart and both cut into payloads.
//
// The measure is memory, not time: nothing here depends on the machine's speed or load.
func TestScanHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 100,000 test cases in child processes: not with -short")
	}
	var peak [2]float64
	sizes, tries := [2]int{20_000, 80_000}, 2
	if raceEnabled {
		sizes, tries = [2]int{6_000, 24_000}, 1
	}
	for i, cases := range sizes {
		dir := t.TempDir()
		st, err := gen.Write(filepath.Join(dir, "reports"), gen.Spec{Seed: 16, Builds: 1, FilesPerBuild: 1,
			CasesPerFile: cases, ExactCases: true, Detail: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		// The least of two imports: a GC cycle that happens to end at a bad moment is not
		// the importer's size.
		for range tries {
			live, rss := scanHeap(t, filepath.Join(dir, "reports"), cases)
			if peak[i] == 0 || live < peak[i] {
				peak[i] = live
			}
			t.Logf("%d test cases, %.1f MB: peak live heap %.2f MiB, peak RSS %.1f MiB", cases, float64(st.Bytes)/1e6, live, rss)
		}
	}
	if limit := 1.3*peak[0] + 2; peak[1] > limit {
		t.Errorf("importing %d test cases took a peak live heap of %.2f MiB, %d took %.2f MiB: more than 1.3 × + 2 MiB (%.2f MiB); memory grows with the report",
			sizes[1], peak[1], sizes[0], peak[0], limit)
	}
}

// scanHeap imports the reports under dir with a fresh ledger to a fresh stand-in, in a child
// process, and returns the child's peak live heap and peak RSS in MiB. It checks that every
// test case reached the stand-in.
func scanHeap(t *testing.T, dir string, cases int) (liveMiB, rssMiB float64) {
	t.Helper()
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	work := t.TempDir()
	cfg := filepath.Join(work, "octane-import.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `version: 1
targets:
  - name: standin
    url: %s
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: sandbox-secret
rules:
  - name: bench
    match:
      path: "{job}/{build}/*.xml"
    set:
      server: { instance_id: heap-test, name: "Heap test", type: file }
      job: "{job}"
      build: "{build}"
`, srv.URL()), 0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"scan", "--config", cfg, "--state", filepath.Join(work, "state.db"), "-q", dir})
	out := filepath.Join(work, "heap.txt")
	cmd := exec.Command(os.Args[0], "-test.run=^TestScanHeapChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), heapArgsEnv+"="+string(args), heapOutEnv+"="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("octane-import scan in the child: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the child wrote no figures: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "peak-live-bytes":
				liveMiB = n / (1 << 20)
			case "peak-rss-kb":
				rssMiB = n / 1024
			}
		}
	}
	if liveMiB == 0 {
		t.Fatalf("the child's figures have no peak live heap: %q", data)
	}
	if n := len(srv.Runs()); n != cases {
		t.Fatalf("the stand-in holds %d runs, want %d", n, cases)
	}
	return liveMiB, rssMiB
}

// TestScanHeapChild is TestScanHeapFlat's child: it runs the command line in
// OCTANE_IMPORT_TEST_HEAP_ARGS through run (main without the process) and writes the peak live
// heap it saw. It does nothing in a normal run.
//
// How the peak is measured: runtime/metrics' /gc/heap/live:bytes is the heap the last
// completed GC cycle marked live, garbage excluded, so unlike the heap in use it does not
// depend on when the collector happens to run; it changes once per cycle. A goroutine reads it
// every millisecond and keeps the largest value. A cycle can only be missed if the next one
// ends within the same millisecond, which would take allocating the whole live heap again in
// under a millisecond; the importer's live heap is steady while it streams, so even a missed
// cycle would not hide a growth spread over a whole report. A GC just before the command and one
// just after it bracket what the command itself holds. (GODEBUG=gctrace=1 would report every
// cycle too, but in whole megabytes and in a format that is not an API.)
func TestScanHeapChild(t *testing.T) {
	argsJSON, out := os.Getenv(heapArgsEnv), os.Getenv(heapOutEnv)
	if argsJSON == "" || out == "" {
		t.Skip("only run as TestScanHeapFlat's child")
	}
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		t.Fatal(err)
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var most uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			most = max(most, sample[0].Value.Uint64())
			select {
			case <-done:
				metrics.Read(sample) // the cycle of the final runtime.GC
				peak <- max(most, sample[0].Value.Uint64())
				return
			case <-tick.C:
			}
		}
	}()
	runtime.GC()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if code := run(args, devnull, os.Stderr); code != 0 {
		t.Fatalf("octane-import %s: exit status %d", strings.Join(args, " "), code)
	}
	runtime.GC() // so that what the command still holds at its end is counted
	close(done)
	figures := fmt.Sprintf("peak-live-bytes %d\n", <-peak)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				figures += "peak-rss-kb " + strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) + "\n"
			}
		}
	}
	if err := os.WriteFile(out, []byte(figures), 0o644); err != nil {
		t.Fatal(err)
	}
}
