package octane_test

import (
	"bytes"
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
	task, err := c.PostTestResults(ctx, z, false)
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != octane.TaskSuccess {
		t.Fatalf("task %+v, %v", done, err)
	}
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
	task, err = c.PostTestResults(ctx, mustGzip(t, raw), true)
	if err != nil {
		t.Fatal(err)
	}
	done, err = c.WaitTask(ctx, task.ID)
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
			s, err := sandbox.Start(sandbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			cred := s.Options().Credentials[0]
			c, err := octane.New(octane.Config{URL: s.URL(), SharedSpace: "1001", Workspace: "1002", ClientID: cred.ID, ClientSecret: cred.Secret,
				ClientType: tc.setting, RateLimit: -1, Poll: octane.PollPolicy{Min: time.Millisecond, Max: 5 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
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
