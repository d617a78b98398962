package importer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// These tests run Watch over real folders with real file events and the stand-in Octane,
// for what needs them: events, renames, new folders, polling, restarts, Octane's outages.
// Each waits for an expected outcome with a deadline, never for a fixed time. What the
// watcher decides (settled or not, waiting for a manifest or not) is table-tested on
// arrivals (arrivals_test.go), with made-up events and a fake clock.

// watchRun is one running Watch.
type watchRun struct {
	stop  func() error // cancels Watch and waits for it to return
	m     *importer.Metrics
	logs  *testkit.SyncBuffer // the watcher's log, info and above
	files *fileLog            // what the watcher reported of each file
}

// watching runs Watch over dir until the returned run is stopped (or the test ends).
func (e *env) watching(t *testing.T, dir string, wo importer.WatchOptions) *watchRun {
	t.Helper()
	l, err := ledger.Open(e.state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := &watchRun{m: &importer.Metrics{}, logs: &testkit.SyncBuffer{}, files: &fileLog{}}
	im, err := importer.New(importer.Options{
		Rules: e.cfg.Rules, Sources: e.cfg.Sources, Ledger: l, MaxRunsPerPayload: 50, Reporter: run.files,
		Logger: slog.New(slog.NewTextHandler(run.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Client: func(string) (importer.Client, error) { return e.octaneClient(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if wo.Settle == 0 {
		wo.Settle = 150 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- im.Watch(ctx, []string{dir}, wo, run.m) }()
	stopped := false
	run.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			l.Close()
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("watch did not stop within 20 s of cancellation")
			return nil
		}
	}
	t.Cleanup(func() { _ = run.stop() })
	return run
}

// ready waits until the watcher's first scan is done: its watches are in place.
func (r *watchRun) ready(t *testing.T) {
	t.Helper()
	eventually(t, "the first scan", func() bool { return r.m.Scans.Load() > 0 })
}

// waiting reports whether the watcher holds path back for reason.
func (r *watchRun) waiting(path, reason string) bool {
	for _, w := range r.m.Waiting() {
		if w.Path == path && w.Reason == reason {
			return true
		}
	}
	return false
}

// eventually waits (with a deadline, not a fixed sleep) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Within(t, 20*time.Second, what, cond)
}

// fileLog is a Reporter keeping the outcomes reported for each file, in order.
type fileLog struct {
	mu sync.Mutex
	by map[string][]importer.Outcome
}

func (f *fileLog) File(r importer.FileResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string][]importer.Outcome{}
	}
	f.by[r.Path] = append(f.by[r.Path], r.Outcome)
}

func (*fileLog) Progress(importer.Progress) {}

func (f *fileLog) outcomes(path string) []importer.Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]importer.Outcome(nil), f.by[path]...)
}

// writeInPlace writes a report as a slow producer would: in place, its tail not the end tag
// (a comment), so that the watcher cannot take it for a report renamed into place whole.
func writeInPlace(t *testing.T, path, class string, n int) {
	t.Helper()
	writeReport(t, path, class, n, false)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "<!-- written in place -->")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func runsInJob(srv *sandbox.Server, job string) int {
	n := 0
	for _, r := range srv.Runs() {
		if r.JobCIID == job {
			n++
		}
	}
	return n
}

func runsInBuild(srv *sandbox.Server, job, build string) int {
	n := 0
	for _, r := range srv.Runs() {
		if r.JobCIID == job && r.BuildCIID == build {
			n++
		}
	}
	return n
}

// noDuplicates fails when a run (build, class, name) is in the stand-in twice.
func noDuplicates(t *testing.T, srv *sandbox.Server) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range srv.Runs() {
		k := strings.Join([]string{r.ServerCIID, r.JobCIID, r.BuildCIID, r.Package, r.Class, r.Name}, "|")
		if seen[k] {
			t.Errorf("duplicate run %s", k)
		}
		seen[k] = true
	}
}

func TestWatchSlowWriteIsReadOnlyWhenComplete(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	w := e.watching(t, dir, importer.WatchOptions{Settle: 400 * time.Millisecond})
	path := filepath.Join(dir, "slow", "1", "TEST-slow.xml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `<?xml version="1.0"?><testsuite name="slow" timestamp="2026-03-01T10:00:00Z">`)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(f, "<testcase classname=\"com.acme.Slow\" name=\"t%d\" time=\"0.1\"/>\n", i)
		f.Sync()
		time.Sleep(100 * time.Millisecond) // the producer's pace: less than the settle time between writes
	}
	fmt.Fprintln(f, "</testsuite>")
	f.Close()
	eventually(t, "the slowly written report", func() bool { return len(w.files.outcomes(path)) > 0 })
	// Read half-way, it would have been reported failed (truncated) first.
	if got := w.files.outcomes(path); len(got) != 1 || got[0] != importer.Imported {
		t.Errorf("outcomes of the slow report: %v, want [imported]", got)
	}
	if n := runsInJob(e.srv, "slow"); n != 10 {
		t.Errorf("runs = %d, want 10", n)
	}
}

func TestWatchRenameNewDirsAndRecreatedDir(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.watching(t, dir, importer.WatchOptions{})
	// A report renamed into place.
	tmp := filepath.Join(t.TempDir(), "staging.xml")
	writeReport(t, tmp, "com.acme.Renamed", 4, false)
	if err := os.MkdirAll(filepath.Join(dir, "renamed", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "renamed", "1", "TEST-r.xml")); err != nil {
		t.Fatal(err)
	}
	// Reports in new nested folders, made all at once (the watch on "deep" comes after its files).
	writeReport(t, filepath.Join(dir, "a", "b", "c", "deep", "7", "TEST-d.xml"), "com.acme.Deep", 3, false)
	eventually(t, "renamed and nested reports", func() bool {
		return runsInJob(e.srv, "renamed") == 4 && runsInJob(e.srv, "deep") == 3
	})
	// A folder deleted and made again with new content.
	if err := os.RemoveAll(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	writeReport(t, filepath.Join(dir, "a", "b", "c", "deep", "8", "TEST-d.xml"), "com.acme.Deep", 5, true)
	eventually(t, "the report in the recreated folder", func() bool { return runsInJob(e.srv, "deep") == 8 })
	noDuplicates(t, e.srv)
}

func TestWatchSwitchesToPollingOnANetworkDrive(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	// Pretend the folder is on NFS: no events will come, the watcher must poll by itself.
	e.watching(t, dir, importer.WatchOptions{NetworkPoll: 200 * time.Millisecond, NetworkFS: func(string) (string, bool) { return "nfs", true }})
	writeReport(t, filepath.Join(dir, "nfs", "1", "TEST-n.xml"), "com.acme.N", 2, false)
	eventually(t, "a report on the network drive", func() bool { return runsInJob(e.srv, "nfs") == 2 })
}

func TestWatchExplicitPollingFindsFiles(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.watching(t, dir, importer.WatchOptions{Poll: 200 * time.Millisecond, NetworkFS: func(string) (string, bool) { return "", false }})
	writeReport(t, filepath.Join(dir, "polled", "1", "TEST-p.xml"), "com.acme.P", 2, false)
	eventually(t, "a polled report", func() bool { return runsInJob(e.srv, "polled") == 2 })
}

func TestWatchRestartInTheMiddleOfABurst(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	w := e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	const files = 60
	for i := 0; i < files; i++ {
		writeReport(t, filepath.Join(dir, "burst", fmt.Sprint(i%6), fmt.Sprintf("TEST-%02d.xml", i)), fmt.Sprintf("com.acme.B%02d", i), 5, false)
	}
	eventually(t, "some of the burst", func() bool { return runsInJob(e.srv, "burst") > 0 })
	if err := w.stop(); err != nil {
		t.Fatalf("watch returned %v on cancellation", err)
	}
	w = e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	eventually(t, "the whole burst after a restart", func() bool { return runsInJob(e.srv, "burst") == files*5 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := runsInJob(e.srv, "burst"); n != files*5 {
		t.Errorf("runs = %d, want %d", n, files*5)
	}
	noDuplicates(t, e.srv)
}

func TestWatchStopsDuringASendAndResumes(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.srv.Inject(sandbox.Fault{Method: "POST", Path: "/test-results", Kind: sandbox.Latency, Delay: 2 * time.Second})
	w := e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	writeReport(t, filepath.Join(dir, "slowoctane", "1", "TEST-s.xml"), "com.acme.S", 7, false)
	// The stand-in records a request when it arrives, before the 2 s delay.
	eventually(t, "the test results POST to be in flight", func() bool {
		for _, r := range e.srv.Requests() {
			if r.Method == "POST" && strings.HasSuffix(r.Path, "/test-results") {
				return true
			}
		}
		return false
	})
	start := time.Now()
	if err := w.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %v", took)
	}
	w = e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	eventually(t, "the runs after the restart", func() bool { return runsInJob(e.srv, "slowoctane") == 7 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	noDuplicates(t, e.srv)
}

func TestWatchMarkerMakesFilesCompleteAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	w := e.watching(t, dir, importer.WatchOptions{Settle: time.Hour, Marker: "*.done"})
	report := filepath.Join(dir, "marked", "1", "TEST-m.xml")
	writeInPlace(t, report, "com.acme.M", 3)
	eventually(t, "the report held back, settling (settle is an hour)", func() bool { return w.waiting(report, importer.WaitSettling) })
	if err := os.WriteFile(filepath.Join(dir, "marked", "1", "build.done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marked report", func() bool { return runsInJob(e.srv, "marked") == 3 })
}

func TestWatchOctaneDownThenBackDrainsTheQueue(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.srv.Inject(sandbox.Fault{Kind: sandbox.HTML503, Times: 1_000_000})
	w := e.watching(t, dir, importer.WatchOptions{RetryQueued: 200 * time.Millisecond})
	for i := 0; i < 3; i++ {
		writeReport(t, filepath.Join(dir, "down", fmt.Sprint(i), "TEST-d.xml"), "com.acme.D", 4, false)
	}
	// While Octane is down the work waits in the ledger, and the watcher says so.
	eventually(t, "the importer to meet the outage", func() bool { return w.m.OctaneErrors.Load() > 0 })
	e.srv.ClearFaults()
	eventually(t, "the queue to drain once Octane is back", func() bool { return runsInJob(e.srv, "down") == 12 })
	// In order: the builds were reported oldest first (they share a start time, so by id).
	var order []string
	for _, b := range e.srv.Builds() {
		order = append(order, b.BuildCIID)
	}
	if strings.Join(order, ",") != "0,1,2" {
		t.Errorf("builds reported in the order %v", order)
	}
	noDuplicates(t, e.srv)
}

func TestWatchAtomicRenameNeedsNoSettleTime(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "atomic", "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := e.watching(t, dir, importer.WatchOptions{Settle: time.Hour})
	w.ready(t) // the folder's watch is in place
	tmp := filepath.Join(dir, "atomic", "3", ".TEST-a.xml.tmp")
	writeReport(t, tmp, "com.acme.Atomic", 3, false)
	if err := os.Rename(tmp, filepath.Join(dir, "atomic", "3", "TEST-a.xml")); err != nil {
		t.Fatal(err)
	}
	// Settle is an hour: only "complete at once" can import it within the deadline.
	eventually(t, "the renamed report", func() bool { return runsInJob(e.srv, "atomic") == 3 })
	// A half-written report in the same place waits for its settle time.
	half := filepath.Join(dir, "atomic", "3", "TEST-h.xml")
	testkit.WriteFile(t, half, `<testsuite name="s"><testcase classname="a.B" name="c"/>`)
	eventually(t, "the half-written report held back, settling", func() bool { return w.waiting(half, importer.WaitSettling) })
	if got := w.files.outcomes(half); len(got) != 0 {
		t.Errorf("a half-written report was read: %v", got)
	}
}

func TestWatchSendsWorkLeftQueuedAtStart(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "left", "1", "TEST-l.xml"), "com.acme.L", 5, false)
	e.srv.Inject(sandbox.Fault{Kind: sandbox.HTML503, Times: 1_000_000})
	_, files := e.scan(dir)
	if o := outcomes(files); o[importer.Queued] != 1 {
		t.Fatalf("while down: %v", o)
	}
	e.srv.ClearFaults()
	e.watching(t, dir, importer.WatchOptions{})
	eventually(t, "the queued runs, with no new file", func() bool { return runsInJob(e.srv, "left") == 5 })
}

// Issue 14 item 3: with no manifest in its tree, a report does not wait --manifest-wait
// for one (it waited the full 30 s).
func TestWatchWithoutManifestsDoesNotWaitForOne(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.watching(t, dir, importer.WatchOptions{ManifestWait: time.Minute})
	writeInPlace(t, filepath.Join(dir, "plain", "1", "TEST-p.xml"), "com.acme.P", 3)
	testkit.Within(t, 10*time.Second, "a report with no manifest in its tree imported", func() bool { return runsInJob(e.srv, "plain") == 3 })
}

// a build manifest for job "app" on the built-in rule's server (so that its pipeline and the
// built-in rule's are one).
func appManifest(build string) string {
	return "version: 1\nserver: {instance_id: test-host}\njob: {id: app}\nbuild: {id: \"" + build + "\"}\n"
}

// Issue 14 item 3: where a manifest is expected (the build before had one), the wait is
// logged once for the folder, and a marker ends it at once (it did not).
func TestWatchMarkerEndsTheManifestWaitAndTheWaitIsLoggedOnce(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "app", "1", "octane-build.yaml"), appManifest("1"))
	writeReport(t, filepath.Join(dir, "app", "1", "TEST-a.xml"), "com.acme.A", 2, false)
	w := e.watching(t, dir, importer.WatchOptions{ManifestWait: time.Hour, Marker: "*.done"})
	testkit.Within(t, 10*time.Second, "the build with its manifest", func() bool { return runsInJob(e.srv, "app") == 2 })
	a, b := filepath.Join(dir, "app", "2", "TEST-a.xml"), filepath.Join(dir, "app", "2", "TEST-b.xml")
	writeReport(t, a, "com.acme.A", 2, false)
	writeReport(t, b, "com.acme.B", 2, false)
	want := "waiting up to 1h0m0s for octane-build.yaml in " + filepath.Join(dir, "app", "2")
	testkit.Within(t, 10*time.Second, "both reports waiting for their manifest", func() bool {
		return w.waiting(a, importer.WaitManifest) && w.waiting(b, importer.WaitManifest)
	})
	if n := strings.Count(w.logs.String(), want); n != 1 {
		t.Errorf("the wait for app/2 logged %d times, want once:\n%s", n, w.logs)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "2", "build.done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Within(t, 10*time.Second, "the marked build imported without its manifest", func() bool { return runsInJob(e.srv, "app") == 6 })
}

// A report waiting for its manifest goes with the manifest once it arrives: its runs are in
// the manifest's build.
func TestWatchReportWaitsForItsManifestThenGoesWithIt(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "app", "1", "octane-build.yaml"), appManifest("1"))
	writeReport(t, filepath.Join(dir, "app", "1", "TEST-a.xml"), "com.acme.A", 2, false)
	w := e.watching(t, dir, importer.WatchOptions{ManifestWait: time.Hour})
	report := filepath.Join(dir, "app", "2", "surefire-reports", "TEST-a.xml")
	writeReport(t, report, "com.acme.A", 3, false)
	eventually(t, "the report waiting for its manifest", func() bool { return w.waiting(report, importer.WaitManifest) })
	testkit.WriteFile(t, filepath.Join(dir, "app", "2", "octane-build.yaml"), appManifest("2-from-manifest"))
	eventually(t, "the report imported into its manifest's build", func() bool { return runsInBuild(e.srv, "app", "2-from-manifest") == 3 })
	noDuplicates(t, e.srv)
}
