package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// client is a small test client: a cookie jar and helpers for the API.
type client struct {
	t    testing.TB
	s    *Server
	http *http.Client
	base string
}

func newClient(t testing.TB, opts Options) *client {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	jar, _ := cookiejar.New(nil)
	return &client{t: t, s: s, http: &http.Client{Jar: jar, Timeout: 20 * time.Second}, base: s.URL()}
}

// signedIn starts a server and signs in with the default API key.
func signedIn(t testing.TB, opts Options) *client {
	c := newClient(t, opts)
	c.signIn(`{"client_id":"sandbox-client","client_secret":"sandbox-secret"}`)
	return c
}

func (c *client) signIn(body string) {
	c.t.Helper()
	res, b := c.do("POST", "/authentication/sign_in", []byte(body), "application/json", nil)
	if res.StatusCode != 200 {
		c.t.Fatalf("sign_in = %d %s", res.StatusCode, b)
	}
}

func (c *client) ws(p string) string { return "/api/shared_spaces/1001/workspaces/1002" + p }

// do sends a request; contentType "" sends none.
func (c *client) do(method, path string, body []byte, contentType string, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	res, b, err := c.try(method, path, body, contentType, hdr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res, b
}

func (c *client) try(method, path string, body []byte, contentType string, hdr map[string]string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// call sends JSON (v marshalled unless it is a string) and decodes the answer.
func (c *client) call(method, path string, v any) (int, map[string]any) {
	c.t.Helper()
	var body []byte
	ct := ""
	if v != nil {
		ct = "application/json"
		if s, ok := v.(string); ok {
			body = []byte(s)
		} else {
			body, _ = json.Marshal(v)
		}
	}
	res, b := c.do(method, path, body, ct, nil)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s = %d, body not a JSON object: %q", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode, out
}

// mustCall is call that fails the test unless the status is want.
func (c *client) mustCall(want int, method, path string, v any) map[string]any {
	c.t.Helper()
	code, out := c.call(method, path, v)
	if code != want {
		c.t.Fatalf("%s %s = %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

func (c *client) postXML(xmlBody string, query string) (int, map[string]any) {
	c.t.Helper()
	path := c.ws("/test-results")
	if query != "" {
		path += "?" + query
	}
	res, b := c.do("POST", path, []byte(xmlBody), "application/xml", nil)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// seed creates a server "srv" (instance "iid-1") with pipeline "pipe" of jobs
// root and unit, and returns the server id.
func (c *client) seed() string {
	c.t.Helper()
	out := c.mustCall(201, "POST", c.ws("/ci_servers"), map[string]any{"data": []any{
		map[string]any{"name": "srv", "instance_id": "iid-1", "url": "http://ci.example", "server_type": "jenkins"}}})
	id := dataAt(c.t, out, 0)["id"].(string)
	c.mustCall(201, "POST", c.ws("/pipelines"), map[string]any{"data": []any{map[string]any{
		"name": "pipe", "ci_server": map[string]any{"type": "ci_server", "id": id}, "root_job_ci_id": "root",
		"jobs": []any{map[string]any{"name": "Root", "jobCiId": "root"}, map[string]any{"name": "Unit", "jobCiId": "unit"}}}}})
	return id
}

func (c *client) putBuild(job, build string, extra map[string]any) (int, map[string]any) {
	c.t.Helper()
	b := map[string]any{"serverCiId": "iid-1", "jobCiId": job, "buildCiId": build, "startTime": 1700000000000,
		"duration": 1000, "status": "finished", "result": "success"}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return c.call("PUT", c.ws("/analytics/ci/builds"), b)
}

// waitTask polls a task until it is terminal.
func (c *client) waitTask(id any) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := c.mustCall(200, "GET", c.ws(fmt.Sprintf("/test-results/%v", id)), nil)
		if terminal(out["status"].(string)) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("task %v still %v", id, out["status"])
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func dataAt(t testing.TB, out map[string]any, i int) map[string]any {
	t.Helper()
	data, ok := out["data"].([]any)
	if !ok || len(data) <= i {
		t.Fatalf("no data[%d] in %v", i, out)
	}
	return data[i].(map[string]any)
}

func errorCode(out map[string]any) string {
	s, _ := out["error_code"].(string)
	return s
}

func gz(t *testing.T, b []byte, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name = name // varies the gzip header, not the content
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// payload wraps runs (and optional header elements) in a test_result.
func payload(head, runs string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n<test_result>" + head + "<test_runs>" + runs + "</test_runs></test_result>"
}

const buildHead = `<build server_id="iid-1" job_id="unit" build_id="7"/>`

func run(name, status string) string {
	return fmt.Sprintf(`<test_run package="p" class="C" name=%q status=%q duration="5" started="1700000000000"/>`, name, status)
}

func contains2(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
