package sandbox

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"golang.org/x/net/html"
)

// pageHost is the Host the golden tests ask for, so that the connection
// details on the pages do not depend on the port.
const pageHost = "sandbox.test:8080"

// fixedClock makes "updated …" on the pages reproducible.
func fixedClock(s *Server) {
	s.mu.Lock()
	s.clock = func() time.Time { return time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC) }
	s.mu.Unlock()
}

// testRun is one <test_run> of a payload.
type testRun struct {
	pkg, class, name, status string
	errType, errMsg, stack   string
	hasError                 bool
}

func (r testRun) xml() string {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	out := fmt.Sprintf(`<test_run package="%s" class="%s" name="%s" status="%s" duration="125" started="1700000000000"`,
		esc(r.pkg), esc(r.class), esc(r.name), esc(r.status))
	if !r.hasError {
		return out + "/>"
	}
	out += ">"
	out += `<error`
	if r.errType != "" {
		out += ` type="` + esc(r.errType) + `"`
	}
	out += ` message="` + esc(r.errMsg) + `">` + esc(r.stack) + `</error></test_run>`
	return out
}

func runsXML(runs ...testRun) string {
	var b strings.Builder
	for _, r := range runs {
		b.WriteString(r.xml())
	}
	return b.String()
}

// postRuns posts runs for a build (build "" posts them without a build) and
// fails unless the task succeeds.
func (c *client) postRuns(server, job, build string, runs ...testRun) {
	c.t.Helper()
	head := ""
	if build != "" {
		head = fmt.Sprintf(`<build server_id="%s" job_id="%s" build_id="%s"/>`, xmlAttr(server), xmlAttr(job), xmlAttr(build))
	}
	code, out := c.postXML(payload(head, runsXML(runs...)), "")
	if code != 202 {
		c.t.Fatalf("test-results = %d %v", code, out)
	}
	if st := c.waitTask(out["id"])["status"]; st != TaskSuccess {
		c.t.Fatalf("task %v = %v", out["id"], st)
	}
}

func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// hostile is text that must come out escaped wherever it is shown.
const hostile = `<script>alert(1)</script>"'&<b>`

// pageFixture fills a started sandbox through its API over HTTP: a server
// with a hostile name and one plain, a pipeline with a job whose ci id needs
// URL-escaping, five builds (one running, with parameters and causes), runs of
// every status with error messages of every shape, runs without a build and
// a failed task. Ids are deterministic: the store numbers in call order.
func pageFixture(t *testing.T) *client {
	t.Helper()
	c := signedIn(t, Options{})
	fixedClock(c.s)
	out := c.mustCall(201, "POST", c.ws("/ci_servers"), map[string]any{"data": []any{
		map[string]any{"name": "Jenkins " + hostile, "instance_id": "jenkins-1", "url": "http://ci.example/?a=1&b=<2>", "server_type": "jenkins"},
		map[string]any{"name": "my-laptop", "instance_id": "my-laptop", "server_type": "file"}}})
	jenkins, laptop := dataAt(t, out, 0)["id"].(string), dataAt(t, out, 1)["id"].(string)
	c.mustCall(201, "POST", c.ws("/pipelines"), map[string]any{"data": []any{
		map[string]any{"name": "payments " + hostile, "ci_server": map[string]any{"type": "ci_server", "id": jenkins}, "root_job_ci_id": "payments",
			"jobs": []any{map[string]any{"name": "Payments", "jobCiId": "payments"}, map[string]any{"name": "Unit tests & more", "jobCiId": "payments/unit tests"}}},
		map[string]any{"name": "nightly", "ci_server": map[string]any{"type": "ci_server", "id": laptop}, "root_job_ci_id": "nightly-smoke",
			"jobs": []any{map[string]any{"name": "nightly-smoke", "jobCiId": "nightly-smoke"}}}}})
	put := func(server, job, build string, extra map[string]any) {
		t.Helper()
		b := map[string]any{"serverCiId": server, "jobCiId": job, "buildCiId": build, "startTime": 1772000000000,
			"duration": 61000, "status": "finished", "result": "success"}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		c.mustCall(200, "PUT", c.ws("/analytics/ci/builds"), b)
	}
	put("jenkins-1", "payments/unit tests", "1041", map[string]any{"startTime": 1771000000000})
	put("jenkins-1", "payments/unit tests", "1042", map[string]any{"result": "failure", "buildName": "1042 " + hostile})
	put("jenkins-1", "payments", "77", map[string]any{"startTime": 1771999990000, "result": "unstable"})
	put("my-laptop", "nightly-smoke", "2026-03-01", map[string]any{"startTime": 1772100000000})
	put("my-laptop", "nightly-smoke", "2026-03-02", map[string]any{"startTime": 1772200000000, "status": "running",
		"result": "unavailable", "duration": nil})
	// A second PUT of 1042 (the last PUT's parameters and causes count).
	put("jenkins-1", "payments/unit tests", "1042", map[string]any{"result": "failure", "buildName": "1042 " + hostile,
		"parameters": []any{map[string]any{"name": "branch", "type": "string", "value": "main"},
			map[string]any{"name": "token", "type": "password", "value": "do-not-show"}},
		"causes": []any{map[string]any{"jobCiId": "payments", "buildCiId": "77", "type": "upstream"}}})

	c.postRuns("jenkins-1", "payments/unit tests", "1042",
		testRun{pkg: "com.acme.pay", class: "LedgerTest", name: "balances", status: "Passed"},
		testRun{pkg: "com.acme.pay", class: "LedgerTest", name: "rounding", status: "Failed", hasError: true,
			errType: "java.lang.AssertionError", errMsg: "expected 2 but was 3",
			stack: "java.lang.AssertionError: expected 2 but was 3\n\tat com.acme.pay.LedgerTest.rounding(LedgerTest.java:42)"},
		testRun{pkg: "com.acme.pay", class: "ApiTest", name: "skipped one", status: "Skipped"},
		testRun{pkg: "com.acme.pay", class: "ApiTest", name: "escapes " + hostile, status: "Failed", hasError: true,
			errMsg: "first line " + hostile + "\nsecond line </pre><script>alert(2)</script>", stack: "at " + hostile},
		testRun{pkg: "com.acme.pay", class: "ApiTest", name: "long message", status: "Failed", hasError: true,
			errMsg: strings.Repeat("0123456789", 30)},
		testRun{pkg: "com.acme.pay", class: "ApiTest", name: "planned", status: "Planned"},
		testRun{pkg: "com.acme.pay", class: "ApiTest", name: "refunds", status: "Passed"},
	)
	c.postRuns("jenkins-1", "payments/unit tests", "1041",
		testRun{pkg: "com.acme.pay", class: "LedgerTest", name: "balances", status: "Passed"})
	c.postRuns("my-laptop", "nightly-smoke", "2026-03-01",
		testRun{class: "Smoke", name: "login", status: "Passed"}, testRun{class: "Smoke", name: "search", status: "Passed"})
	c.postRuns("", "", "", testRun{class: "Orphan", name: "no build 1", status: "Passed"},
		testRun{class: "Orphan", name: "no build 2", status: "Failed", hasError: true, errMsg: "lost"})
	c.s.FailNextTasks(1, "Octane said no: "+hostile)
	code, res := c.postXML(payload("", runsXML(testRun{class: "X", name: "refused", status: "Passed"})), "")
	if code != 202 {
		t.Fatalf("post = %d %v", code, res)
	}
	c.waitTask(res["id"])
	return c
}

// getPage GETs a page as a browser would, with Host pageHost.
func (c *client) getPage(path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = pageHost
	req.Header.Set("Accept", "text/html")
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, string(b)
}

// buildID returns the ci_build id of a build.
func buildID(t testing.TB, s *Server, server, job, build string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.builds[buildKey{server, job, build}]
	if rec == nil {
		t.Fatalf("no build %s/%s/%s", server, job, build)
	}
	return rec.entity.id
}

func TestPagesGolden(t *testing.T) {
	c := pageFixture(t)
	failing := buildID(t, c.s, "jenkins-1", "payments/unit tests", "1042")
	empty := newClient(t, Options{SharedSpace: "7001", Workspace: "7002", Credentials: []Credential{{ID: "key 'one'", Secret: "s3cr3t $HOME 'x'"}}})
	fixedClock(empty.s)
	cases := []struct {
		name, path string
		c          *client
		code       int
		want       []string // in this order
		not        []string
	}{
		{name: "overview-empty", c: empty, path: "/", code: 200,
			want: []string{"Nothing imported yet", `<code id="conn-url">http://sandbox.test:8080</code>`, `<code id="conn-shared-space">7001</code>`,
				`<code id="conn-workspace">7002</code>`, `<code id="conn-client-id">key &#39;one&#39;</code>`,
				`<code id="conn-secret">s3cr3t $HOME &#39;x&#39;</code>`, `url: &#34;http://sandbox.test:8080&#34;`,
				`export OCTANE_CLIENT_SECRET=&#39;s3cr3t $HOME &#39;\&#39;&#39;x&#39;\&#39;&#39;&#39;`, "octane-import scan testdata/builds",
				"octane-import scan --sandbox testdata/builds"},
			not: []string{">none<", "Builds</h2>"}},
		{name: "overview", path: "/", code: 200,
			want: []string{"2 CI servers · 2 pipelines · 5 builds", "12 test runs", "2 without a build", "1 failed",
				"2026-03-02", "2026-03-01", "1042", "77", "1041", // newest first
				"Unit tests &amp; more", "Jenkins &lt;script&gt;"},
			not: []string{"<script>alert", "<b>"}},
		{name: "overview-failure", path: "/?status=failure", code: 200, want: []string{"1 build matching (5 in all).", "1042"}, not: []string{">77<", ">2026-03-01<"}},
		{name: "overview-text", path: "/?q=NIGHTLY", code: 200, want: []string{"2 builds matching, newest first (5 in all).", "2026-03-02", "2026-03-01"}, not: []string{">1042<"}},
		{name: "overview-job", path: "/?server=jenkins-1&job=payments%2Funit+tests", code: 200,
			want: []string{"Builds of job payments/unit tests on server jenkins-1.", "1042", "1041"}, not: []string{">77<"}},
		{name: "overview-more", path: "/?n=2", code: 200, want: []string{"Showing the newest 2 of 5 builds, newest first.", `href="/?n=5#b`, "Show 3 more"}},
		{name: "overview-bad-status", path: "/?status=passed", code: 400, want: []string{"Unknown status filter", "status=&#34;passed&#34; is not one of failure"}},
		{name: "overview-bad-n", path: "/?n=-3", code: 400, want: []string{"Bad list length"}},
		{name: "build", path: "/builds/" + failing, code: 200,
			want: []string{"Build <code>1042</code> 1042 &lt;script&gt;", "7 test runs: <span class=\"bad\">3 failed</span>, 1 skipped, 2 passed, 1 other",
				"upstream", "(hidden)",
				"rounding", "expected 2 but was 3", "java.lang.AssertionError", "escapes &lt;script&gt;", "first line &lt;script&gt;alert(1)&lt;/script&gt;",
				"long message", "planned", "skipped one", "balances", "refunds", // failures first, then Planned, Skipped, Passed
			},
			not: []string{"do-not-show", "<script>alert", "second line </pre>"}},
		{name: "build-failed", path: "/builds/" + failing + "?status=Failed", code: 200,
			want: []string{"3 test runs matching, failures first (7 in all).", "rounding"}, not: []string{"balances"}},
		{name: "build-text", path: "/builds/" + failing + "?q=ROUND", code: 200, want: []string{"1 test run matching (7 in all).", "rounding"}, not: []string{"balances"}},
		{name: "build-nomatch", path: "/builds/" + failing + "?q=zzz", code: 200, want: []string{"No test run matches the filter."}},
		{name: "build-more", path: "/builds/" + failing + "?n=2", code: 200, want: []string{"Showing the first 2 of 7 test runs, failures first.", "Show 5 more"}, not: []string{"balances"}},
		{name: "build-404", path: "/builds/999999", code: 404, want: []string{"No such build", "no build with id 999999"}},
		{name: "runs", path: "/runs", code: 200, want: []string{"12 test runs, newest first.", "no build 2", "no build 1", "login", "balances"}},
		{name: "runs-unlinked", path: "/runs?build=none", code: 200, want: []string{"Test runs without a build", "2 test runs, newest first.", "lost"}, not: []string{"login"}},
		{name: "runs-bad-build", path: "/runs?build=1042", code: 400, want: []string{"Bad build filter"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := c
			if tc.c != nil {
				cl = tc.c
			}
			res, page := cl.getPage(tc.path)
			if res.StatusCode != tc.code {
				t.Errorf("GET %s = %d, want %d", tc.path, res.StatusCode, tc.code)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			checkHTML(t, page)
			at := 0
			for _, w := range tc.want {
				i := strings.Index(page[at:], w)
				if i < 0 {
					if strings.Contains(page, w) {
						t.Errorf("%q is out of order", w)
					} else {
						t.Errorf("page lacks %q", w)
					}
					continue
				}
				at += i + len(w)
			}
			for _, n := range tc.not {
				if strings.Contains(page, n) {
					t.Errorf("page has %q", n)
				}
			}
			// The style and script are the same on every page: the golden
			// files hold the HTML around them.
			page = strings.Replace(page, pageCSS, "/* page.css */", 1)
			page = strings.Replace(page, pageJS, "/* page.js */", 1)
			testkit.Golden(t, filepath.Join("testdata", "page", tc.name+".html"), page)
		})
	}
}

// The HTML checker: html/template escapes, but it does not check the
// structure. These are the rules of the HTML standard the pages could break.
var (
	voidElements = set("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")
	// Elements that close an open <p> implicitly: inside a p they are a bug.
	notInP = set("address", "article", "aside", "details", "div", "dl", "fieldset", "footer", "form", "h1", "h2", "h3",
		"h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul")
	interactive = set("a", "button", "details", "input", "label", "select", "textarea")
	parents     = map[string][]string{
		"tr": {"thead", "tbody", "tfoot", "table"}, "td": {"tr"}, "th": {"tr"}, "thead": {"table"}, "tbody": {"table"},
		"li": {"ul", "ol"}, "option": {"select"}, "summary": {"details"}, "head": {"html"}, "body": {"html"},
		"title": {"head"}, "meta": {"head"}, "link": {"head"}, "style": {"head"},
	}
	once       = []string{"html", "head", "title", "body", "main"}
	entityRef  = regexp.MustCompile(`^&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#x[0-9a-fA-F]+);`)
	tableLevel = set("table", "thead", "tbody", "tr")
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// reporter is what checkHTML needs of a *testing.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is a reporter that keeps the errors (to test the checker).
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// checkHTML checks that page is a well-formed HTML document: a doctype,
// every non-void element closed in order, elements only where the content
// model allows them, unique ids, no duplicate attributes, character
// references only where meant, no script or style but the page's own, and
// no reference to anything outside the server.
func checkHTML(t reporter, page string) {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
		t.Errorf("the page does not start with <!DOCTYPE html>")
	}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	count := map[string]int{}
	where := func() string { return "/" + strings.Join(stack, "/") }
	offset := 0
	for {
		tt := z.Next()
		raw := string(z.Raw())
		start := offset
		offset += len(raw)
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Errorf("tokenizer: %v", z.Err())
			}
			if len(stack) > 0 {
				t.Errorf("unclosed at the end: %s", where())
			}
			for _, n := range once {
				if count[n] != 1 {
					t.Errorf("%d <%s> elements, want 1", count[n], n)
				}
			}
			if count["script"] != 1 || count["style"] != 1 {
				t.Errorf("%d scripts and %d styles, want the page's own one each", count["script"], count["style"])
			}
			return
		case html.TextToken:
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if parent == "script" || parent == "style" {
				continue
			}
			if tableLevel[parent] && strings.TrimSpace(raw) != "" {
				t.Errorf("text %q directly in <%s> at %s", raw, parent, where())
			}
			for i := strings.IndexByte(raw, '&'); i >= 0; {
				if !entityRef.MatchString(raw[i:]) {
					t.Errorf("bare & in text %q at %s", raw, where())
					break
				}
				j := strings.IndexByte(raw[i+1:], '&')
				if j < 0 {
					break
				}
				i += 1 + j
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			count[tag]++
			if tt == html.SelfClosingTagToken && !voidElements[tag] {
				t.Errorf("<%s/> is not a void element at %s", tag, where())
			}
			if ps, ok := parents[tag]; ok && (len(stack) == 0 || !slices.Contains(ps, stack[len(stack)-1])) {
				t.Errorf("<%s> in %s, want it in one of %v", tag, where(), ps)
			}
			for _, open := range stack {
				if open == "p" && notInP[tag] {
					t.Errorf("<%s> inside <p> at %s", tag, where())
				}
				if interactive[open] && interactive[tag] && !(open == "label" && (tag == "input" || tag == "select")) &&
					!(open == "details" && tag != "details") {
					t.Errorf("<%s> inside <%s> at %s", tag, open, where())
				}
			}
			seen := map[string]bool{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				key, val := string(k), string(v)
				if seen[key] {
					t.Errorf("<%s> repeats the attribute %s at %s", tag, key, where())
				}
				seen[key] = true
				if !strings.Contains(raw, key+`="`) && val != "" {
					t.Errorf("<%s %s> value is not quoted: %s", tag, key, raw)
				}
				switch key {
				case "id":
					if ids[val] {
						t.Errorf("duplicate id %q", val)
					}
					ids[val] = true
				case "href", "action":
					if !(strings.HasPrefix(val, "/") && !strings.HasPrefix(val, "//")) && val != "data:," {
						t.Errorf("<%s %s=%q> leaves the server (offset %d)", tag, key, val, start)
					}
				case "src", "srcset", "style", "background", "formaction":
					t.Errorf("<%s %s=%q>: the pages load nothing and use no inline style", tag, key, val)
				}
				if strings.HasPrefix(key, "on") {
					t.Errorf("<%s %s>: no inline event handlers (the CSP would block them)", tag, key)
				}
			}
			if tt == html.StartTagToken && !voidElements[tag] {
				stack = append(stack, tag)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if voidElements[tag] {
				t.Errorf("</%s>: a void element has no end tag", tag)
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tag {
				t.Errorf("</%s> closes nothing open at %s", tag, where())
				continue
			}
			stack = stack[:len(stack)-1]
		case html.DoctypeToken:
			if raw != "<!DOCTYPE html>" || start != 0 {
				t.Errorf("doctype %q at %d", raw, start)
			}
		case html.CommentToken:
			t.Errorf("comment %q: the template's comments must not reach the page", raw)
		}
	}
}

// TestCheckHTMLCatches shows that the checker fails on the mistakes it is for.
func TestCheckHTMLCatches(t *testing.T) {
	const head = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>x</title><style>a{}</style></head><body><main>"
	const foot = "</main><script>1</script></body></html>"
	bad := map[string]string{
		"unclosed":         "<div>",
		"misnested":        "<div><span></div></span>",
		"div in p":         "<p><div></div></p>",
		"td outside tr":    "<table><tbody><td>x</td></tbody></table>",
		"text in table":    "<table>oops</table>",
		"duplicate id":     `<i id="a"></i><i id="a"></i>`,
		"bare ampersand":   "a & b",
		"external link":    `<a href="https://example.com/">x</a>`,
		"inline handler":   `<i onclick="x()"></i>`,
		"image":            `<img src="/x.png">`,
		"second script":    "<script>2</script>",
		"link in link":     `<a href="/a"><a href="/b">x</a></a>`,
		"self-closing div": "<div/>",
		"comment":          "<!-- hi -->",
	}
	for name, body := range bad {
		r := &recorder{}
		checkHTML(r, head+body+foot)
		if len(r.errs) == 0 {
			t.Errorf("%s: checkHTML accepted %q", name, body)
		}
	}
	r := &recorder{}
	checkHTML(r, head+`<p>a &amp; b <a href="/x?a=1&amp;b=2">x</a></p><table><tbody><tr><td>1</td></tr></tbody></table>`+foot)
	if len(r.errs) > 0 {
		t.Errorf("checkHTML refused a good page: %v", r.errs)
	}
}

// TestPageLinksResolve follows every link of every page from the overview
// (and of the empty overview): each answers 200 with a well-formed page.
func TestPageLinksResolve(t *testing.T) {
	c := pageFixture(t)
	seen := map[string]bool{}
	queue := []string{"/"}
	for len(queue) > 0 && len(seen) < 300 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		res, page := c.getPage(p)
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", p, res.StatusCode)
			continue
		}
		t.Run(p, func(t *testing.T) { checkHTML(t, page) })
		z := html.NewTokenizer(strings.NewReader(page))
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			if tt != html.StartTagToken {
				continue
			}
			if name, _ := z.TagName(); string(name) != "a" {
				continue
			}
			for more := true; more; {
				var k, v []byte
				k, v, more = z.TagAttr()
				if string(k) == "href" {
					u, _, _ := strings.Cut(string(v), "#")
					if !seen[u] {
						queue = append(queue, u)
					}
				}
			}
		}
	}
	for _, must := range []string{"/runs", "/runs?build=none", "/?job=payments%2Funit+tests&server=jenkins-1"} {
		if !seen[must] {
			t.Errorf("no page links to %s", must)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d pages reached: %v", len(seen), seen)
	}
}

func TestPageMethodsAndHead(t *testing.T) {
	c := newClient(t, Options{})
	for _, p := range []string{"/", "/runs", "/builds/1"} {
		if res, b := c.do("POST", p, []byte("x"), "text/plain", nil); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" ||
			!bytes.Contains(b, []byte("POST "+p+": this page is read-only; it takes GET and HEAD")) {
			t.Errorf("POST %s = %d, Allow %q: %s", p, res.StatusCode, res.Header.Get("Allow"), b)
		}
	}
	res, body := c.do("HEAD", "/", nil, "", nil)
	if res.StatusCode != 200 || len(body) != 0 || res.ContentLength <= 0 {
		t.Errorf("HEAD / = %d, %d bytes, Content-Length %d", res.StatusCode, len(body), res.ContentLength)
	}
	// Paths that only look like pages stay the API's 404.
	for _, p := range []string{"/builds/", "/builds/x", "/runs/", "/index.html"} {
		res, b := c.do("GET", p, nil, "", nil)
		if res.StatusCode != 404 || !bytes.Contains(b, []byte("platform.not_found")) {
			t.Errorf("GET %s = %d %s", p, res.StatusCode, b)
		}
	}
}

// TestPageBoundsLists: a build with more runs than a page lists shows the
// first page and a "show more" link that lists the next; n never lists more
// than maxListed rows.
func TestPageBoundsLists(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	c.putBuild("unit", "7", nil)
	total := maxListed + 30
	runs := make([]testRun, total)
	for i := range runs {
		runs[i] = testRun{pkg: "p", class: "C", name: fmt.Sprintf("t%05d", i), status: "Passed"}
	}
	runs[total-1] = testRun{pkg: "p", class: "C", name: "the failure", status: "Failed", hasError: true, errMsg: "boom"}
	c.postRuns("iid-1", "unit", "7", runs...)
	id := buildID(t, c.s, "iid-1", "unit", "7")
	rows := func(page string) int { return strings.Count(page, `<tr id="r`) }

	_, page := c.getPage("/builds/" + id)
	if n := rows(page); n != runsPerPage {
		t.Errorf("first page lists %d runs, want %d", n, runsPerPage)
	}
	if !strings.Contains(page, "the failure") {
		t.Errorf("the one failure, stored last, is not on the first page")
	}
	more := regexp.MustCompile(`<a class="more" href="([^"]+)">Show (\d+) more</a>`).FindStringSubmatch(page)
	if more == nil || more[2] != fmt.Sprint(runsPerPage) {
		t.Fatalf("no show-more link for %d more: %v", runsPerPage, more)
	}
	_, page = c.getPage(html.UnescapeString(more[1]))
	if n := rows(page); n != 2*runsPerPage {
		t.Errorf("after show more: %d runs, want %d", n, 2*runsPerPage)
	}
	_, page = c.getPage("/builds/" + id + "?n=999999")
	if n := rows(page); n != maxListed || !strings.Contains(page, fmt.Sprintf("Showing the first %d of %d test runs", maxListed, total)) || strings.Contains(page, `class="more"`) {
		t.Errorf("n=999999 lists %d runs, want the cap %d and no show-more link", n, maxListed)
	}
	_, page = c.getPage("/runs")
	if n := rows(page); n != runsPerPage || !strings.Contains(page, ">the failure<") {
		t.Errorf("/runs lists %d runs (want %d) newest first", n, runsPerPage)
	}
}

// BenchmarkPages renders the pages of a sandbox that holds 200 builds of 100
// runs (5 failed each) and one build of 20,000 runs: 40,000 runs in all.
func BenchmarkPages(b *testing.B) {
	c := signedIn(b, Options{})
	c.seed()
	for i := range 200 {
		build := fmt.Sprint(i)
		c.putBuild("unit", build, map[string]any{"startTime": 1700000000000 + int64(i)*1000})
		runs := make([]testRun, 100)
		for j := range runs {
			runs[j] = testRun{pkg: "com.acme", class: fmt.Sprintf("C%d", j%10), name: fmt.Sprintf("test%03d", j), status: "Passed"}
			if j%20 == 0 {
				runs[j] = testRun{pkg: "com.acme", class: "C", name: fmt.Sprintf("fails%03d", j), status: "Failed", hasError: true,
					errType: "AssertionError", errMsg: "expected true", stack: "at com.acme.C.fails(C.java:1)"}
			}
		}
		c.postRuns("iid-1", "unit", build, runs...)
	}
	c.putBuild("root", "big", map[string]any{"startTime": 1800000000000})
	for k := range 10 {
		runs := make([]testRun, 2000)
		for j := range runs {
			runs[j] = testRun{pkg: "com.acme.big", class: fmt.Sprintf("B%d", j%50), name: fmt.Sprintf("t%d-%04d", k, j), status: "Passed"}
		}
		runs[k] = testRun{pkg: "com.acme.big", class: "B", name: fmt.Sprintf("broken%d", k), status: "Failed", hasError: true, errMsg: "boom"}
		c.postRuns("iid-1", "root", "big", runs...)
	}
	big := buildID(b, c.s, "iid-1", "root", "big")
	small := buildID(b, c.s, "iid-1", "unit", "100")
	for _, p := range []string{"/", "/?q=unit&status=failed-tests", "/builds/" + small, "/builds/" + big, "/builds/" + big + "?q=broken",
		"/runs", "/runs?q=fails&status=Failed"} {
		b.Run(p, func(b *testing.B) {
			req := httptest.NewRequest("GET", p, nil)
			var size int
			for b.Loop() {
				w := httptest.NewRecorder()
				c.s.route(w, req)
				if w.Code != 200 {
					b.Fatalf("GET %s = %d", p, w.Code)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size)/1024, "KiB/page")
		})
	}
}
