package octane_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/octane"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustGzip(t *testing.T, s string) []byte {
	t.Helper()
	z, err := octane.Gzip([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

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
		{"bad proxy", func(c *octane.Config) { c.Proxy = "ftp://proxy:1" }, "unsupported scheme"},
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
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

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
	cfg := octane.Config{URL: "https://o", SharedSpace: "1", Workspace: "2", ClientID: "id", ClientSecret: fakeSecret, Password: fakePass, Proxy: "http://pu:proxy-Pass-9@proxy:3128"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.String()) + logs.String()
	for _, secret := range []string{fakeSecret, fakePass, "proxy-Pass-9"} {
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q printed:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "[redacted]") || !strings.Contains(out, `"client_id":"id"`) {
		t.Fatalf("redacted config should still show what is set:\n%s", out)
	}
}

func TestEnsureCIServer(t *testing.T) {
	f := newFake(t)
	for i := range 5 {
		f.servers = append(f.servers, map[string]any{"id": fmt.Sprint(100 + i), "type": "ci_server", "name": fmt.Sprintf("srv %d", i), "instance_id": fmt.Sprintf("iid-%d", i)})
	}
	c := f.client(f.config())
	ctx := ctxT(t)

	// Found on the third page (PageSize 2): no create.
	got, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid-4", Name: "srv 4"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "104" || got.InstanceID != "iid-4" {
		t.Fatalf("found %+v", got)
	}
	if n := f.count("POST " + f.wsPrefix() + "ci_servers"); n != 0 {
		t.Fatalf("%d creates for an existing server", n)
	}

	// Created when absent, with a name that needs query escaping.
	s := octane.CIServer{InstanceID: "new^(iid)\\x", Name: "Jenkins (main) ^", Type: "jenkins", URL: "https://ci"}
	got, err = c.EnsureCIServer(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.InstanceID != s.InstanceID || got.Name != s.Name || got.Type != "jenkins" || got.URL != "https://ci" {
		t.Fatalf("created %+v", got)
	}
	again, err := c.EnsureCIServer(ctx, s)
	if err != nil || again.ID != got.ID {
		t.Fatalf("second ensure = %+v, %v; want the same id %s", again, err, got.ID)
	}
	if n := f.count("POST " + f.wsPrefix() + "ci_servers"); n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}
}

func TestEnsureCIServerRace(t *testing.T) {
	// Another importer creates the server between our query and our create:
	// the create collides (409 duplicate) and the client re-queries.
	f := newFake(t)
	var raced atomic.Bool
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ci_servers") && raced.CompareAndSwap(false, true) {
			f.mu.Lock()
			f.servers = append(f.servers, map[string]any{"id": "777", "name": "shared", "instance_id": "iid-race"})
			f.mu.Unlock()
		}
		return false
	})
	c := f.client(f.config())
	got, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid-race", Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "777" {
		t.Fatalf("got %+v, want the other creator's 777", got)
	}

	// Same name, another instance id: a clear error, not a loop.
	_, err = c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid-other", Name: "shared"})
	if err == nil || !octane.IsDuplicate(err) || !strings.Contains(err.Error(), "taken by a ci_server with another instance_id") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsurePipeline(t *testing.T) {
	f := newFake(t)
	c := f.client(f.config())
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
	f.mu.Lock()
	pl := f.pipelines[0]
	f.mu.Unlock()
	if pl["root_job_ci_id"] != "root" || fmt.Sprint(pl["ci_server"]) != fmt.Sprint(map[string]any{"type": "ci_server", "id": srv.ID}) {
		t.Fatalf("pipeline sent as %v", pl)
	}
	if jobs := pl["jobs"].([]any); len(jobs) != 2 || jobs[0].(map[string]any)["jobCiId"] != "root" {
		t.Fatalf("jobs sent as %v (root first)", pl["jobs"])
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
	f.mu.Lock()
	last := f.jobs[len(f.jobs)-1]
	njobs := len(f.jobs)
	f.mu.Unlock()
	if _, has := last["pipeline"]; njobs != 3 || last["ci_id"] != "e2e" || has || fmt.Sprint(last["ci_server"]) != fmt.Sprint(map[string]any{"type": "ci_server", "id": srv.ID}) {
		t.Fatalf("jobs now %d, last %v", njobs, last)
	}
	// Complete pipeline: no write at all.
	before := f.count("POST ")
	if _, err := c.EnsurePipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	if after := f.count("POST "); after != before {
		t.Fatalf("%d writes for a complete pipeline", after-before)
	}
	if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "x", ServerID: srv.ID}); err == nil {
		t.Fatal("a pipeline without jobs must be refused")
	}
}

func TestPutBuild(t *testing.T) {
	f := newFake(t)
	c := f.client(f.config())
	ctx := ctxT(t)
	if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid", Name: "srv"}); err != nil {
		t.Fatal(err)
	}
	start := time.UnixMilli(1456679398786)
	b := octane.Build{ServerCIID: "iid", JobCIID: "unit", BuildCIID: "42", Start: start, Duration: 120490 * time.Millisecond, Result: "success",
		Parameters: []octane.Parameter{{Name: "branch", Value: "main"}}, Causes: []octane.Cause{{JobCIID: "root", BuildCIID: "42"}}}
	if err := c.PutBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got := f.builds["iid/unit/42"]
	f.mu.Unlock()
	want := `map[buildCiId:42 buildName:42 causes:[map[buildCiId:42 jobCiId:root]] duration:120490 jobCiId:unit parameters:[map[name:branch type:string value:main]] result:success serverCiId:iid startTime:1.456679398786e+12 status:finished]`
	if fmt.Sprint(got) != want {
		t.Fatalf("build sent as\n%v\nwant\n%s", got, want)
	}
	// Running: no duration, result unavailable.
	if err := c.PutBuild(ctx, octane.Build{ServerCIID: "iid", JobCIID: "root", BuildCIID: "43", Start: start, Status: "running"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got = f.builds["iid/root/43"]
	f.mu.Unlock()
	if _, has := got["duration"]; has || got["result"] != "unavailable" || got["status"] != "running" {
		t.Fatalf("running build sent as %v", got)
	}
	// Refused before sending.
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
	// Unknown server: typed 404 with the server's message.
	err := c.PutBuild(ctx, octane.Build{ServerCIID: "nope", JobCIID: "j", BuildCIID: "1", Start: start, Result: "success"})
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 404 || oe.Code != "ci.unknown_server" || oe.Temporary {
		t.Fatalf("err = %#v", err)
	}
}

func TestTestResultsAndWait(t *testing.T) {
	f := newFake(t)
	c := f.client(f.config())
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), true)
	if err != nil {
		t.Fatal(err)
	}
	if task.ID == "" || task.Status != "queued" || task.Done() {
		t.Fatalf("task %+v", task)
	}
	f.mu.Lock()
	h := f.lastHeaders
	f.mu.Unlock()
	if h.Get("Content-Type") != "application/xml" || h.Get("Content-Encoding") != "application/gzip" {
		t.Fatalf("headers %v", h)
	}
	if n := f.count("POST " + f.wsPrefix() + "test-results"); n != 1 {
		t.Fatalf("%d posts", n)
	}
	done, err := c.WaitTask(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != octane.TaskSuccess || !done.Done() || done.ID != task.ID {
		t.Fatalf("final task %+v", done)
	}
	// A failed task returns its details; WaitTask is not an error.
	f.mu.Lock()
	f.taskStatus[task.ID] = []string{"running", "failed"}
	f.mu.Unlock()
	done, err = c.WaitTask(ctx, task.ID)
	if err != nil || done.Status != octane.TaskFailed || !strings.Contains(done.ErrorDetails, "not found") {
		t.Fatalf("failed task = %+v, %v", done, err)
	}
	if _, err := c.PostTestResults(ctx, []byte(smallPayload), false); err == nil {
		t.Fatal("plain XML must be refused: the caller passes gzip bytes")
	}
	// 400 from the XSD check is permanent and says why.
	_, err = c.PostTestResults(ctx, mustGzip(t, "<nope/>"), false)
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 400 || oe.Code != "testbox.xsd_validation" || octane.IsTemporary(err) {
		t.Fatalf("err = %v", err)
	}
	// WaitTask stops with the context.
	f.mu.Lock()
	f.taskStatus[task.ID] = []string{"running"}
	f.mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := c.WaitTask(short, task.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTask on a stuck task = %v", err)
	}
}

func TestLostTestResultsResponseNoDuplicate(t *testing.T) {
	// The first POST reaches the server and is processed, then the connection
	// drops before the answer. The client sends the same bytes again; Octane's
	// hash dedup answers with the original task: one task, no duplicate runs.
	f := newFake(t)
	var dropped atomic.Bool
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/test-results") && dropped.CompareAndSwap(false, true) {
			rec := &discardWriter{h: http.Header{}}
			f.setIntercept(nil)
			f.ServeHTTP(rec, r) // processed for real
			dropConnection(t, w)
			return true
		}
		return false
	})
	c := f.client(f.config())
	z := mustGzip(t, smallPayload)
	task, err := c.PostTestResults(ctxT(t), z, false)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taskPosts != 1 || len(f.payloads) != 2 {
		t.Fatalf("tasks created %d, payloads received %d; want 1 and 2", f.taskPosts, len(f.payloads))
	}
	if !bytes.Equal(f.payloads[0], f.payloads[1]) || !bytes.Equal(f.payloads[0], z) {
		t.Fatal("the resent payload differs from the first")
	}
	if task.ID != f.tasks[sha(smallPayload)] {
		t.Fatalf("task %s, want the original %s", task.ID, f.tasks[sha(smallPayload)])
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }

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
			f := newFake(t)
			f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/ci_servers") {
					if tc.ctype != "" {
						w.Header().Set("Content-Type", tc.ctype)
					}
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
					return true
				}
				return false
			})
			c := f.client(f.config())
			var err error
			if tc.call == "get" {
				_, err = c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "x"})
			} else {
				f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/ci_servers") {
						w.Header().Set("Content-Type", tc.ctype)
						w.WriteHeader(tc.status)
						_, _ = io.WriteString(w, tc.body)
						return true
					}
					return false
				})
				_, err = c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "x"})
			}
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
			method := "GET "
			if tc.call == "create" {
				method = "POST "
			}
			// A create that collided re-queries; count only the failing call.
			if n := f.count(method + f.wsPrefix() + "ci_servers"); n != tc.wantTries && !(tc.call == "create" && oe.HasCode(octane.CodeDuplicateEntity)) {
				t.Fatalf("%d attempts, want %d", n, tc.wantTries)
			}
		})
	}
}

func TestReSignInSingleFlight(t *testing.T) {
	f := newFake(t)
	f.signInDelay = 20 * time.Millisecond
	c := f.client(f.config())
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.taskStatus[task.ID] = []string{"running"}
	f.mu.Unlock()

	// Many goroutines sign in once together, then the session expires and they
	// all get a 401 at once: exactly one more sign-in, everyone replays.
	for round, wantSignIns := range []int{1, 2} {
		if round == 1 {
			f.expireSessions()
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
		f.mu.Lock()
		n, withCookie := f.signIns, f.signInCookies
		f.mu.Unlock()
		if n != wantSignIns {
			t.Fatalf("round %d: %d sign-ins, want %d", round, n, wantSignIns)
		}
		if withCookie != 0 {
			t.Fatalf("%d sign-ins were sent with a cookie", withCookie)
		}
	}

	// A server that keeps answering 401: one re-sign-in, one replay, then the 401.
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/test-results/") {
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	})
	before := f.count("GET ")
	_, err = c.Task(ctx, task.ID)
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 401 || oe.Temporary {
		t.Fatalf("err = %v", err)
	}
	if got := f.count("GET ") - before; got != 2 {
		t.Fatalf("%d GETs, want the request and one replay", got)
	}
	if f.signIns != 3 {
		t.Fatalf("%d sign-ins, want 3", f.signIns)
	}
}

func TestBadCredentials(t *testing.T) {
	f := newFake(t)
	var logs bytes.Buffer
	cfg := f.config()
	cfg.ClientID, cfg.ClientSecret = "", ""
	cfg.User, cfg.Password = fakeUser, "wrong-"+fakePass
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := f.client(cfg)
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "x"})
	var oe *octane.Error
	if !errors.As(err, &oe) || oe.Status != 401 || !strings.Contains(err.Error(), "sign-in rejected for user \"alice@example.com\"") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error()+logs.String(), fakePass) {
		t.Fatal("the password shows in the error or the logs")
	}
	if f.signIns != 0 || f.count("POST /authentication/sign_in") != 1 {
		t.Fatal("a rejected sign-in must not be retried")
	}
}

func TestSecretsNeverInOutput(t *testing.T) {
	// Run every call, with failures, through a debug logger; a hostile server
	// echoes the secret in an error description.
	f := newFake(t)
	var logs bytes.Buffer
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var n atomic.Int32
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/pipelines") && n.Add(1) == 1 {
			writeJSON(w, 503, errBody("platform.general_error", "could not check secret "+fakeSecret))
			return true
		}
		return false
	})
	c := f.client(cfg)
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
	f.expireSessions()
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	record(err)
	_, err = c.WaitTask(ctx, task.ID)
	record(err)
	record(c.Close(ctx))
	all := strings.Join(out, "\n") + logs.String()
	if !strings.Contains(logs.String(), "temporary failure, retrying") {
		t.Fatalf("expected the retry to be logged:\n%s", logs.String())
	}
	for _, s := range []string{fakeSecret, fakePass} {
		if strings.Contains(all, s) {
			t.Fatalf("secret %q in output:\n%s", s, all)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	f := newFake(t)
	var n atomic.Int32
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/test-results/") && n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, errBody("platform.too_many_requests", "slow down"))
			return true
		}
		return false
	})
	c := f.client(f.config()) // back-off is 1-5 ms: only Retry-After makes it wait
	ctx := ctxT(t)
	task, err := c.PostTestResults(ctx, mustGzip(t, smallPayload), false)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Task(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %s, Retry-After said 1s", waited)
	}
	if n.Load() != 2 {
		t.Fatalf("%d attempts", n.Load())
	}

	// A Retry-After beyond the cap is cut to the cap.
	cfg := f.config()
	cfg.Retry.MaxRetryAfter = 10 * time.Millisecond
	c2 := f.client(cfg)
	n.Store(0)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/test-results/") && n.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
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
}

func TestConnectionDropped(t *testing.T) {
	t.Run("before the answer, GET is resent", func(t *testing.T) {
		f := newFake(t)
		var n atomic.Int32
		f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && n.Add(1) == 1 {
				dropConnection(t, w)
				return true
			}
			return false
		})
		c := f.client(f.config())
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("in the middle of the body, GET is resent", func(t *testing.T) {
		f := newFake(t)
		var n atomic.Int32
		f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && n.Add(1) == 1 {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "500")
				w.WriteHeader(200)
				_, _ = io.WriteString(w, `{"total_count":1,"data":[{"id":`)
				w.(http.Flusher).Flush()
				dropConnection(t, w)
				return true
			}
			return false
		})
		c := f.client(f.config())
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if n.Load() < 2 {
			t.Fatal("not resent")
		}
	})
	t.Run("after a create was processed, the create is not resent but looked up", func(t *testing.T) {
		f := newFake(t)
		var dropped atomic.Bool
		f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ci_servers") && dropped.CompareAndSwap(false, true) {
				f.create(&discardWriter{h: http.Header{}}, r, "ci_servers")
				dropConnection(t, w)
				return true
			}
			return false
		})
		c := f.client(f.config())
		got, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid", Name: "srv"})
		if err != nil {
			t.Fatal(err)
		}
		if n := f.count("POST " + f.wsPrefix() + "ci_servers"); n != 1 || got.ID == "" || len(f.servers) != 1 {
			t.Fatalf("%d creates, %d servers, got %+v", n, len(f.servers), got)
		}
	})
	t.Run("dial failure, a create is resent", func(t *testing.T) {
		f := newFake(t)
		cfg := f.config()
		var fails atomic.Int32
		cfg.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ci_servers") && fails.Add(1) <= 2 {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			}
			return http.DefaultTransport.RoundTrip(r)
		})
		c := f.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if fails.Load() != 3 || len(f.servers) != 1 {
			t.Fatalf("%d attempts, %d servers", fails.Load(), len(f.servers))
		}
	})
	t.Run("request timeout, GET is resent", func(t *testing.T) {
		f := newFake(t)
		var n atomic.Int32
		f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && n.Add(1) == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return true
			}
			return false
		})
		cfg := f.config()
		cfg.Timeout = 50 * time.Millisecond
		c := f.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCancelDuringBackoff(t *testing.T) {
	f := newFake(t)
	var n atomic.Int32
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/ci_servers") {
			n.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	cfg := f.config()
	cfg.Retry = octane.RetryPolicy{MaxAttempts: 10, MinBackoff: time.Hour, MaxBackoff: time.Hour}
	backingOff := &signalWriter{match: "temporary failure, retrying", ch: make(chan struct{})}
	cfg.Logger = slog.New(slog.NewTextHandler(backingOff, nil))
	c := f.client(cfg)
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
	if n.Load() != 1 {
		t.Fatalf("%d attempts", n.Load())
	}
}

func TestConcurrencyBound(t *testing.T) {
	f := newFake(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		time.Sleep(5 * time.Millisecond)
		return false
	})
	cfg := f.config()
	cfg.Concurrency = 2
	c := f.client(cfg)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: fmt.Sprint("iid", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := atomic.LoadInt32(&f.maxInFlight); m > 2 {
		t.Fatalf("%d requests in flight, limit 2", m)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFake(t)
	cfg := f.config()
	cfg.RateLimit = 20
	c := f.client(cfg)
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

func TestSessionCookiesAndClose(t *testing.T) {
	f := newFake(t)
	var rotated atomic.Bool
	var seen []string
	var mu sync.Mutex
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		// The base URL carries a web context path: strip it, serve as usual.
		if !strings.HasPrefix(r.URL.Path, "/ctx/") {
			t.Errorf("request outside the context path: %s", r.URL.Path)
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/ctx")
		if strings.HasPrefix(r.URL.Path, "/api") {
			ck, _ := r.Cookie("LWSSO_COOKIE_KEY")
			u, _ := r.Cookie("OCTANE_USER")
			mu.Lock()
			seen = append(seen, fmt.Sprint(ck.Value, "+", u != nil))
			mu.Unlock()
			if r.Header.Get("HPECLIENTTYPE") != "HPE_CI_CLIENT" {
				t.Errorf("HPECLIENTTYPE = %q", r.Header.Get("HPECLIENTTYPE"))
			}
			if rotated.CompareAndSwap(false, true) {
				// Sliding renewal: a new LWSSO value on an ordinary response.
				f.mu.Lock()
				f.sessions["renewed"] = true
				f.mu.Unlock()
				http.SetCookie(w, &http.Cookie{Name: "LWSSO_COOKIE_KEY", Value: "renewed", Path: "/"})
			}
		}
		return false
	})
	cfg := f.config()
	cfg.URL = f.srv.URL + "/ctx/"
	cfg.ClientType = "HPE_CI_CLIENT"
	c := f.client(cfg)
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if len(seen) < 3 || seen[0] != "tok1+true" || seen[len(seen)-1] != "renewed+true" {
		t.Fatalf("cookies sent: %v", seen)
	}
	mu.Unlock()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.signOuts != 1 || f.count("POST /ctx/authentication/sign_out") != 1 {
		t.Fatalf("%d sign-outs", f.signOuts)
	}
	if _, err := c.EnsureCIServer(ctx, octane.CIServer{InstanceID: "iid"}); !errors.Is(err, octane.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close without a session sends nothing.
	f.setIntercept(nil)
	c2 := f.client(f.config())
	before := f.count("")
	if err := c2.Close(ctx); err != nil || f.count("") != before {
		t.Fatalf("Close of an unused client: %v, %d requests", err, f.count("")-before)
	}
}

func TestRedirectIsAnError(t *testing.T) {
	f := newFake(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, "https://sso.example.com/login?user=x", http.StatusFound)
		return true
	})
	c := f.client(f.config())
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err == nil || !strings.Contains(err.Error(), "redirected to https://sso.example.com/login") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTMLOn200(t *testing.T) {
	// A captive proxy answers 200 with a page: a clear error, not a JSON panic.
	f := newFake(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/api") {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><head><title>Proxy login</title></head><body>"+strings.Repeat("x", 5000)+"</body></html>")
			return true
		}
		return false
	})
	c := f.client(f.config())
	_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err == nil || !strings.Contains(err.Error(), "HTML page: Proxy login") || len(err.Error()) > 400 {
		t.Fatalf("err = %v", err)
	}
}

func TestBulkWritesInBatchesOf200(t *testing.T) {
	f := newFake(t)
	cfg := f.config()
	cfg.PageSize = 500
	c := f.client(cfg)
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
	if n := f.count("POST " + f.wsPrefix() + "ci_jobs"); n != 3 {
		t.Fatalf("%d POST ci_jobs for 449 jobs, want 3 (200+200+49)", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.jobs) != 450 {
		t.Fatalf("%d jobs", len(f.jobs))
	}
}

func TestEnsurePipelineRaceAndNameTaken(t *testing.T) {
	f := newFake(t)
	c := f.client(f.config())
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
	var raced atomic.Bool
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pipelines") && raced.CompareAndSwap(false, true) {
			f.mu.Lock()
			f.pipelines = append(f.pipelines, map[string]any{"id": "900", "name": "shared", "ci_server": map[string]any{"type": "ci_server", "id": a.ID}, "root_job_ci_id": "root"})
			f.jobs = append(f.jobs, map[string]any{"id": "901", "ci_id": "root", "pipeline": map[string]any{"type": "pipeline", "id": "900"}})
			f.mu.Unlock()
		}
		return false
	})
	p, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: "shared", ServerID: a.ID, Jobs: []octane.Job{{CIID: "root"}}})
	if err != nil || p.ID != "900" {
		t.Fatalf("after the race: %+v, %v", p, err)
	}
	// Pipeline names are unique in the shared space: the same name on another server is a clear error.
	_, err = c.EnsurePipeline(ctx, octane.Pipeline{Name: "shared", ServerID: b.ID, Jobs: []octane.Job{{CIID: "root"}}})
	if !octane.IsDuplicate(err) || !strings.Contains(err.Error(), "the name is taken in the shared space") {
		t.Fatalf("err = %v", err)
	}
}

func TestNumericIDs(t *testing.T) {
	// Older servers send ids as JSON numbers.
	f := newFake(t)
	f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/ci_servers"):
			_, _ = io.WriteString(w, `{"total_count":1,"data":[{"type":"ci_server","id":6005,"instance_id":"iid","name":"s"}]}`)
			return true
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/test-results"):
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"queued","id":1103}`)
			return true
		}
		return false
	})
	c := f.client(f.config())
	s, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
	if err != nil || s.ID != "6005" {
		t.Fatalf("%+v %v", s, err)
	}
	task, err := c.PostTestResults(ctxT(t), mustGzip(t, smallPayload), false)
	if err != nil || task.ID != "1103" {
		t.Fatalf("%+v %v", task, err)
	}
}

// signalWriter closes ch the first time a log line contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.match) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(b), nil
}
