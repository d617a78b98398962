package octane_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// Tests of issue 15 (Octane fidelity) against the stand-in over HTTP.

// encodeGzip encodes runs under ctx and gzips the payload.
func encodeGzip(t *testing.T, ctx octane.ResultContext, runs ...octane.TestRun) ([]byte, []string) {
	t.Helper()
	var b bytes.Buffer
	e := octane.NewEncoder(&b, ctx)
	for _, r := range runs {
		if err := e.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	z, err := octane.Gzip(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return z, e.Warnings()
}

// sendOK posts a gzipped payload and waits for its task, which must succeed.
func sendOK(t *testing.T, c *octane.Client, z []byte) octane.Task {
	t.Helper()
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, z, false)
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != octane.TaskSuccess {
		t.Fatalf("task %+v, %v", done, err)
	}
	return done
}

// A huge stack trace no longer fails the payload: the encoder caps it, the
// stand-in (which fails a task carrying a longer text, as the server's XML
// parser would) stores the run with the head and the tail of the trace.
func TestHugeStackTraceIsCapped(t *testing.T) {
	s, c, _ := startStandIn(t, sandbox.Options{})
	ctx := ctxT(t)
	trace := "java.lang.IllegalStateException: boom\n" + strings.Repeat("\tat com.example.Deep.recurse(Deep.java:42)\n", 20000) + "Caused by: java.io.IOException: root cause\n"
	z, warnings := encodeGzip(t, octane.ResultContext{},
		octane.TestRun{Class: "DeepTest", Name: "overflows", Status: "Failed", Duration: time.Second,
			Error: &octane.RunError{Type: "java.lang.IllegalStateException", Message: "boom", Body: trace}},
		octane.TestRun{Class: "DeepTest", Name: "passes", Status: "Passed"})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "error body cut from") {
		t.Fatalf("warnings %q", warnings)
	}
	sendOK(t, c, z)
	runs := s.Runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs stored", len(runs))
	}
	body := runs[0].ErrorBody
	if utf8.RuneCountInString(body) > octane.MaxErrorText || !strings.HasPrefix(body, "java.lang.IllegalStateException: boom\n") || !strings.HasSuffix(body, "root cause\n") {
		t.Fatalf("stored trace: %d characters, head %q, tail %q", len(body), body[:40], body[len(body)-20:])
	}

	// The same run written without the cap fails the whole task.
	raw := `<?xml version="1.0" encoding="UTF-8"?><test_result><test_runs><test_run class="DeepTest" name="uncapped" status="Failed" duration="1"><error>` +
		strings.ReplaceAll(trace, "\n", "&#10;") + `</error></test_run></test_runs></test_result>`
	task, err := c.PostTestResults(ctx, mustGzip(t, raw), true)
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != octane.TaskFailed || !strings.Contains(done.ErrorDetails, "262144") {
		t.Fatalf("uncapped payload: task %+v, %v", done, err)
	}
	if len(s.Runs()) != 2 {
		t.Fatal("a payload the parser refuses stored runs")
	}
}

// HPECLIENTTYPE: HPE_CI_CLIENT goes on every request, sign-in included, as the
// SDK, the collection tool and the Azure DevOps extension send it; the setting
// changes it or, with "none", leaves it out.
func TestClientTypeOnEveryRequest(t *testing.T) {
	for _, tc := range []struct{ setting, want string }{
		{"", "HPE_CI_CLIENT"},
		{"octane-import-nightly", "octane-import-nightly"},
		{"none", ""},
		{"NONE", ""},
	} {
		t.Run("setting="+tc.setting, func(t *testing.T) {
			s := newStandIn(t, sandbox.Options{})
			cfg := s.config()
			cfg.ClientType = tc.setting
			c := s.client(cfg)
			ctx := ctxT(t)
			if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); err != nil {
				t.Fatal(err)
			}
			z, _ := encodeGzip(t, octane.ResultContext{}, octane.TestRun{Class: "C", Name: "n", Status: "Passed"})
			task, err := c.PostTestResults(ctx, z, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.WaitTask(ctx, task.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(ctx); err != nil {
				t.Fatal(err)
			}
			reqs := s.Requests()
			if len(reqs) < 5 || reqs[0].Path != "/authentication/sign_in" || reqs[len(reqs)-1].Path != "/authentication/sign_out" {
				t.Fatalf("requests %+v", reqs)
			}
			for _, r := range reqs {
				if r.ClientType != tc.want {
					t.Errorf("%s %s: HPECLIENTTYPE %q, want %q", r.Method, r.Path, r.ClientType, tc.want)
				}
			}
		})
	}
}

// testResultPosts returns the POSTs to test-results the stand-in saw.
func testResultPosts(s *standIn) []sandbox.Request {
	var out []sandbox.Request
	for _, r := range s.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/test-results") {
			out = append(out, r)
		}
	}
	return out
}

func compressionClient(t *testing.T, s *standIn, compression string, logs *bytes.Buffer) *octane.Client {
	t.Helper()
	cfg := s.config()
	cfg.Compression = compression
	cfg.Retry.MaxAttempts = 3
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return s.client(cfg)
}

// Test-results are compressed by default with the Content-Encoding the
// documentation gives for the public endpoint (application/gzip); "none"
// sends them plain; a server that refuses a compressed payload (415 or 400)
// gets it again uncompressed, and when that works, every later payload of
// that client goes uncompressed, said once in the log.
func TestCompression(t *testing.T) {
	payload := func(name string) []byte {
		z, _ := encodeGzip(t, octane.ResultContext{}, octane.TestRun{Class: "C", Name: name, Status: "Passed"})
		return z
	}
	encodings := func(reqs []sandbox.Request) string {
		var out []string
		for _, r := range reqs {
			out = append(out, fmt.Sprintf("%s:%d", cmp.Or(r.ContentEncoding, "plain"), r.Status))
		}
		return strings.Join(out, " ")
	}

	t.Run("default gzip", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		var logs bytes.Buffer
		c := compressionClient(t, s, "", &logs)
		sendOK(t, c, payload("a"))
		sendOK(t, c, payload("b"))
		if got := encodings(testResultPosts(s)); got != "application/gzip:202 application/gzip:202" {
			t.Fatalf("posts %s", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{RefuseCompressed: true})
		var logs bytes.Buffer
		c := compressionClient(t, s, "none", &logs)
		sendOK(t, c, payload("a"))
		if got := encodings(testResultPosts(s)); got != "plain:202" {
			t.Fatalf("posts %s", got)
		}
		if runs := s.Runs(); len(runs) != 1 || runs[0].Name != "a" {
			t.Fatalf("runs %+v", runs)
		}
	})
	for _, status := range []int{415, 400} {
		t.Run(fmt.Sprintf("fall back on %d", status), func(t *testing.T) {
			s := newStandIn(t, sandbox.Options{RefuseCompressed: true, RefuseCompressedStatus: status})
			var logs bytes.Buffer
			c := compressionClient(t, s, "gzip", &logs)
			first := sendOK(t, c, payload("a"))
			sendOK(t, c, payload("b"))
			sendOK(t, c, payload("c"))
			want := fmt.Sprintf("application/gzip:%d plain:202 plain:202 plain:202", status)
			if got := encodings(testResultPosts(s)); got != want {
				t.Fatalf("posts %s, want %s", got, want)
			}
			if len(s.Runs()) != 3 || len(s.Tasks()) != 3 || s.Tasks()[0].ID != first.ID {
				t.Fatalf("runs %d, tasks %+v", len(s.Runs()), s.Tasks())
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "uncompressed") {
				t.Fatalf("want one warning about sending uncompressed, got:\n%s", logs.String())
			}
			// Another client (another target) starts compressed again.
			var logs2 bytes.Buffer
			other := compressionClient(t, s, "", &logs2)
			sendOK(t, other, payload("d"))
			if got := encodings(testResultPosts(s)[4:]); got != want[:len(fmt.Sprintf("application/gzip:%d plain:202", status))] {
				t.Fatalf("second client posts %s", got)
			}
		})
	}
	t.Run("a payload refused plain too is an error, no fall-back", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		var logs bytes.Buffer
		c := compressionClient(t, s, "", &logs)
		bad := mustGzip(t, `<?xml version="1.0" encoding="UTF-8"?><test_result><test_runs><test_run name="x" status="Green" duration="1"/></test_runs></test_result>`)
		_, err := c.PostTestResults(ctxT(t), bad, false)
		var oe *octane.Error
		if !errors.As(err, &oe) || oe.Status != 400 || !strings.Contains(oe.Description, "Green") {
			t.Fatalf("err = %v", err)
		}
		sendOK(t, c, payload("good"))
		// The XSD refusal is answered 400 whether compressed or not: the
		// client tries the plain form once, then stays compressed.
		if got := encodings(testResultPosts(s)); got != "application/gzip:400 plain:400 application/gzip:202" {
			t.Fatalf("posts %s", got)
		}
		if strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("no fall-back expected:\n%s", logs.String())
		}
	})
}

// Task status: errorDetails may be any JSON value (the collection tool reads it
// with optString); it is rendered as text. An unknown status is polled like a
// running one up to Poll.MaxUnknown answers, then reported as the payload's
// failure with Octane's status and errorDetails.
func TestTaskStatusFidelity(t *testing.T) {
	s, c, logs := startStandIn(t, sandbox.Options{})
	ctx := ctxT(t)
	n := 0
	post := func(o sandbox.TaskOverride) octane.Task {
		t.Helper()
		n++
		s.OverrideNextTasks(1, o)
		z, _ := encodeGzip(t, octane.ResultContext{}, octane.TestRun{Class: "C", Name: fmt.Sprint("run ", n), Status: "Passed"})
		task, err := c.PostTestResults(ctx, z, false)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	for _, tc := range []struct {
		name    string
		details any
		want    string
	}{
		{"object", map[string]any{"code": "testbox.parse", "messages": []string{"line 3: bad", "line 9: worse"}}, `{"code":"testbox.parse","messages":["line 3: bad","line 9: worse"]}`},
		{"array", []any{"first", 2, nil}, `["first",2,null]`},
		{"number", 42, `42`},
		{"boolean", true, `true`},
		{"string", "release_ref id 7 not found", `release_ref id 7 not found`},
		{"null", nil, ``},
	} {
		task := post(sandbox.TaskOverride{Status: "failed", ErrorDetails: tc.details})
		done, err := c.WaitTask(ctx, task.ID)
		if err != nil || done.Status != octane.TaskFailed || done.ErrorDetails != tc.want {
			t.Errorf("%s errorDetails: task %+v, %v; want details %q", tc.name, done, err, tc.want)
		}
	}

	// An unknown status: not final for Poll.MaxUnknown polls (5 here), then the
	// payload's failure in Octane's words.
	task := post(sandbox.TaskOverride{Status: "Paused", ErrorDetails: map[string]any{"reason": "maintenance window"}})
	before := len(s.Requests())
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil {
		t.Fatalf("an unknown status must end as the payload's failure, not as an error: %v", err)
	}
	polls := len(s.Requests()) - before
	if done.Status != "paused" || done.Done() || done.Status == octane.TaskSuccess ||
		!strings.Contains(done.ErrorDetails, `{"reason":"maintenance window"}`) || !strings.Contains(done.ErrorDetails, `"paused"`) {
		t.Fatalf("task %+v", done)
	}
	if polls != 5 {
		t.Fatalf("%d polls, want 5 (Poll.MaxUnknown)", polls)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "paused") {
		t.Fatalf("no warning about the unknown status:\n%s", logs.String())
	}
	// Without errorDetails the message says what happened.
	task = post(sandbox.TaskOverride{Status: "archived"})
	done, err = c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != "archived" || !strings.Contains(done.ErrorDetails, `status "archived"`) || !strings.Contains(done.ErrorDetails, "5 polls") {
		t.Fatalf("task %+v, %v", done, err)
	}
	// No runs are stored for these tasks; the stand-in's own view agrees.
	if len(s.Runs()) != 0 {
		t.Fatalf("%d runs stored", len(s.Runs()))
	}
}

// A job that appears after its pipeline exists is added as the GitHub Actions
// integration adds one (shared/octane-clients.md §4): the pipeline's jobs are
// read through pipeline_nodes, a missing job is looked up by ci_id and server,
// and created with POST ci_jobs {name, ci_id, ci_server}, no pipeline field.
// Octane places it in the pipeline when a build of it names a build of the
// pipeline as its cause.
func TestJobJoinsExistingPipeline(t *testing.T) {
	s, c, _ := startStandIn(t, sandbox.Options{})
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "gha"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "main", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "main"}, {CIID: "main/unit", Name: "unit"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A job the server already has (outside any pipeline) is not created again.
	other, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "other", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	before := len(s.Requests())
	p.Jobs = append(p.Jobs, octane.Job{CIID: "main/e2e", Name: "e2e"}, octane.Job{CIID: "other", Name: "other"})
	got, err := c.EnsurePipeline(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || len(got.Jobs) != 4 {
		t.Fatalf("ensure with new jobs: %+v", got)
	}
	var posts []string
	for _, r := range s.Requests()[before:] {
		if r.Method == "POST" {
			posts = append(posts, r.Path[strings.LastIndex(r.Path, "/")+1:]+fmt.Sprint(":", r.Status))
		}
	}
	if strings.Join(posts, " ") != "ci_jobs:201" {
		t.Fatalf("POSTs %v: want one ci_jobs POST, for main/e2e only", posts)
	}
	jobs := map[string]string{}
	for _, j := range s.Jobs() {
		jobs[j.CIID] = j.PipelineID
	}
	if pid, ok := jobs["main/e2e"]; !ok || pid != "" || jobs["other"] != other.ID {
		t.Fatalf("jobs %v: main/e2e exists, in no pipeline yet; other stays in its own", jobs)
	}
	start := time.UnixMilli(1764000000000)
	for _, b := range []octane.Build{
		{ServerCIID: "gha", JobCIID: "main", BuildCIID: "9", Start: start, Duration: time.Minute, Result: "success"},
		{ServerCIID: "gha", JobCIID: "main/e2e", BuildCIID: "9.3", Start: start, Duration: time.Second, Result: "success",
			Causes: []octane.Cause{{JobCIID: "main", BuildCIID: "9"}}},
	} {
		if err := c.PutBuild(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range s.Jobs() {
		if j.CIID == "main/e2e" && j.PipelineID != p.ID {
			t.Fatalf("main/e2e after a build caused by the pipeline's root: pipeline %q, want %s", j.PipelineID, p.ID)
		}
	}
	if pl := s.Pipelines()[0]; strings.Join(pl.JobCIIDs, ",") != "main,main/unit,main/e2e" {
		t.Fatalf("pipeline jobs %v", pl.JobCIIDs)
	}
	// Once in the pipeline, ensuring it again posts nothing.
	before = len(s.Requests())
	if _, err := c.EnsurePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests()[before:] {
		if r.Method == "POST" {
			t.Fatalf("unexpected %s %s", r.Method, r.Path)
		}
	}
}

// An Octane before 16.2.100 cannot create a ci_job on its own: EnsurePipeline
// says so with a *JobRefusedError (errors.Is ErrJobRefused), and the job can
// then root a pipeline of its own, where its builds and results go.
func TestJobRefused(t *testing.T) {
	s, c, _ := startStandIn(t, sandbox.Options{NoCIJobCreate: true})
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "old"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "main", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "main"}, {CIID: "unit"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Jobs = append(p.Jobs, octane.Job{CIID: "late", Name: "late job"})
	got, err := c.EnsurePipeline(ctx, p)
	if !errors.Is(err, octane.ErrJobRefused) {
		t.Fatalf("err = %v, want ErrJobRefused", err)
	}
	var jr *octane.JobRefusedError
	if !errors.As(err, &jr) || len(jr.Jobs) != 1 || jr.Jobs[0].CIID != "late" || jr.Pipeline.ID != p.ID || len(jr.Pipeline.Jobs) != 2 {
		t.Fatalf("refusal %+v", jr)
	}
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 405 || !strings.Contains(err.Error(), `"late"`) || !strings.Contains(err.Error(), `"main"`) {
		t.Fatalf("the error should carry Octane's answer and name the job and the pipeline: %v", err)
	}
	if got.ID != p.ID || len(got.Jobs) != 2 {
		t.Fatalf("returned pipeline %+v: it exists and holds the jobs it had", got)
	}
	// The fall-back: the refused job roots a pipeline of its own.
	own, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "late job", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "late", Name: "late job"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutBuild(ctx, octane.Build{ServerCIID: "old", JobCIID: "late", BuildCIID: "1", Start: time.UnixMilli(1764000000000), Result: "success"}); err != nil {
		t.Fatal(err)
	}
	z, _ := encodeGzip(t, octane.ResultContext{Build: &octane.BuildRef{ServerID: "old", JobID: "late", BuildID: "1"}}, octane.TestRun{Class: "C", Name: "n", Status: "Passed"})
	sendOK(t, c, z)
	if runs := s.RunsFor("old", "late", "1"); len(runs) != 1 {
		t.Fatalf("%d runs linked to the late job's build", len(runs))
	}
	for _, j := range s.Jobs() {
		if j.CIID == "late" && j.PipelineID != own.ID {
			t.Fatalf("late job in pipeline %q, want %s", j.PipelineID, own.ID)
		}
	}
}

// Builds reach Octane either as PUT …/analytics/ci/builds (the default) or as
// CI events (PUT /internal-api/…/analytics/ci/events: the server info, then a
// started and a finished event with the original times, as the plugins send
// them); test results link to the build either way.
func TestBuildReporting(t *testing.T) {
	for _, tc := range []struct{ reporting, clientType, wantPath, wantVia string }{
		{"", "", "/api/shared_spaces/1001/workspaces/1002/analytics/ci/builds", "builds"},
		{"builds", "", "/api/shared_spaces/1001/workspaces/1002/analytics/ci/builds", "builds"},
		{"events", "", "/internal-api/shared_spaces/1001/analytics/ci/events", "events"},
		{"events", "none", "/internal-api/shared_spaces/1001/analytics/ci/events", "events"},
		{"EVENTS", "octane-import", "/internal-api/shared_spaces/1001/analytics/ci/events", "events"},
	} {
		t.Run(tc.reporting+"/"+tc.clientType, func(t *testing.T) {
			s := newStandIn(t, sandbox.Options{})
			cfg := s.config()
			cfg.BuildReporting, cfg.ClientType = tc.reporting, tc.clientType
			c := s.client(cfg)
			ctx := ctxT(t)
			srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "jenkins-7", Type: "jenkins", URL: "https://ci.example.com/"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "nightly", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "nightly"}, {CIID: "nightly/unit", Name: "unit"}}}); err != nil {
				t.Fatal(err)
			}
			start := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
			before := len(s.Requests())
			for _, b := range []octane.Build{
				{ServerCIID: "jenkins-7", JobCIID: "nightly", BuildCIID: "120", Name: "#120", Start: start, Status: "running"},
				{ServerCIID: "jenkins-7", JobCIID: "nightly/unit", BuildCIID: "120.1", Name: "unit #1", Start: start.Add(time.Minute), Duration: 95 * time.Second,
					Result: "unstable", Causes: []octane.Cause{{JobCIID: "nightly", BuildCIID: "120"}},
					Parameters: []octane.Parameter{{Name: "BRANCH", Value: "main"}, {Name: "DEBUG", Type: "boolean", Value: "true"}}},
				{ServerCIID: "jenkins-7", JobCIID: "nightly", BuildCIID: "120", Name: "#120", Start: start, Duration: 10 * time.Minute, Result: "failure"},
			} {
				if err := c.PutBuild(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range s.Requests()[before:] {
				if r.Path != tc.wantPath || r.Method != "PUT" || r.Status != 200 {
					t.Errorf("%s %s = %d, want PUT %s", r.Method, r.Path, r.Status, tc.wantPath)
				}
			}
			builds := s.Builds()
			if len(builds) != 2 {
				t.Fatalf("builds %+v", builds)
			}
			root, unit := builds[0], builds[1]
			if root.Via != tc.wantVia || root.Status != "finished" || root.Result != "failure" || root.StartTime != start.UnixMilli() || root.Duration != 600000 || root.Name != "#120" {
				t.Errorf("root build %+v", root)
			}
			if unit.Via != tc.wantVia || unit.StartTime != start.Add(time.Minute).UnixMilli() || unit.Duration != 95000 || unit.Result != "unstable" ||
				len(unit.Causes) != 1 || unit.Causes[0].JobCIID != "nightly" || unit.Causes[0].BuildCIID != "120" ||
				len(unit.Parameters) != 2 || unit.Parameters[1].Type != "boolean" || unit.Parameters[1].Value != "true" {
				t.Errorf("unit build %+v", unit)
			}
			z, _ := encodeGzip(t, octane.ResultContext{Build: &octane.BuildRef{ServerID: "jenkins-7", JobID: "nightly/unit", BuildID: "120.1"}},
				octane.TestRun{Package: "p", Class: "C", Name: "a", Status: "Passed"}, octane.TestRun{Package: "p", Class: "C", Name: "b", Status: "Failed"})
			sendOK(t, c, z)
			if runs := s.RunsFor("jenkins-7", "nightly/unit", "120.1"); len(runs) != 2 {
				t.Fatalf("%d runs linked to the build", len(runs))
			}
		})
	}
}
