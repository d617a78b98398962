package importer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/sandbox"
)

// watching runs Watch over dir until the returned stop is called; stop waits for Watch to return.
func (e *env) watching(t *testing.T, dir string, wo importer.WatchOptions) (stop func() error) {
	t.Helper()
	l, err := ledger.Open(e.state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := importer.New(importer.Options{
		Rules: e.cfg.Rules, Sources: e.cfg.Sources, Ledger: l, MaxRunsPerPayload: 50,
		Client: func(string) (importer.Client, error) { return e.octaneClient(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if wo.Settle == 0 {
		wo.Settle = 150 * time.Millisecond
	}
	if wo.Tick == 0 {
		wo.Tick = 25 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- im.Watch(ctx, []string{dir}, wo, nil) }()
	stopped := false
	stop = func() error {
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
	t.Cleanup(func() { _ = stop() })
	return stop
}

// eventually waits (with a deadline, not a fixed sleep) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
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
	e.watching(t, dir, importer.WatchOptions{Settle: 400 * time.Millisecond})
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
		time.Sleep(100 * time.Millisecond) // less than the settle time between writes
	}
	fmt.Fprintln(f, "</testsuite>")
	f.Close()
	eventually(t, "the slowly written report", func() bool { return runsInJob(e.srv, "slow") == 10 })
	time.Sleep(600 * time.Millisecond)
	if n := runsInJob(e.srv, "slow"); n != 10 {
		t.Errorf("runs = %d, want 10 (read half-way, or twice)", n)
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
	time.Sleep(100 * time.Millisecond)
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
	stop := e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	const files = 60
	for i := 0; i < files; i++ {
		writeReport(t, filepath.Join(dir, "burst", fmt.Sprint(i%6), fmt.Sprintf("TEST-%02d.xml", i)), fmt.Sprintf("com.acme.B%02d", i), 5, false)
	}
	eventually(t, "some of the burst", func() bool { return runsInJob(e.srv, "burst") > 0 })
	if err := stop(); err != nil {
		t.Fatalf("watch returned %v on cancellation", err)
	}
	e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	eventually(t, "the whole burst after a restart", func() bool { return runsInJob(e.srv, "burst") == files*5 })
	time.Sleep(300 * time.Millisecond)
	if n := runsInJob(e.srv, "burst"); n != files*5 {
		t.Errorf("runs = %d, want %d", n, files*5)
	}
	noDuplicates(t, e.srv)
}

func TestWatchStopsDuringASendAndResumes(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.srv.Inject(sandbox.Fault{Method: "POST", Path: "/test-results", Kind: sandbox.Latency, Delay: 2 * time.Second})
	stop := e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	writeReport(t, filepath.Join(dir, "slowoctane", "1", "TEST-s.xml"), "com.acme.S", 7, false)
	eventually(t, "the post to start", func() bool {
		for _, r := range e.srv.Requests() {
			if strings.HasSuffix(r.Path, "/ci_servers") {
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond) // inside the slow POST
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %v", took)
	}
	e.watching(t, dir, importer.WatchOptions{Settle: 100 * time.Millisecond})
	eventually(t, "the runs after the restart", func() bool { return runsInJob(e.srv, "slowoctane") == 7 })
	time.Sleep(300 * time.Millisecond)
	noDuplicates(t, e.srv)
}

func TestWatchMarkerMakesFilesCompleteAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.watching(t, dir, importer.WatchOptions{Settle: time.Hour, Marker: "*.done"})
	writeReport(t, filepath.Join(dir, "marked", "1", "TEST-m.xml"), "com.acme.M", 3, false)
	time.Sleep(300 * time.Millisecond)
	if n := runsInJob(e.srv, "marked"); n != 0 {
		t.Fatalf("imported before the marker (settle is an hour): %d", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "marked", "1", "build.done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marked report", func() bool { return runsInJob(e.srv, "marked") == 3 })
}

func TestWatchOctaneDownThenBackDrainsTheQueue(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	e.srv.Inject(sandbox.Fault{Kind: sandbox.HTML503, Times: 1_000_000})
	e.watching(t, dir, importer.WatchOptions{RetryQueued: 200 * time.Millisecond})
	for i := 0; i < 3; i++ {
		writeReport(t, filepath.Join(dir, "down", fmt.Sprint(i), "TEST-d.xml"), "com.acme.D", 4, false)
	}
	// While Octane is down nothing arrives, and the work waits in the ledger.
	eventually(t, "the importer to meet the outage", func() bool { return len(e.srv.Requests()) > 3 })
	time.Sleep(500 * time.Millisecond)
	if n := runsInJob(e.srv, "down"); n != 0 {
		t.Fatalf("runs arrived during the outage: %d", n)
	}
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
	e.watching(t, dir, importer.WatchOptions{Settle: time.Hour})
	if err := os.MkdirAll(filepath.Join(dir, "atomic", "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the new folder's watch is in place
	tmp := filepath.Join(dir, "atomic", "3", ".TEST-a.xml.tmp")
	writeReport(t, tmp, "com.acme.Atomic", 3, false)
	if err := os.Rename(tmp, filepath.Join(dir, "atomic", "3", "TEST-a.xml")); err != nil {
		t.Fatal(err)
	}
	// Settle is an hour: only "complete at once" can import it within the deadline.
	eventually(t, "the renamed report", func() bool { return runsInJob(e.srv, "atomic") == 3 })
	// A half-written report in the same place waits for its settle time.
	half := filepath.Join(dir, "atomic", "4", "TEST-h.xml")
	writeFile(t, half, `<testsuite name="s"><testcase classname="a.B" name="c"/>`)
	time.Sleep(500 * time.Millisecond)
	if n := runsInJob(e.srv, "atomic"); n != 3 {
		t.Errorf("a half-written report was imported: runs %d", n)
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
