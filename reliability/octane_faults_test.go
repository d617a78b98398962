//go:build faults

package reliability_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/sandbox"
)

// faultCase is one Octane misbehaviour, injected into the stand-in before a scan.
type faultCase struct {
	name   string
	faults []sandbox.Fault
	expire int // ExpireSessionsAfter(n) when > 0
	// failTasks makes that many tasks end "failed" with failDetails.
	failTasks   int
	failDetails string
	slow        bool // takes ~30 s: one latency spike at the client's patience
}

func (fc faultCase) injected() int {
	n := fc.failTasks
	if fc.expire > 0 {
		n++
	}
	for _, f := range fc.faults {
		n += max(f.Times, 1)
	}
	return n
}

func (fc faultCase) inject(srv *sandbox.Server) {
	for _, f := range fc.faults {
		srv.Inject(f)
	}
	if fc.expire > 0 {
		srv.ExpireSessionsAfter(fc.expire)
	}
	if fc.failTasks > 0 {
		srv.FailNextTasks(fc.failTasks, fc.failDetails)
	}
}

const (
	pathResults   = "/test-results"
	pathBuilds    = "/analytics/ci/builds"
	pathServers   = "/ci_servers"
	pathPipelines = "/pipelines"
	failMessage   = "Octane rejected the payload: test_run 3 has an invalid status (injected)"
)

var octaneFaults = []faultCase{
	{name: "429 Retry-After on test-results", faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathResults, Kind: sandbox.Status, Code: 429, RetryAfter: "1", Times: 2}}},
	{name: "429 Retry-After on builds", faults: []sandbox.Fault{{Method: http.MethodPut, Path: pathBuilds, Kind: sandbox.Status, Code: 429, RetryAfter: "1", Times: 2}}},
	{name: "503 HTML page on anything", faults: []sandbox.Fault{{Kind: sandbox.HTML503, Times: 3}}},
	{name: "503 HTML page on sign-in", faults: []sandbox.Fault{{Path: "/sign_in", Kind: sandbox.HTML503, Times: 2}}},
	{name: "drop before body on test-results", faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathResults, Kind: sandbox.DropBeforeBody, Times: 2}}},
	{name: "drop before body on builds", faults: []sandbox.Fault{{Method: http.MethodPut, Path: pathBuilds, Kind: sandbox.DropBeforeBody, Times: 2}}},
	{name: "answer lost after test-results accepted", faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathResults, Kind: sandbox.DropAfterProcess, Times: 3}}},
	{name: "answer lost after build stored", faults: []sandbox.Fault{{Method: http.MethodPut, Path: pathBuilds, Kind: sandbox.DropAfterProcess, Times: 2}}},
	{name: "answer lost after CI server created", faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathServers, Kind: sandbox.DropAfterProcess}}},
	{name: "answer lost after pipeline created", faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathPipelines, Kind: sandbox.DropAfterProcess}}},
	{name: "answer lost on a task poll", faults: []sandbox.Fault{{Method: http.MethodGet, Path: "", Kind: sandbox.DropAfterProcess, Times: 1}}},
	{name: "session expires on a task poll", faults: []sandbox.Fault{{Method: http.MethodGet, Kind: sandbox.ExpireSession, Times: 1}}},
	{name: "session expires after 6 requests", expire: 6},
	{name: "task ends failed", failTasks: 1, failDetails: failMessage},
	{name: "latency spike of 30 s on test-results", slow: true, faults: []sandbox.Fault{{Method: http.MethodPost, Path: pathResults, Kind: sandbox.Latency, Delay: 30 * time.Second}}},
}

// TestOctaneFaults injects each fault alone into an import of a small backfill. Every run
// must arrive exactly once; temporary faults are retried within the client's limits (the
// scan succeeds); a failed task fails its files with Octane's message, the rest imports,
// and `retry` then brings the failed files in, still exactly once.
func TestOctaneFaults(t *testing.T) {
	// The reference: the same backfill with no fault, to bound the retries.
	clean := newEnv(t, envOptions{})
	cd := newDataset()
	cd.writeBuilds(t, clean.data, 2, 3, 2, 10)
	if r := clean.scan(); r.code != 0 {
		t.Fatalf("clean scan failed:\n%s", r)
	}
	cleanRequests := len(clean.srv.Requests())

	for _, fc := range octaneFaults {
		t.Run(fc.name, func(t *testing.T) {
			if fc.slow && testing.Short() {
				t.Skip("30 s latency spike: skipped with -short")
			}
			t.Parallel()
			e := newEnv(t, envOptions{octane: sandbox.Options{TaskDelay: 5 * time.Millisecond}})
			d := newDataset()
			d.writeBuilds(t, e.data, 2, 3, 2, 10)
			fc.inject(e.srv)
			faultsInjected.Add(int64(fc.injected()))
			r := e.scan()
			if fc.failTasks > 0 {
				checkFailedTask(t, e, d, r, fc)
				return
			}
			if r.code != 0 {
				t.Fatalf("the scan did not ride out the fault:\n%s", r)
			}
			if left := e.srv.PendingFaults(); left > 0 {
				t.Errorf("%d injected faults were never hit: the case tests nothing", left)
			}
			e.exactlyOnce(d)
			e.ledgerAgrees(d, 0)
			// Retries within limits: each injected fault costs at most a few extra requests
			// (the retry, a new sign-in, a lookup after a lost create).
			if got, limit := len(e.srv.Requests()), cleanRequests+4*fc.injected()+4; got > limit {
				t.Errorf("%d requests for an import that takes %d without faults (limit %d with %d faults)", got, cleanRequests, limit, fc.injected())
			}
			if fc.slow && r.elapsed < 29*time.Second {
				t.Errorf("the latency spike did not slow the scan (%s): was it hit?", r.elapsed)
			}
		})
	}
}

// checkFailedTask: the failed task's files are failed in the ledger with Octane's message,
// everything else arrived, the exit status says so, and retry completes the import.
func checkFailedTask(t *testing.T, e *env, d *dataset, r result, fc faultCase) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("scan with a failed task: exit %d, want 1\n%s", r.code, r)
	}
	lines := fileLines(t, r.stdout)
	failed := 0
	for _, l := range lines {
		if l.Outcome == "failed" {
			failed++
			if l.Error == nil || !strings.Contains(l.Error.Message, fc.failDetails) {
				t.Errorf("%s failed without Octane's message: %+v", l.Path, l.Error)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no file reported failed after a failed task:\n%s", r)
	}
	st := e.status()
	if len(st.Failed) != failed {
		t.Errorf("ledger lists %d failed files, the scan reported %d", len(st.Failed), failed)
	}
	for _, f := range st.Failed {
		if !strings.Contains(f.Error, fc.failDetails) || f.Status != "failed" {
			t.Errorf("ledger: %s failed as %q (task status %q), want Octane's message and status failed", f.Path, f.Error, f.Status)
		}
	}
	if got := st.Files[ledger.Accepted]; got != len(d.reports)-failed {
		t.Errorf("the run did not continue: %d files accepted, want %d", got, len(d.reports)-failed)
	}
	// Everything else arrived once; the failed task stored nothing.
	tl := e.compare(d)
	if tl.duplicated+tl.unexpected > 0 {
		t.Errorf("after a failed task: %d duplicated, %d unexpected: %v", tl.duplicated, tl.unexpected, tl.examples)
	}
	rr := e.run(time.Minute, "retry", "--output", "json")
	if rr.code != 0 {
		t.Fatalf("retry after a failed task:\n%s", rr)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}

// TestTaskWarning: a release that does not exist, sent with skip_errors, makes every task
// end "warning": the runs are stored (without the release), the files are accepted and the
// warning's text is kept in the ledger.
func TestTaskWarning(t *testing.T) {
	e := newEnv(t, envOptions{settings: "skip_errors: true", rule: `release: "2026.9 (does not exist)"`})
	d := newDataset()
	d.writeBuilds(t, e.data, 1, 2, 2, 5)
	faultsInjected.Add(2) // two payloads, two warning tasks
	r := e.scan()
	if r.code != 0 {
		t.Fatalf("scan with warning tasks:\n%s", r)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
	for _, tk := range e.srv.Tasks() {
		if tk.Status != "warning" {
			t.Errorf("task %s ended %s, want warning (the case tests nothing)", tk.ID, tk.Status)
		}
	}
	for path, l := range fileLines(t, r.stdout) {
		if l.Outcome != "imported" {
			t.Errorf("%s: %s, want imported", path, l.Outcome)
		}
	}
}

// TestOctaneFaultsMixed injects every kind of fault at once into a larger backfill with
// parallel senders, then runs scans until the import settles (at most 4), then retry for the
// failed tasks. Exactly once, and the ledger agrees.
func TestOctaneFaultsMixed(t *testing.T) {
	e := newEnv(t, envOptions{octane: sandbox.Options{TaskDelay: 10 * time.Millisecond}, settings: "concurrency: 6\nmax_runs_per_payload: 25"})
	d := newDataset()
	d.writeBuilds(t, e.data, 3, 6, 3, 30)
	mixed := faultCase{
		faults: []sandbox.Fault{
			{Method: http.MethodPost, Path: pathResults, Kind: sandbox.DropAfterProcess, Times: 4},
			{Method: http.MethodPost, Path: pathResults, Kind: sandbox.Status, Code: 429, RetryAfter: "1", Times: 3},
			{Method: http.MethodPost, Path: pathResults, Kind: sandbox.DropBeforeBody, Times: 3},
			{Method: http.MethodPut, Path: pathBuilds, Kind: sandbox.DropAfterProcess, Times: 2},
			{Method: http.MethodPut, Path: pathBuilds, Kind: sandbox.HTML503, Times: 2},
			{Method: http.MethodGet, Kind: sandbox.ExpireSession, Times: 2},
			{Method: http.MethodGet, Kind: sandbox.Status, Code: 503, Times: 2},
			{Method: http.MethodPost, Path: pathServers, Kind: sandbox.DropAfterProcess},
		},
		failTasks: 2, failDetails: failMessage,
	}
	mixed.inject(e.srv)
	faultsInjected.Add(int64(mixed.injected()))
	// Scans until nothing is queued: a fault may stop a run (the session refused twice in a
	// row, an outage outlasting the retries), which leaves the rest queued for the next.
	var st statusJSON
	for i := 1; ; i++ {
		r := e.scan()
		st = e.status()
		queued := st.Payloads[ledger.Pending] + st.Payloads[ledger.PayloadSent]
		t.Logf("scan %d: exit %d, files %v, payloads %v", i, r.code, st.Files, st.Payloads)
		if r.code == 0 {
			t.Errorf("two tasks failed but scan %d exited 0:\n%s", i, r)
		}
		if queued == 0 && r.code != 0 {
			break
		}
		if i == 5 {
			t.Fatalf("still %d payloads queued after 5 scans:\n%s", queued, r)
		}
	}
	if len(st.Failed) == 0 {
		t.Fatalf("no failed files after two failed tasks")
	}
	for _, f := range st.Failed {
		if !strings.Contains(f.Error, failMessage) {
			t.Errorf("%s failed as %q, want Octane's message", f.Path, f.Error)
		}
	}
	if left := e.srv.PendingFaults(); left > 0 {
		t.Logf("%d injected faults left unhit", left)
	}
	rr := e.run(2*time.Minute, "retry", "--output", "json")
	if rr.code != 0 {
		t.Fatalf("retry after the mixed faults:\n%s", rr)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}
