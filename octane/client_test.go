package octane_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// These tests run each call of the client against the stand-in Octane
// (package sandbox) over real HTTP; see harness_test.go.

const smallPayload = `<?xml version="1.0" encoding="UTF-8"?>
<test_result>
  <test_runs>
    <test_run package="p" class="C" name="t" status="Passed" duration="2"/>
  </test_runs>
</test_result>
`

func TestNewValidates(t *testing.T) {
	ok := octane.Config{URL: "https://octane.example.com/ctx/", SharedSpace: "1001", Workspace: "1002", ClientID: "id", ClientSecret: "sec"}
	tests := []struct {
		name    string
		mod     func(*octane.Config)
		wantErr string
	}{
		{"valid", func(*octane.Config) {}, ""},
		{"user", func(c *octane.Config) { c.ClientID, c.ClientSecret, c.User, c.Password = "", "", "u", "p" }, ""},
		{"no url", func(c *octane.Config) { c.URL = "" }, "no Octane URL"},
		{"bad scheme", func(c *octane.Config) { c.URL = "ftp://x" }, "scheme must be http or https"},
		{"creds in url", func(c *octane.Config) { c.URL = "https://u:hunter2@x" }, "not in the URL"},
		{"space not numeric", func(c *octane.Config) { c.SharedSpace = "abc" }, "shared space id \"abc\""},
		{"no workspace", func(c *octane.Config) { c.Workspace = "" }, "no workspace id"},
		{"no creds", func(c *octane.Config) { c.ClientID, c.ClientSecret = "", "" }, "no credentials"},
		{"half key", func(c *octane.Config) { c.ClientSecret = "" }, "need both client_id and client_secret"},
		{"both", func(c *octane.Config) { c.User, c.Password = "u", "p" }, "choose one"},
		{"bad proxy", func(c *octane.Config) { c.Proxy = "ftp://u:hunter2@proxy:1" }, `proxy "ftp://u:[redacted]@proxy:1": unsupported scheme`},
		{"missing CA", func(c *octane.Config) { c.CAFile = "/nonexistent/ca.pem" }, "CA bundle"},
		{"compression none", func(c *octane.Config) { c.Compression = "none" }, ""},
		{"compression GZIP", func(c *octane.Config) { c.Compression = "GZIP" }, ""},
		{"build reporting events", func(c *octane.Config) { c.BuildReporting = "events" }, ""},
		{"build reporting bad", func(c *octane.Config) { c.BuildReporting = "pigeons" }, `build reporting "pigeons": must be builds or events`},
		{"compression brotli", func(c *octane.Config) { c.Compression = "brotli" }, `compression "brotli": must be gzip or none`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			cfg.Logger = slog.New(slog.DiscardHandler)
			_, err := octane.New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "sec\"") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"OCTANE_URL": "https://env", "OCTANE_SHARED_SPACE": "7", "OCTANE_WORKSPACE": "8",
		"OCTANE_CLIENT_ID": "envid", "OCTANE_CLIENT_SECRET": "envsecret", "OCTANE_USER": "envuser", "OCTANE_PASSWORD": "envpass",
	}
	lookup := testkit.LookupEnv(env)

	var c octane.Config
	c.ApplyEnv(lookup)
	if c.URL != "https://env" || c.SharedSpace != "7" || c.Workspace != "8" || c.ClientID != "envid" || c.ClientSecret != "envsecret" || c.User != "" {
		t.Fatalf("empty config from env: %+v (secret %q)", c, c.ClientSecret)
	}
	// Values already set win; a user in the config is not mixed with the env API key.
	c = octane.Config{URL: "https://flag", User: "flaguser", Password: "flagpass"}
	c.ApplyEnv(lookup)
	if c.URL != "https://flag" || c.ClientID != "" || c.User != "flaguser" || c.Password != "flagpass" {
		t.Fatalf("flags must win: %+v", c)
	}
	// Without an API key in env, the user/password pair is taken.
	delete(env, "OCTANE_CLIENT_ID")
	delete(env, "OCTANE_CLIENT_SECRET")
	c = octane.Config{}
	c.ApplyEnv(lookup)
	if c.User != "envuser" || c.Password != "envpass" {
		t.Fatalf("user from env: %+v", c)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	cfg := octane.Config{URL: "https://o", SharedSpace: "1", Workspace: "2", ClientID: "id", ClientSecret: testSecret, Password: testPass, Proxy: "http://pu:proxy-Pass-9@proxy:3128"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.String()) + logs.String()
	for _, secret := range []string{testSecret, testPass, "proxy-Pass-9"} {
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q printed:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "[redacted]") || !strings.Contains(out, `"client_id":"id"`) {
		t.Fatalf("redacted config should still show what is set:\n%s", out)
	}
}

// payloadNamed is smallPayload with another test name: another payload for
// Octane's dedup.
func payloadNamed(name string) string {
	return strings.Replace(smallPayload, `name="t"`, `name="`+name+`"`, 1)
}

func TestEnsureCIServer(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	ctx := ctxT(t)
	// Five servers another importer made before this client starts.
	other := s.client(s.config())
	var ids []string
	for i := range 5 {
		srv, err := other.EnsureCIServer(ctx, octane.CIServer{InstanceID: fmt.Sprintf("iid-%d", i), Name: fmt.Sprintf("srv %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, srv.ID)
	}
	c := s.client(s.config())
	creates := s.count("POST", "/ci_servers")

	// Found by its instance id: no create.
	got, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid-4", Name: "srv 4"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ids[4] || got.InstanceID != "iid-4" {
		t.Fatalf("found %+v, want id %s", got, ids[4])
	}
	if n := s.count("POST", "/ci_servers") - creates; n != 0 {
		t.Fatalf("%d creates for an existing server", n)
	}

	// Created when absent, with a name that needs query escaping.
	want := octane.CIServer{InstanceID: "new^(iid)\\x", Name: "Jenkins (main) ^", Type: "jenkins", URL: "https://ci"}
	got, err = c.EnsureCIServer(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.InstanceID != want.InstanceID || got.Name != want.Name || got.Type != "jenkins" || got.URL != "https://ci" {
		t.Fatalf("created %+v", got)
	}
	again, err := c.EnsureCIServer(ctx, want)
	if err != nil || again.ID != got.ID {
		t.Fatalf("second ensure = %+v, %v; want the same id %s", again, err, got.ID)
	}
	if n := s.count("POST", "/ci_servers") - creates; n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}
	if all := s.Servers(); len(all) != 6 || all[5] != (sandbox.CIServer{ID: got.ID, InstanceID: want.InstanceID, Name: want.Name, Type: "jenkins", URL: "https://ci"}) {
		t.Fatalf("the stand-in holds %+v", all)
	}
}

// anotherImporter runs fn on a second client of s when the stand-in receives
// the next request matching method and suffix, before serving it: another
// importer acting between this client's lookup and its create. The returned
// function waits for fn's error.
func anotherImporter(t *testing.T, s *standIn, method, suffix string, fn func(ctx context.Context, other *octane.Client) error) (wait func() error) {
	other := s.client(s.config())
	ctx := ctxT(t)
	done := make(chan error, 1)
	s.Inject(sandbox.Fault{Kind: sandbox.Hook, Method: method, Path: suffix, Hook: func() { done <- fn(ctx, other) }})
	return func() error {
		select {
		case err := <-done:
			return err
		default:
			return errors.New("the other importer never ran")
		}
	}
}

func TestEnsureCIServerRace(t *testing.T) {
	// Another importer creates the server between our query and our create:
	// the create collides (409 duplicate) and the client re-queries.
	s := newStandIn(t, sandbox.Options{})
	var theirs octane.CIServer
	wait := anotherImporter(t, s, "POST", "/ci_servers", func(ctx context.Context, other *octane.Client) (err error) {
		theirs, err = other.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid-race", Name: "shared"})
		return err
	})
	c := s.client(s.config())
	got, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid-race", Name: "shared"})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != theirs.ID || len(s.Servers()) != 1 {
		t.Fatalf("got %+v, want the other creator's %s (servers %+v)", got, theirs.ID, s.Servers())
	}

	// Same name, another instance id: a clear error, not a loop.
	_, err = c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid-other", Name: "shared"})
	if err == nil || !octane.IsDuplicate(err) || !strings.Contains(err.Error(), "taken by a ci_server with another instance_id") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsurePipeline(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	c := s.client(s.config())
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid", Name: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	p := octane.Pipeline{Name: "build-and-test", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "root", Name: "Root"}, {CIID: "unit", Name: "Unit"}}}
	got, err := c.EnsurePipeline(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.Name != p.Name || got.ServerID != srv.ID || len(got.Jobs) != 2 {
		t.Fatalf("created %+v", got)
	}
	pl := s.sentJSON("POST", "/pipelines")["data"].([]any)[0].(map[string]any)
	if pl["root_job_ci_id"] != "root" || fmt.Sprint(pl["ci_server"]) != fmt.Sprint(map[string]any{"type": "ci_server", "id": srv.ID}) {
		t.Fatalf("pipeline sent as %v", pl)
	}
	if jobs := pl["jobs"].([]any); len(jobs) != 2 || jobs[0].(map[string]any)["jobCiId"] != "root" {
		t.Fatalf("jobs sent as %v (root first)", pl["jobs"])
	}
	if stored := s.Pipelines(); len(stored) != 1 || stored[0].ID != got.ID || stored[0].RootJobCIID != "root" || stored[0].ServerID != srv.ID {
		t.Fatalf("the stand-in holds %+v", stored)
	}

	// Existing pipeline, one more job: only that job is added, as the GitHub
	// Actions integration adds one: a server reference, no pipeline field.
	p.Jobs = append(p.Jobs, octane.Job{CIID: "e2e", Name: "E2E"})
	got2, err := c.EnsurePipeline(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got2.ID != got.ID {
		t.Fatalf("second ensure made pipeline %s, want %s", got2.ID, got.ID)
	}
	sent := s.sentJSON("POST", "/ci_jobs")["data"].([]any)
	job := sent[0].(map[string]any)
	if _, has := job["pipeline"]; len(sent) != 1 || job["ci_id"] != "e2e" || has || fmt.Sprint(job["ci_server"]) != fmt.Sprint(map[string]any{"type": "ci_server", "id": srv.ID}) {
		t.Fatalf("ci_jobs sent as %v", sent)
	}
	jobs := s.Jobs()
	if last := jobs[len(jobs)-1]; len(jobs) != 3 || last.CIID != "e2e" || last.PipelineID != "" || last.ServerID != srv.ID {
		t.Fatalf("jobs now %+v", jobs)
	}
	// Complete pipeline: no write at all.
	before := s.count("POST", "")
	if _, err := c.EnsurePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	if after := s.count("POST", ""); after != before {
		t.Fatalf("%d writes for a complete pipeline", after-before)
	}
	if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "x", ServerID: srv.ID}); err == nil {
		t.Fatal("a pipeline without jobs must be refused")
	}
}

func TestPutBuild(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	c := s.client(s.config())
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid", Name: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in, as Octane, takes builds of jobs it knows only.
	if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "p", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "root"}, {CIID: "unit"}}}); err != nil {
		t.Fatal(err)
	}
	start := time.UnixMilli(1456679398786)
	b := octane.Build{ServerCIID: "iid", JobCIID: "unit", BuildCIID: "42", Start: start, Duration: 120490 * time.Millisecond, Result: "success",
		Parameters: []octane.Parameter{{Name: "branch", Value: "main"}}, Causes: []octane.Cause{{JobCIID: "root", BuildCIID: "42"}}}
	if err := c.PutBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := s.sentJSON("PUT", "/analytics/ci/builds")
	want := `map[buildCiId:42 buildName:42 causes:[map[buildCiId:42 jobCiId:root]] duration:120490 jobCiId:unit parameters:[map[name:branch type:string value:main]] result:success serverCiId:iid startTime:1.456679398786e+12 status:finished]`
	if fmt.Sprint(got) != want {
		t.Fatalf("build sent as\n%v\nwant\n%s", got, want)
	}
	// Running: no duration, result unavailable.
	if err := c.PutBuild(ctx, octane.Build{ServerCIID: "iid", JobCIID: "root", BuildCIID: "43", Start: start, Status: "running"}); err != nil {
		t.Fatal(err)
	}
	got = s.sentJSON("PUT", "/analytics/ci/builds")
	if _, has := got["duration"]; has || got["result"] != "unavailable" || got["status"] != "running" {
		t.Fatalf("running build sent as %v", got)
	}
	if stored := s.Builds(); len(stored) != 2 || stored[0].Duration != 120490 || stored[0].Result != "success" || stored[1].Status != "running" {
		t.Fatalf("the stand-in holds %+v", stored)
	}
	// Refused before sending.
	sent := len(s.Requests())
	for _, bad := range []octane.Build{
		{ServerCIID: "iid", JobCIID: "j", BuildCIID: "1", Result: "success"},                             // no start
		{ServerCIID: "iid", JobCIID: "j", BuildCIID: "1", Start: start},                                  // finished without result
		{ServerCIID: "iid", JobCIID: "j", BuildCIID: "1", Start: start, Result: "green"},                 // bad result
		{ServerCIID: "iid", JobCIID: "j", BuildCIID: "1", Start: start, Result: "success", Status: "ok"}, // bad status
	} {
		if err := c.PutBuild(ctx, bad); err == nil {
			t.Errorf("PutBuild(%+v) accepted", bad)
		}
	}
	if n := len(s.Requests()) - sent; n != 0 {
		t.Errorf("%d requests sent for builds refused before sending", n)
	}
	// Unknown server: a typed 404 with Octane's message. (The code is the
	// stand-in's, platform.entity_not_found: the real one is undocumented.)
	err = c.PutBuild(ctx, octane.Build{ServerCIID: "nope", JobCIID: "j", BuildCIID: "1", Start: start, Result: "success"})
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 404 || oe.Code != "platform.entity_not_found" || !strings.Contains(oe.Description, `"nope"`) || oe.Temporary {
		t.Fatalf("err = %#v", err)
	}
}

func TestTestResultsAndWait(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	c := s.client(s.config())
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), true)
	if err != nil {
		t.Fatal(err)
	}
	if task.ID == "" || task.Status != "queued" || task.Done() {
		t.Fatalf("task %+v", task)
	}
	h := s.last("POST", "/test-results").Header
	if h.Get("Content-Type") != "application/xml" || h.Get("Content-Encoding") != "application/gzip" {
		t.Fatalf("headers %v", h)
	}
	if n := s.count("POST", "/test-results"); n != 1 {
		t.Fatalf("%d posts", n)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != octane.TaskSuccess || !done.Done() || done.ID != task.ID {
		t.Fatalf("final task %+v", done)
	}
	// A failed task returns its details; WaitTask is not an error. (Octane
	// does not change a finished task: this is another payload's task.)
	s.FailNextTasks(1, "release_ref id 2147483647 not found")
	failing, err := c.PostTestResults(ctx, mustGzip(t, payloadNamed("fails")), false)
	if err != nil {
		t.Fatal(err)
	}
	done, err = c.WaitTask(ctx, failing.ID)
	if err != nil || done.Status != octane.TaskFailed || !strings.Contains(done.ErrorDetails, "not found") {
		t.Fatalf("failed task = %+v, %v", done, err)
	}
	sent := len(s.Requests())
	if _, err := c.PostTestResults(ctx, []byte(smallPayload), false); err == nil || len(s.Requests()) != sent {
		t.Fatal("plain XML must be refused before sending: the caller passes gzip bytes")
	}
	// 400 from the XSD check is permanent and says why.
	_, err = c.PostTestResults(ctx, mustGzip(t, "<nope/>"), false)
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 400 || oe.Code != "testbox.xml_validation_error" || octane.IsTemporary(err) {
		t.Fatalf("err = %v", err)
	}
	// WaitTask stops with the context.
	s.OverrideNextTasks(1, sandbox.TaskOverride{Status: sandbox.TaskRunning})
	stuck, err := c.PostTestResults(ctx, mustGzip(t, payloadNamed("stuck")), false)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := c.WaitTask(short, stuck.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTask on a stuck task = %v", err)
	}
}

func TestLostTestResultsResponseNoDuplicate(t *testing.T) {
	// The first POST reaches the server and is processed, then the connection
	// drops before the answer. The client sends the same bytes again; Octane's
	// hash dedup answers with the original task: one task, no duplicate runs.
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Method: "POST", Path: "/test-results", Kind: sandbox.DropAfterProcess})
	c := s.client(s.config())
	z := mustGzip(t, smallPayload)
	task, err := c.PostTestResults(ctxT(t), z, false)
	if err != nil {
		t.Fatal(err)
	}
	tasks := s.Tasks()
	if len(tasks) != 1 || tasks[0].Posts != 2 || len(s.Runs()) != 1 {
		t.Fatalf("tasks %+v, %d runs; want 1 task posted twice, 1 run", tasks, len(s.Runs()))
	}
	var payloads [][]byte
	for _, r := range s.wireRequests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/test-results") {
			payloads = append(payloads, r.Body)
		}
	}
	if len(payloads) != 2 || !bytes.Equal(payloads[0], payloads[1]) || !bytes.Equal(payloads[0], z) {
		t.Fatal("the resent payload differs from the first")
	}
	if task.ID != tasks[0].ID {
		t.Fatalf("task %s, want the original %s", task.ID, tasks[0].ID)
	}
}

func TestErrorClasses(t *testing.T) {
	html503 := "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n<body><h1>Service Temporarily Unavailable</h1>\n<p>The server is temporarily unable to service your request.</p></body></html>\n"
	tests := []struct {
		name      string
		status    int
		ctype     string
		body      string
		call      string // "get" (resendable) or "create"
		wantCode  string
		wantDesc  string
		wantCorr  string
		wantTemp  bool
		wantTries int
		wantItems int
	}{
		{"json 400", 400, "application/json", `{"error_code":"platform.illegal_field_value","correlation_id":"c1","description":"Field 'x' has an\nillegal value","stack_trace":"huge\ntrace"}`, "get", "platform.illegal_field_value", "Field 'x' has an illegal value", "c1", false, 1, 0},
		{"bulk 409 partial", 409, "application/json", `{"errors":[{"index":1,"entity_index":1,"error_code":"platform.duplicate_entity_error","description":"dup","correlation_id":"c2"},{"index":3,"error_code":"platform.illegal_field_value","description":"bad"}],"data":[{"id":"1"}],"total_count":1,"exceeds_total_count":false}`, "create", "platform.duplicate_entity_error", "dup", "c2", false, 1, 2},
		{"html 503 outage", 503, "text/html", html503, "get", "", "HTML page: 503 Service Temporarily Unavailable", "", true, 4, 0},
		{"html 500 with outage text", 500, "text/html; charset=iso-8859-1", html503, "get", "", "Service Temporarily Unavailable", "", true, 4, 0},
		{"415", 415, "application/json", `{"error_code":"platform.unsupported_media_type","description":"Content-Type not supported"}`, "get", "platform.unsupported_media_type", "Content-Type not supported", "", false, 1, 0},
		{"servlet message", 500, "application/json", `{"message":"{\"error_code\":\"platform.general_error\",\"description\":\"General error occurred\"}"}`, "get", "platform.general_error", "General error occurred", "", false, 1, 0},
		{"502 get retried", 502, "text/plain", "Bad Gateway", "get", "", "Bad Gateway", "", true, 4, 0},
		// A 502 leaves a create's outcome unknown: it is not resent blindly; the
		// client looks the entity up before each new try (3 rounds).
		{"502 create looked up before resending", 502, "text/plain", "Bad Gateway", "create", "", "Bad Gateway", "", true, 3, 0},
		{"503 create resent", 503, "application/json", `{"error_code":"testbox_queue_full","description":"queue full"}`, "create", "testbox_queue_full", "queue full", "", true, 4, 0},
		{"empty 404", 404, "", "", "get", "", "", "", false, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStandIn(t, sandbox.Options{})
			method := "GET"
			if tc.call == "create" {
				method = "POST"
			}
			// Every such request gets this answer: the status, the body and
			// the Content-Type (none when "") as a server or a proxy sends them.
			h := http.Header{}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			s.Inject(sandbox.Fault{Kind: sandbox.Reply, Method: method, Path: "/ci_servers", Times: 100, Code: tc.status, Header: h, Body: tc.body})
			c := s.client(s.config())
			_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "x"})
			var oe *octane.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *octane.Error", err)
			}
			if oe.Status != tc.status || oe.Code != tc.wantCode || !strings.Contains(oe.Description, tc.wantDesc) || oe.CorrelationID != tc.wantCorr || oe.Temporary != tc.wantTemp || len(oe.Items) != tc.wantItems {
				t.Fatalf("error %#v", oe)
			}
			if octane.IsTemporary(err) != tc.wantTemp {
				t.Fatalf("IsTemporary = %v", !tc.wantTemp)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n<") || strings.Contains(msg, "huge") || len(msg) > 600 {
				t.Fatalf("message not one clean line: %q", msg)
			}
			// A create that collided re-queries; count only the failing call.
			if n := s.count(method, "/ci_servers"); n != tc.wantTries && !(tc.call == "create" && oe.HasCode(octane.CodeDuplicateEntity)) {
				t.Fatalf("%d attempts, want %d", n, tc.wantTries)
			}
		})
	}
}

// signIns counts the sign-ins the stand-in accepted and those that arrived
// with a cookie.
func signIns(s *standIn) (accepted, withCookie int) {
	for _, r := range s.Requests() {
		if r.Path == "/authentication/sign_in" && r.Status == http.StatusOK {
			accepted++
		}
	}
	for _, r := range s.wireRequests() {
		if strings.HasSuffix(r.Path, "/authentication/sign_in") && r.Header.Get("Cookie") != "" {
			withCookie++
		}
	}
	return accepted, withCookie
}

func TestReSignInSingleFlight(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	// Sign-ins are slow, so that concurrent callers pile up.
	s.Inject(sandbox.Fault{Kind: sandbox.Latency, Method: "POST", Path: "/authentication/sign_in", Delay: 20 * time.Millisecond, Times: 100})
	c := s.client(s.config())
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	if err != nil {
		t.Fatal(err)
	}

	// Many goroutines sign in once together, then the session expires and they
	// all get a 401 at once: exactly one more sign-in, everyone replays.
	for round, wantSignIns := range []int{1, 2} {
		if round == 1 {
			s.ExpireSessionsAfter(0)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for range 40 {
			wg.Go(func() {
				if _, err := c.Task(ctx, task.ID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, withCookie := signIns(s)
		if n != wantSignIns {
			t.Fatalf("round %d: %d sign-ins, want %d", round, n, wantSignIns)
		}
		if withCookie != 0 {
			t.Fatalf("%d sign-ins were sent with a cookie", withCookie)
		}
	}

	// A server that keeps answering 401: one re-sign-in, one replay, then the 401.
	s.Inject(sandbox.Fault{Kind: sandbox.Status, Method: "GET", Path: "/test-results/" + task.ID, Code: http.StatusUnauthorized, Times: 100})
	before := s.count("GET", "")
	_, err = c.Task(ctx, task.ID)
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 401 || oe.Temporary {
		t.Fatalf("err = %v", err)
	}
	if got := s.count("GET", "") - before; got != 2 {
		t.Fatalf("%d GETs, want the request and one replay", got)
	}
	if n, _ := signIns(s); n != 3 {
		t.Fatalf("%d sign-ins, want 3", n)
	}
}

func TestBadCredentials(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	var logs bytes.Buffer
	cfg := s.config()
	cfg.ClientID, cfg.ClientSecret = "", ""
	cfg.User, cfg.Password = testUser, "wrong-"+testPass
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := s.client(cfg)
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "x"})
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 401 || !strings.Contains(err.Error(), "sign-in rejected for user \"alice@example.com\"") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error()+logs.String(), testPass) {
		t.Fatal("the password shows in the error or the logs")
	}
	if n, _ := signIns(s); n != 0 || s.count("POST", "/authentication/sign_in") != 1 {
		t.Fatal("a rejected sign-in must not be retried")
	}
}

func TestSecretsNeverInOutput(t *testing.T) {
	// Run every call, with failures, through a debug logger; a hostile server
	// echoes the secret in an error description.
	s := newStandIn(t, sandbox.Options{})
	var logs bytes.Buffer
	cfg := s.config()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Inject(sandbox.Fault{Kind: sandbox.Reply, Method: "GET", Path: "/pipelines", Code: 503, Header: jsonHeader,
		Body: errorJSON("platform.general_error", "could not check secret "+testSecret)})
	c := s.client(cfg)
	ctx := ctxT(t)
	var out []string
	record := func(err error) {
		if err != nil {
			out = append(out, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
	}
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid", Name: "srv"})
	record(err)
	_, err = c.EnsurePipeline(ctx, octane.Pipeline{Name: "p", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "root"}}})
	record(err)
	record(c.PutBuild(ctx, octane.Build{ServerCIID: "nope", JobCIID: "j", BuildCIID: "1", Start: time.Unix(1, 0), Result: "success"}))
	_, err = c.PostTestResults(ctx, mustGzip(t, "<bad/>"), false)
	record(err)
	s.ExpireSessionsAfter(0)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	record(err)
	_, err = c.WaitTask(ctx, task.ID)
	record(err)
	record(c.Close(ctx))
	all := strings.Join(out, "\n") + logs.String()
	if !strings.Contains(logs.String(), "temporary failure, retrying") {
		t.Fatalf("expected the retry to be logged:\n%s", logs.String())
	}
	for _, secret := range []string{testSecret, testPass} {
		if strings.Contains(all, secret) {
			t.Fatalf("secret %q in output:\n%s", secret, all)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	c := s.client(s.config()) // back-off is 1-5 ms: only Retry-After makes it wait
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	if err != nil {
		t.Fatal(err)
	}
	poll := "/test-results/" + task.ID
	s.Inject(sandbox.Fault{Kind: sandbox.Status, Method: "GET", Path: poll, Code: http.StatusTooManyRequests, RetryAfter: "1"})
	start := time.Now()
	if _, err := c.Task(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %s, Retry-After said 1s", waited)
	}
	if n := s.count("GET", poll); n != 2 {
		t.Fatalf("%d attempts", n)
	}

	// A Retry-After beyond the cap is cut to the cap.
	cfg := s.config()
	cfg.Retry.MaxRetryAfter = 10 * time.Millisecond
	c2 := s.client(cfg)
	s.Inject(sandbox.Fault{Kind: sandbox.Status, Method: "GET", Path: poll, Code: http.StatusServiceUnavailable,
		RetryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)})
	done := make(chan error, 1)
	go func() { _, err := c2.Task(ctx, task.ID); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an HTTP-date Retry-After of one hour was not capped")
	}
	if s.PendingFaults() != 0 {
		t.Fatal("the 503 was never answered")
	}
}

func TestConnectionDropped(t *testing.T) {
	t.Run("before the answer, GET is resent", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		s.Inject(sandbox.Fault{Kind: sandbox.DropBeforeBody, Method: "GET"})
		c := s.client(s.config())
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if s.PendingFaults() != 0 {
			t.Fatal("no GET was dropped")
		}
	})
	t.Run("in the middle of the body, GET is resent", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		s.Inject(sandbox.Fault{Kind: sandbox.DropMidAnswer, Method: "GET"})
		c := s.client(s.config())
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if s.count("GET", "") < 2 {
			t.Fatal("not resent")
		}
	})
	t.Run("after a create was processed, the create is not resent but looked up", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		s.Inject(sandbox.Fault{Kind: sandbox.DropAfterProcess, Method: "POST", Path: "/ci_servers"})
		c := s.client(s.config())
		got, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid", Name: "srv"})
		if err != nil {
			t.Fatal(err)
		}
		if n := s.count("POST", "/ci_servers"); n != 1 || got.ID == "" || len(s.Servers()) != 1 {
			t.Fatalf("%d creates, %d servers, got %+v", n, len(s.Servers()), got)
		}
	})
	t.Run("dial failure, a create is resent", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		cfg := s.config()
		var fails atomic.Int32
		cfg.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ci_servers") && fails.Add(1) <= 2 {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			}
			return http.DefaultTransport.RoundTrip(r)
		})
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if fails.Load() != 3 || len(s.Servers()) != 1 {
			t.Fatalf("%d attempts, %d servers", fails.Load(), len(s.Servers()))
		}
	})
	t.Run("request timeout, GET is resent", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		s.Inject(sandbox.Fault{Kind: sandbox.Latency, Method: "GET", Delay: 5 * time.Second})
		cfg := s.config()
		cfg.Timeout = 50 * time.Millisecond
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if s.count("GET", "") < 2 {
			t.Fatal("not resent")
		}
	})
}

func TestCancelDuringBackoff(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Kind: sandbox.Status, Path: "/ci_servers", Code: http.StatusServiceUnavailable, Times: 100})
	cfg := s.config()
	cfg.Retry = octane.RetryPolicy{MaxAttempts: 10, MinBackoff: time.Hour, MaxBackoff: time.Hour}
	backingOff := &signalWriter{match: "temporary failure, retrying", ch: make(chan struct{})}
	cfg.Logger = slog.New(slog.NewTextHandler(backingOff, nil))
	c := s.client(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); done <- err }()
	select {
	case <-backingOff.ch: // the client logged its retry and sleeps now
	case <-time.After(10 * time.Second):
		t.Fatal("no retry logged")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || octane.IsTemporary(err) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation did not stop the back-off")
	}
	if n := s.count("GET", "/ci_servers"); n != 1 {
		t.Fatalf("%d attempts", n)
	}
}

func TestConcurrencyBound(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Kind: sandbox.Latency, Delay: 5 * time.Millisecond, Times: 1000})
	cfg := s.config()
	cfg.Concurrency = 2
	c := s.client(cfg)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: fmt.Sprint("iid", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := s.maxInFlight.Load(); m != 2 {
		t.Fatalf("at most %d requests in flight, limit 2 (and 20 callers)", m)
	}
}

func TestRateLimit(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	cfg := s.config()
	cfg.RateLimit = 20
	c := s.client(cfg)
	ctx := ctxT(t)
	start := time.Now()
	for range 6 { // sign-in + 6 GETs = 7 requests at 20/s, burst 2: at least 250 ms
		if _, err := c.Task(ctx, "1"); err == nil {
			t.Fatal("task 1 should not exist")
		}
	}
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Fatalf("7 requests took %s at 20/s", d)
	}
}

// SetRateLimit paces the requests that follow, and RateLimit reads the limit back.
func TestSetRateLimit(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	cfg := s.config()
	cfg.RateLimit = -1
	c := s.client(cfg)
	if r := c.RateLimit(); r != -1 {
		t.Fatalf("RateLimit of an unlimited client: %g, want -1", r)
	}
	ctx := ctxT(t)
	if _, err := c.Task(ctx, "1"); err == nil { // signs in
		t.Fatal("task 1 should not exist")
	}
	c.SetRateLimit(20)
	if r := c.RateLimit(); r != 20 {
		t.Fatalf("RateLimit after SetRateLimit(20): %g", r)
	}
	start := time.Now()
	for range 7 { // 7 requests at 20/s, burst 2: at least 250 ms
		if _, err := c.Task(ctx, "1"); err == nil {
			t.Fatal("task 1 should not exist")
		}
	}
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Fatalf("7 requests took %s after SetRateLimit(20)", d)
	}
	for _, c2 := range []struct{ set, want float64 }{{6.5, 6.5}, {0, octane.DefaultRateLimit}, {-1, -1}, {40, 40}} {
		c.SetRateLimit(c2.set)
		if r := c.RateLimit(); r != c2.want {
			t.Errorf("RateLimit after SetRateLimit(%g): %g, want %g", c2.set, r, c2.want)
		}
	}
}

func TestSessionCookiesAndClose(t *testing.T) {
	// Octane under a web context path, renewing the session cookie on every
	// answer (sliding renewal): the client sends the newest value each time.
	s := serveStandIn(t, sandbox.Options{RotateCookie: true}, serveOptions{ContextPath: "/ctx"})
	cfg := s.config()
	cfg.URL = s.URL() + "/"
	cfg.ClientType = "HPE_CI_CLIENT"
	c := s.client(cfg)
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	}
	current, apiCalls, values := "", 0, map[string]bool{}
	for _, r := range s.wireRequests() {
		if strings.HasPrefix(r.Path, "/ctx/api/") {
			apiCalls++
			values[current] = true
			lw, err := (&http.Request{Header: r.Header}).Cookie("LWSSO_COOKIE_KEY")
			_, uerr := (&http.Request{Header: r.Header}).Cookie("OCTANE_USER")
			if err != nil || lw.Value != current || uerr != nil {
				t.Fatalf("request %d sent cookies %q; want LWSSO_COOKIE_KEY=%s (the newest) and OCTANE_USER", apiCalls, r.Header.Get("Cookie"), current)
			}
		}
		for _, ck := range r.SetCookies {
			if ck.Name == "LWSSO_COOKIE_KEY" && ck.MaxAge >= 0 {
				current = ck.Value
			}
		}
	}
	if apiCalls < 3 || len(values) != apiCalls {
		t.Fatalf("%d /api requests sent %d cookie values; want a new one each time", apiCalls, len(values))
	}
	for _, r := range s.Requests() {
		if r.ClientType != "HPE_CI_CLIENT" {
			t.Errorf("%s %s: HPECLIENTTYPE = %q", r.Method, r.Path, r.ClientType)
		}
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.count("POST", "/authentication/sign_out"); n != 1 || s.last("POST", "/authentication/sign_out").Path != "/ctx/authentication/sign_out" || s.SessionCount() != 0 {
		t.Fatalf("%d sign-outs, %d sessions left", n, s.SessionCount())
	}
	if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); !errors.Is(err, octane.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close without a session sends nothing.
	c2 := s.client(s.config())
	before := len(s.Requests())
	if err := c2.Close(ctx); err != nil || len(s.Requests()) != before {
		t.Fatalf("Close of an unused client: %v, %d requests", err, len(s.Requests())-before)
	}
}

func TestRedirectIsAnError(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Kind: sandbox.Reply, Code: http.StatusFound, Times: 100,
		Header: http.Header{"Location": {"https://sso.example.com/login?user=x"}}})
	c := s.client(s.config())
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err == nil || !strings.Contains(err.Error(), "redirected to https://sso.example.com/login") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTMLOn200(t *testing.T) {
	// A captive proxy answers 200 with a page: a clear error, not a JSON panic.
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Kind: sandbox.Reply, Path: "/ci_servers", Times: 100, Header: http.Header{"Content-Type": {"text/html"}},
		Body: "<html><head><title>Proxy login</title></head><body>" + strings.Repeat("x", 5000) + "</body></html>"})
	c := s.client(s.config())
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err == nil || !strings.Contains(err.Error(), "HTML page: Proxy login") || len(err.Error()) > 400 {
		t.Fatalf("err = %v", err)
	}
}

func TestBulkWritesInBatchesOf200(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	cfg := s.config()
	cfg.PageSize = 500
	c := s.client(cfg)
	ctx := ctxT(t)
	srv, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"})
	if err != nil {
		t.Fatal(err)
	}
	p := octane.Pipeline{Name: "big", ServerID: srv.ID, Jobs: []octane.Job{{CIID: "root"}}}
	if _, err := c.EnsurePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	for i := range 449 {
		p.Jobs = append(p.Jobs, octane.Job{CIID: fmt.Sprintf("job-%03d", i)})
	}
	if _, err := c.EnsurePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := s.count("POST", "/ci_jobs"); n != 3 {
		t.Fatalf("%d POST ci_jobs for 449 jobs, want 3 (200+200+49)", n)
	}
	if n := len(s.Jobs()); n != 450 {
		t.Fatalf("%d jobs", n)
	}
}

func TestEnsurePipelineRaceAndNameTaken(t *testing.T) {
	s := newStandIn(t, sandbox.Options{})
	c := s.client(s.config())
	ctx := ctxT(t)
	a, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Another importer creates the same pipeline between our query and our create.
	var theirs octane.Pipeline
	wait := anotherImporter(t, s, "POST", "/pipelines", func(ctx context.Context, other *octane.Client) (err error) {
		theirs, err = other.EnsurePipeline(ctx, octane.Pipeline{Name: "shared", ServerID: a.ID, Jobs: []octane.Job{{CIID: "root"}}})
		return err
	})
	p, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "shared", ServerID: a.ID, Jobs: []octane.Job{{CIID: "root"}}})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if err != nil || p.ID != theirs.ID || len(s.Pipelines()) != 1 {
		t.Fatalf("after the race: %+v, %v; want the other importer's %s", p, err, theirs.ID)
	}
	// Pipeline names are unique in the shared space: the same name on another server is a clear error.
	_, err = c.EnsurePipeline(ctx, octane.Pipeline{Name: "shared", ServerID: b.ID, Jobs: []octane.Job{{CIID: "root"}}})
	if !octane.IsDuplicate(err) || !strings.Contains(err.Error(), "the name is taken in the shared space") {
		t.Fatalf("err = %v", err)
	}
}

func TestNumericIDs(t *testing.T) {
	// Older servers send entity ids as JSON numbers. (Test-results task ids
	// are JSON numbers on every server, as the stand-in sends them.)
	s := newStandIn(t, sandbox.Options{})
	s.Inject(sandbox.Fault{Kind: sandbox.Reply, Method: "GET", Path: "/ci_servers", Header: jsonHeader,
		Body: `{"total_count":1,"data":[{"type":"ci_server","id":6005,"instance_id":"iid","name":"s"}]}`})
	c := s.client(s.config())
	srv, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err != nil || srv.ID != "6005" {
		t.Fatalf("%+v %v", srv, err)
	}
	task, err := c.PostTestResults(ctxT(t), mustGzip(t, smallPayload), false)
	if err != nil || len(s.Tasks()) != 1 || task.ID != s.Tasks()[0].ID {
		t.Fatalf("%+v %v; the stand-in holds %+v", task, err, s.Tasks())
	}
}
