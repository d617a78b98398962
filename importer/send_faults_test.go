package importer_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/sandbox"
)

// A payload whose task failed, and whose first answer was lost, is resent byte for byte;
// Octane answers the resend with the old task's status only ("failed", no errorDetails).
// The file must still fail with Octane's own message, not "Octane's task ended failed".
func TestFailedTaskMessageSurvivesALostAnswer(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "app", "7", "TEST-a.xml"), "com.acme.A", 3, false)
	const msg = "test_run 2 has an invalid status (from Octane)"
	e.srv.FailNextTasks(1, msg)
	e.srv.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/test-results", Kind: sandbox.DropAfterProcess})
	_, files := e.scan(dir)
	n := 0
	for _, f := range files {
		if f.Outcome != importer.Failed {
			continue
		}
		n++
		if f.Error == nil || !strings.Contains(f.Error.Message, msg) {
			t.Errorf("%s failed without Octane's message: %+v", f.Path, f.Error)
		}
	}
	if n != 1 {
		t.Fatalf("%d failed files, want 1: %+v", n, files)
	}
	if e.srv.PendingFaults() != 0 {
		t.Fatal("the lost answer was never injected: the test tests nothing")
	}
}

// A session that expires again right after the client signed in again (401 twice on one
// request) is not Octane refusing the build or the payload: the scan stops with everything
// queued, and the next scan imports it all, once.
func TestRepeated401StopsTheRunInsteadOfFailingBuilds(t *testing.T) {
	for _, path := range []string{"/ci_servers", "/analytics/ci/builds", "/test-results"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, nil)
			dir := t.TempDir()
			writeReport(t, filepath.Join(dir, "app", "7", "TEST-a.xml"), "com.acme.A", 3, false)
			e.octaneClient() // sign in before the faults are armed
			for range 2 {
				e.srv.Inject(sandbox.Fault{Path: path, Kind: sandbox.ExpireSession})
			}
			sum, files := e.scan(dir)
			if e.srv.PendingFaults() != 0 {
				t.Fatal("the faults were never hit: the test tests nothing")
			}
			for _, f := range files {
				if f.Outcome == importer.Failed {
					t.Errorf("%s failed on a session problem: %+v", f.Path, f.Error)
				}
			}
			if len(sum.Errors) == 0 {
				t.Errorf("the scan stopped without saying why: %+v", sum)
			}
			sum, files = e.scan(dir)
			if got := outcomes(files)[importer.Imported]; got != 1 || sum.Failures() != 0 {
				t.Fatalf("second scan: %+v", files)
			}
			if runsIn(e.srv) != 3 {
				t.Errorf("stand-in holds %d runs, want 3", runsIn(e.srv))
			}
		})
	}
}

// A file whose runs span two payloads, one accepted and one failed, is retried payload by
// payload: `retry` sends only the failed payload again, so no run arrives twice.
func TestRetryOfAPartlyFailedFileSendsOnlyTheFailedPayload(t *testing.T) {
	e := newEnv(t, nil) // 50 runs per payload
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "app", "7", "TEST-a.xml"), "com.acme.A", 80, true)
	e.octaneClient()
	e.srv.FailNextTasks(1, "release 4242 does not exist")
	_, files := e.scan(dir)
	if len(files) != 1 || files[0].Outcome != importer.Failed {
		t.Fatalf("first scan: %+v", files)
	}
	if got := runsIn(e.srv); got == 0 || got == 80 {
		t.Fatalf("the stand-in holds %d runs: want one of the two payloads accepted", got)
	}
	sum, files, err := e.run(context.Background(), nil, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Retry(context.Background(), nil)
	})
	if err != nil || sum.Failures() != 0 {
		t.Fatalf("retry: %v %+v", err, files)
	}
	if len(files) != 1 || files[0].Outcome != importer.Imported {
		t.Errorf("retry outcomes: %+v", files)
	}
	seen := map[string]int{}
	for _, r := range e.srv.Runs() {
		seen[r.Class+"."+r.Name]++
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s arrived %d times", name, n)
		}
	}
	if len(seen) != 80 {
		t.Errorf("%d distinct runs in the stand-in, want 80", len(seen))
	}
}
