package octane_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// These tests run the client against the strict stand-in (package sandbox),
// an independent implementation of the wire contract, through whole flows.

func TestStandInFullFlow(t *testing.T) {
	s, c, _ := startStandIn(t, sandbox.Options{RotateCookie: true, TaskDelay: 10 * time.Millisecond})
	ctx := ctxT(t)

	// Some other servers first, so that the lookup pages.
	for _, iid := range []string{"other-1", "other-2", "other-3"} {
		if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: iid}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "jenkins*(main)^", Name: `Jenkins \ main (prod) *`, Type: "jenkins", URL: "https://ci.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "jenkins*(main)^", Name: "ignored"})
	if err != nil || again.ID != srv.ID {
		t.Fatalf("second ensure: %+v %v, want id %s", again, err, srv.ID)
	}
	if got := s.Servers(); len(got) != 4 || got[3].InstanceID != "jenkins*(main)^" || got[3].Type != "jenkins" {
		t.Fatalf("stand-in holds %+v", got)
	}

	p, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "main", ServerID: srv.ID,
		Jobs: []octane.Job{{CIID: "main", Name: "main"}, {CIID: "main/unit", Name: "unit"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Jobs = append(p.Jobs, octane.Job{CIID: "main/e2e", Name: "e2e"})
	if p2, err := c.EnsurePipeline(ctx, p); err != nil || p2.ID != p.ID {
		t.Fatalf("ensure with a new job: %+v, %v", p2, err)
	}
	pls := s.Pipelines()
	if len(pls) != 1 || pls[0].RootJobCIID != "main" || pls[0].ServerID != srv.ID {
		t.Fatalf("pipelines %+v", pls)
	}
	jobs := map[string]string{}
	for _, j := range s.Jobs() {
		jobs[j.CIID] = j.PipelineID
	}
	// The late job is created outside the pipeline (as the GitHub Actions
	// integration creates one); a build of it caused by the root's places it.
	if len(jobs) != 3 || jobs["main/e2e"] != "" || jobs["main/unit"] != p.ID {
		t.Fatalf("jobs %v", jobs)
	}

	start := time.UnixMilli(1764000000000)
	iid := srv.InstanceID
	for _, b := range []octane.Build{
		{ServerCIID: iid, JobCIID: "main", BuildCIID: "7", Start: start, Status: "running"},
		{ServerCIID: iid, JobCIID: "main/unit", BuildCIID: "7.1", Name: "unit #7", Start: start, Duration: 90 * time.Second, Result: "unstable",
			Causes: []octane.Cause{{JobCIID: "main", BuildCIID: "7"}}, Parameters: []octane.Parameter{{Name: "BRANCH", Value: "main"}}},
		{ServerCIID: iid, JobCIID: "main", BuildCIID: "7", Start: start, Duration: 2 * time.Minute, Result: "unstable"},
	} {
		if err := c.PutBuild(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	builds := s.Builds()
	if len(builds) != 2 || builds[0].Status != "finished" || builds[0].Puts != 2 || builds[1].Duration != 90000 || len(builds[1].Causes) != 1 {
		t.Fatalf("builds %+v", builds)
	}

	long := strings.Repeat("データ", 100)
	z, _ := encodeGzip(t, octane.ResultContext{
		Build:       &octane.BuildRef{ServerID: iid, JobID: "main/unit", BuildID: "7.1"},
		TestFields:  []octane.Field{{Type: "Framework", Value: "JUnit"}, {Type: "Test_Level", Value: "Unit Test"}},
		Environment: []octane.Field{{Type: "OS", Value: "Linux"}},
	},
		octane.TestRun{Package: "com.example", Class: "ATest", Name: "passes", Status: "Passed", Duration: 12 * time.Millisecond, Started: start},
		octane.TestRun{Package: "com.example", Class: "ATest", Name: "fails", Status: "Failed", Duration: time.Second, Started: start,
			Error: &octane.RunError{Type: "AssertionError", Message: "expected <1>", Body: "at com.example.ATest.fails(ATest.java:9)"}},
		octane.TestRun{Package: "com.example", Class: "ATest", Name: long, Status: "Skipped"},
	)
	sendOK(t, c, z)
	stored := s.RunsFor(iid, "main/unit", "7.1")
	if len(stored) != 3 {
		t.Fatalf("%d runs stored", len(stored))
	}
	for _, r := range stored {
		if r.Status == "Skipped" && (utf8.RuneCountInString(r.Name) != 255 || !strings.HasPrefix(long, r.Name)) {
			t.Fatalf("long name stored as %d characters", utf8.RuneCountInString(r.Name))
		}
	}

	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.SessionCount(); n != 0 {
		t.Fatalf("%d sessions left after Close", n)
	}
}

func TestStandInFaults(t *testing.T) {
	s, c, logs := startStandIn(t, sandbox.Options{})
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid", Name: "srv"})
	if err != nil {
		t.Fatal(err)
	}

	// Lost answer to POST test-results: resent with the same bytes, one task, no duplicate runs.
	payload := func(name string) []byte {
		z, _ := encodeGzip(t, octane.ResultContext{}, octane.TestRun{Class: "C", Name: name, Status: "Passed", Duration: time.Millisecond})
		return z
	}
	s.Inject(sandbox.Fault{Method: "POST", Path: "/test-results", Kind: sandbox.DropAfterProcess})
	task, err := c.PostTestResults(ctx, payload("once"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitTask(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	tasks := s.Tasks()
	if len(tasks) != 1 || tasks[0].Posts != 2 || tasks[0].ID != task.ID || len(s.Runs()) != 1 {
		t.Fatalf("tasks %+v, %d runs", tasks, len(s.Runs()))
	}

	// Outage page, then 429 with Retry-After, on reads: retried.
	s.Inject(sandbox.Fault{Method: "GET", Path: "/ci_servers", Kind: sandbox.HTML503, Times: 2})
	s.Inject(sandbox.Fault{Method: "GET", Path: "/ci_servers", Kind: sandbox.Status, Code: 429, RetryAfter: "1"})
	begin := time.Now()
	if got, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); err != nil || got.ID != srv.ID {
		t.Fatalf("after faults: %+v, %v", got, err)
	}
	if time.Since(begin) < 900*time.Millisecond {
		t.Fatal("Retry-After: 1 not honoured")
	}
	if !strings.Contains(logs.String(), "HTML page") || strings.Contains(logs.String(), "<html") {
		t.Fatal("the outage page should be logged as one line, never as HTML")
	}

	// A create whose answer is lost is looked up, not duplicated.
	s.Inject(sandbox.Fault{Method: "POST", Path: "/ci_servers", Kind: sandbox.DropAfterProcess})
	if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid-2"}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Servers()); n != 2 {
		t.Fatalf("%d servers, want 2", n)
	}

	// Connection dropped before the body on a PUT: resent.
	if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "p", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "j"}}}); err != nil {
		t.Fatal(err)
	}
	s.Inject(sandbox.Fault{Method: "PUT", Kind: sandbox.DropBeforeBody})
	if err := c.PutBuild(ctx, octane.Build{ServerCIID: "iid", JobCIID: "j", BuildCIID: "1", Start: time.UnixMilli(1), Result: "success"}); err != nil {
		t.Fatal(err)
	}
	if s.PendingFaults() != 0 || len(s.Builds()) != 1 {
		t.Fatalf("fault not hit (%d pending) or build not stored (%d)", s.PendingFaults(), len(s.Builds()))
	}

	// Session expiry: one re-sign-in, the call succeeds.
	s.ExpireSessionsAfter(0)
	if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); err != nil {
		t.Fatal(err)
	}

	// A failing task reports its details.
	s.FailNextTasks(1, "release_ref id 2147483647 not found")
	task, err = c.PostTestResults(ctx, payload("fails"), false)
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != octane.TaskFailed || !strings.Contains(done.ErrorDetails, "2147483647") {
		t.Fatalf("failed task %+v, %v", done, err)
	}

	// Cancellation while backing off.
	s.Inject(sandbox.Fault{Method: "GET", Kind: sandbox.Status, Code: 503, Times: 100})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	slow, err := octane.New(octane.Config{URL: s.URL(), SharedSpace: "1001", Workspace: "1002", ClientID: testKeyID, ClientSecret: testSecret,
		Retry: octane.RetryPolicy{MinBackoff: time.Hour}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Task(cctx, task.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	s.ClearFaults()
}
