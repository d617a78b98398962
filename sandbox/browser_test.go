package sandbox

// The pages in a real browser: Debian's chromium, headless, driven over the
// DevTools protocol by chromedp. Reading the HTML (page_test.go) cannot show
// that a click leads where it should, that the script runs under the page's
// Content-Security-Policy, or that a refresh keeps the reader's place.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/octane-import/octane-import/internal/testkit"
)

// browser is one headless chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string // console errors and uncaught exceptions
}

// chromiumPath finds the browser: $CHROMIUM, or chromium on the PATH.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser starts chromium for one test. Without chromium the test is
// skipped, unless CI is set: CI installs it (.ci/run), so there its absence
// is a failure, not a reason to pass.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		testkit.Missing(t, "chromium is not installed (apt-get install -y chromium)")
	}
	// The flags keep chromium off the network: without them it stalls on a
	// machine with no internet.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel() // waits for chromium to exit, before t.TempDir is removed
	})
	b := &browser{t: t, ctx: ctx}
	// The first Do starts the browser and binds it to ctx: no time limit here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("cannot start %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return b
}

// do runs actions with a time limit.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor waits until the expression is true. (chromedp.Poll builds its
// predicate with new Function, which the page's Content-Security-Policy
// refuses, as it should; so the test polls from outside.)
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if eval[bool](b, "!!("+js+")") {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 15s for %s (%s); the page shows:\n%s", what, js, eval[string](b, "document.body.innerText"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// text is the visible text of the first element that matches sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf("(document.querySelector(%q) || {innerText: '<no %s>'}).innerText", sel, sel))
}

// screenshot saves the page as name.png in $SANDBOX_SCREENSHOTS, when set:
// the whole page from its top, or (view) only what the window shows.
func (b *browser) screenshot(name string, view bool) {
	b.t.Helper()
	dir := os.Getenv("SANDBOX_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if !view {
		eval[chromedp.Void](b, "window.scrollTo(0, 0)")
		shot = chromedp.FullScreenshot(100) // 100: PNG
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// rows is a column of the rows of a list, by a selector inside each row.
func (b *browser) rows(list, cell string) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(r => (r.querySelector(%q) || {innerText: ""}).innerText.trim())`,
		list+" tbody tr", cell))
}

func TestBrowserEmptyStateSaysWhatToRun(t *testing.T) {
	b := startBrowser(t)
	opts := Options{SharedSpace: "2002", Workspace: "3003", Credentials: []Credential{{ID: "page-key", Secret: "page-secret"}}}
	c := newClient(t, opts)
	b.do(chromedp.Navigate(c.base + "/"))
	b.screenshot("empty", false)

	for sel, want := range map[string]string{
		"#conn-url": c.base, "#conn-shared-space": "2002", "#conn-workspace": "3003",
		"#conn-client-id": "page-key", "#conn-secret": "page-secret",
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	config := b.text("#conn-config")
	for _, want := range []string{`url: "` + c.base + `"`, `shared_space: "2002"`, `workspace: "3003"`, `client_id: "page-key"`,
		"client_secret: ${env:OCTANE_CLIENT_SECRET}"} {
		if !strings.Contains(config, want) {
			t.Errorf("the configuration snippet lacks %q:\n%s", want, config)
		}
	}
	if cmds := b.text("#conn-commands"); !strings.Contains(cmds, "export OCTANE_CLIENT_SECRET=page-secret") ||
		!strings.Contains(cmds, "octane-import scan testdata/builds") {
		t.Errorf("the commands are %q", cmds)
	}
	body := b.text("body")
	if !strings.Contains(body, "octane-import scan --sandbox testdata/builds") {
		t.Errorf("the empty page does not offer scan --sandbox:\n%s", body)
	}
	if regexp.MustCompile(`(?i)\bnone\b`).MatchString(body) {
		t.Errorf("the empty page still says none:\n%s", body)
	}
	// The script ran (its hash is in the Content-Security-Policy): it shows
	// the auto-refresh switch, which stays hidden without JavaScript.
	if hidden := eval[bool](b, `document.getElementById("auto").parentNode.hidden`); hidden {
		t.Error("the auto-refresh switch is hidden: the page's script did not run")
	}

	// Something is imported; Refresh turns the empty page into the overview.
	c.signIn(`{"client_id":"page-key","client_secret":"page-secret"}`)
	ws := "/api/shared_spaces/2002/workspaces/3003"
	out := c.mustCall(201, "POST", ws+"/ci_servers", map[string]any{"data": []any{map[string]any{"name": "laptop", "instance_id": "iid-1"}}})
	c.mustCall(201, "POST", ws+"/pipelines", map[string]any{"data": []any{map[string]any{"name": "pipe",
		"ci_server": map[string]any{"type": "ci_server", "id": dataAt(t, out, 0)["id"]}, "root_job_ci_id": "unit",
		"jobs": []any{map[string]any{"name": "Unit", "jobCiId": "unit"}}}}})
	c.mustCall(200, "PUT", ws+"/analytics/ci/builds", map[string]any{"serverCiId": "iid-1", "jobCiId": "unit", "buildCiId": "1",
		"startTime": 1700000000000, "duration": 10, "result": "success"})
	b.do(chromedp.Click(chromedp.CSS("#refresh")))
	b.waitFor("the build after Refresh", `document.querySelector("#builds-list a.build")`)
	if got := b.rows("#builds-list", "a.build"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("builds after refresh = %q", got)
	}
	if p := eval[string](b, "location.pathname"); p != "/" {
		t.Errorf("Refresh navigated to %s", p)
	}
	// The filter that came with the refresh works in place too.
	eval[chromedp.Void](b, `window.notReloaded = true`)
	b.do(chromedp.SendKeys(chromedp.CSS(`#builds input[name="q"]`), "nothing like it"))
	b.waitFor("the filter", `document.querySelector("#builds-list .none")`)
	if !eval[bool](b, `window.notReloaded === true && location.search == "?q=nothing%20like%20it"`) {
		t.Errorf("filtering after the refresh reloaded the page or lost the URL: %s", eval[string](b, "location.search"))
	}
}

func TestBrowserOverviewBuildPageAndFilters(t *testing.T) {
	b := startBrowser(t)
	c := pageFixture(t)
	failing := buildID(t, c.s, "jenkins-1", "payments/unit tests", "1042")
	b.do(chromedp.Navigate(c.base + "/"))
	b.screenshot("overview", false)

	if got, want := b.rows("#builds-list", "a.build code"), []string{"2026-03-02", "2026-03-01", "1042", "77", "1041"}; !slices.Equal(got, want) {
		t.Errorf("builds = %q, want newest first %q", got, want)
	}
	if got := eval[[]string](b, fmt.Sprintf(`Array.from(document.querySelectorAll("#b%s td.num")).slice(0, 3).map(td => td.innerText)`, failing)); !slices.Equal(got, []string{"2", "3", "1"}) {
		t.Errorf("build 1042 passed/failed/skipped = %q, want 2 3 1", got)
	}
	// Names are shown as text, never run as markup.
	if got := b.text("#pipelines tbody td"); got != "payments "+hostile {
		t.Errorf("the pipeline's name shows as %q", got)
	}
	if n := eval[int](b, "document.scripts.length"); n != 1 {
		t.Errorf("%d scripts in the page, want its own one", n)
	}

	// A click on a build goes to its page.
	b.do(chromedp.Click(chromedp.CSS("#b" + failing + " a.build")))
	b.waitFor("the build page", fmt.Sprintf(`location.pathname == "/builds/%s" && document.readyState == "complete"`, failing))
	if h := b.text("h1"); !strings.HasPrefix(h, "Build 1042") {
		t.Errorf("h1 = %q", h)
	}
	// Failures first, with their messages; the error type and stack trace are folded.
	if got, want := b.rows("#runs-list", ".res"), []string{"Failed", "Failed", "Failed", "Planned", "Skipped", "Passed", "Passed"}; !slices.Equal(got, want) {
		t.Errorf("run statuses = %q, want failures first %q", got, want)
	}
	if got := b.rows("#runs-list", ".errmsg")[0]; got != "expected 2 but was 3" {
		t.Errorf("the first failure's message = %q", got)
	}
	if eval[bool](b, `document.querySelector("#runs-list pre.stack").checkVisibility()`) {
		t.Error("the stack trace is not folded")
	}
	b.do(chromedp.Click(chromedp.CSS("#runs-list details summary")))
	if st := b.text("#runs-list pre.stack"); !strings.Contains(st, "LedgerTest.java:42") {
		t.Errorf("the unfolded stack trace = %q", st)
	}
	b.screenshot("build", false)

	// The text filter applies as you type and keeps the URL in step.
	b.do(chromedp.SendKeys(chromedp.CSS(`#runs input[name="q"]`), "ROUND"))
	b.waitFor("the text filter", `document.querySelectorAll("#runs-list tbody tr").length == 1`)
	if got := b.rows("#runs-list", ".test"); !slices.Equal(got, []string{"rounding"}) {
		t.Errorf("runs matching ROUND = %q", got)
	}
	if q := eval[string](b, "location.search"); q != "?q=ROUND" {
		t.Errorf("location.search = %q", q)
	}
	if f := eval[string](b, "document.activeElement.name"); f != "q" {
		t.Errorf("the filter lost the focus to %q", f)
	}
	if got := b.text("#filter-clear"); got != "Clear the filter" {
		t.Errorf("no link to clear the filter, but %q", got)
	}
	// The status filter; a reload keeps both (the URL holds them).
	eval[chromedp.Void](b, `(q => { q.value = ""; q.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector('#runs input[name="q"]'))`)
	b.setSelect(`#runs select[name="status"]`, "Passed")
	b.waitFor("the status filter", `document.querySelectorAll("#runs-list tbody tr").length == 2`)
	if got := b.rows("#runs-list", ".test"); !slices.Equal(got, []string{"balances", "refunds"}) {
		t.Errorf("passed runs = %q", got)
	}
	b.do(chromedp.Reload())
	if got := b.rows("#runs-list", ".test"); !slices.Equal(got, []string{"balances", "refunds"}) {
		t.Errorf("passed runs after a reload = %q", got)
	}

	// Back to the overview by the breadcrumb; filter the builds.
	b.do(chromedp.Click(chromedp.CSS(`.crumbs a[href="/"]`)))
	b.waitFor("the overview", `location.pathname == "/" && document.readyState == "complete"`)
	b.setSelect(`#builds select[name="status"]`, "failure")
	b.waitFor("the result filter", `document.querySelectorAll("#builds-list tbody tr").length == 1`)
	if got := b.rows("#builds-list", "a.build code"); !slices.Equal(got, []string{"1042"}) {
		t.Errorf("builds with result failure = %q", got)
	}
	b.setSelect(`#builds select[name="status"]`, "")
	b.do(chromedp.SendKeys(chromedp.CSS(`#builds input[name="q"]`), "nightly"))
	b.waitFor("the text filter", `document.querySelectorAll("#builds-list tbody tr").length == 2`)
	if got := b.rows("#builds-list", "a.build code"); !slices.Equal(got, []string{"2026-03-02", "2026-03-01"}) {
		t.Errorf("builds matching nightly = %q", got)
	}
	b.screenshot("overview-filtered", false)

	// A job's link lists that job's builds.
	b.do(chromedp.Navigate(c.base + "/"))
	b.do(chromedp.Click(chromedp.CSS(`#pipelines a[href*="unit"]`)))
	b.waitFor("the job's builds", `location.search.includes("job=") && document.readyState == "complete"`)
	if got := b.rows("#builds-list", "a.build code"); !slices.Equal(got, []string{"1042", "1041"}) {
		t.Errorf("builds of payments/unit tests = %q", got)
	}
}

// setSelect chooses a value as a person would: the select changes, and says so.
func (b *browser) setSelect(sel, value string) {
	b.t.Helper()
	eval[chromedp.Void](b, fmt.Sprintf(`(s => { s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })(document.querySelector(%q))`, value, sel))
}

func TestBrowserRefreshKeepsThePlace(t *testing.T) {
	b := startBrowser(t)
	c := signedIn(t, Options{})
	c.seed()
	c.putBuild("unit", "7", nil)
	runs := []testRun{{class: "C", name: "early failure", status: "Failed", hasError: true, errType: "E", errMsg: "boom", stack: "at x"}}
	for i := range 150 {
		runs = append(runs, testRun{class: "C", name: fmt.Sprintf("t%03d", i), status: "Passed"})
	}
	c.postRuns("iid-1", "unit", "7", runs...)
	id := buildID(t, c.s, "iid-1", "unit", "7")

	// The Refresh button shows a build added meanwhile, in place.
	b.do(chromedp.Navigate(c.base + "/"))
	c.putBuild("unit", "8", map[string]any{"startTime": 1800000000000})
	newer := buildID(t, c.s, "iid-1", "unit", "8")
	if eval[bool](b, fmt.Sprintf(`!!document.getElementById("b%s")`, newer)) {
		t.Fatal("the new build is there before a refresh")
	}
	eval[chromedp.Void](b, `window.notReloaded = true`)
	b.do(chromedp.Click(chromedp.CSS("#refresh")))
	b.waitFor("the new build", fmt.Sprintf(`document.getElementById("b%s")`, newer))
	if got := b.rows("#builds-list", "a.build code"); !slices.Equal(got, []string{"8", "7"}) {
		t.Errorf("builds after refresh = %q", got)
	}
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Error("Refresh reloaded the whole page")
	}

	// Auto-refresh, while the reader looks at run t100 with a failure unfolded.
	c.s.mu.Lock()
	c.s.pageRefresh = 300 * time.Millisecond
	c.s.mu.Unlock()
	b.do(chromedp.Navigate(c.base + "/builds/" + id))
	b.do(chromedp.Click(chromedp.CSS("#auto")))
	b.do(chromedp.Click(chromedp.CSS("#runs-list details summary")))
	anchor := "r" + c.s.RunsFor("iid-1", "unit", "7")[101].ID // t100
	eval[chromedp.Void](b, fmt.Sprintf(`document.getElementById(%q).scrollIntoView()`, anchor))
	eval[chromedp.Void](b, `window.scrollBy(0, -200)`)
	eval[chromedp.Void](b, `document.querySelector('#runs input[name="q"]').focus({preventScroll: true})`)
	before := eval[float64](b, fmt.Sprintf(`document.getElementById(%q).getBoundingClientRect().top`, anchor))
	scrollBefore := eval[float64](b, "window.scrollY")

	// Two more failures arrive: they sort above the reader's row.
	c.postRuns("iid-1", "unit", "7",
		testRun{class: "C", name: "late failure 1", status: "Failed", hasError: true, errMsg: "late"},
		testRun{class: "C", name: "late failure 2", status: "Failed", hasError: true, errMsg: "late"})
	all := c.s.RunsFor("iid-1", "unit", "7")
	late := "r" + all[len(all)-1].ID
	b.waitFor("the auto-refresh", fmt.Sprintf(`document.getElementById(%q)`, late))
	b.screenshot("build-auto-refreshed", true)

	after := eval[float64](b, fmt.Sprintf(`document.getElementById(%q).getBoundingClientRect().top`, anchor))
	if d := after - before; d < -1 || d > 1 {
		t.Errorf("the reader's row moved by %.0f px (window scrolled from %.0f to %.0f)", d, scrollBefore, eval[float64](b, "window.scrollY"))
	}
	if !eval[bool](b, `document.querySelector("#runs-list details").open`) {
		t.Error("the unfolded failure was folded again")
	}
	if f := eval[string](b, "document.activeElement.name"); f != "q" {
		t.Errorf("the filter lost the focus to %q", f)
	}
	if got := b.rows("#runs-list", ".test")[:3]; !slices.Equal(got, []string{"early failure", "late failure 1", "late failure 2"}) {
		t.Errorf("first runs after the refresh = %q", got)
	}
	// The switch stays on across pages (localStorage).
	b.do(chromedp.Navigate(c.base + "/"))
	if !eval[bool](b, `document.getElementById("auto").checked`) {
		t.Error("auto-refresh is off on the next page")
	}
}

// TestBrowserWithoutJavaScript: with scripts off, the Refresh link reloads,
// the filter form submits, and the auto-refresh switch (which needs the
// script) is not offered.
func TestBrowserWithoutJavaScript(t *testing.T) {
	b := startBrowser(t)
	c := pageFixture(t)
	failing := buildID(t, c.s, "jenkins-1", "payments/unit tests", "1042")
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(c.base + "/builds/" + failing))
	if eval[bool](b, `document.getElementById("auto").checkVisibility()`) {
		t.Error("the auto-refresh switch shows without JavaScript")
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`#runs input[name="q"]`), "balances\n"))
	b.waitFor("the submitted filter", `location.search == "?status=&q=balances" && document.readyState == "complete"`)
	if got := b.rows("#runs-list", ".test"); !slices.Equal(got, []string{"balances"}) {
		t.Errorf("runs after the submitted filter = %q", got)
	}
	c.postRuns("jenkins-1", "payments/unit tests", "1042", testRun{class: "Late", name: "balances again", status: "Passed"})
	b.do(chromedp.Click(chromedp.CSS("#refresh")))
	b.waitFor("the reload", `document.querySelectorAll("#runs-list tbody tr").length == 2`)
	if got := b.rows("#runs-list", ".test"); !slices.Equal(got, []string{"balances", "balances again"}) {
		t.Errorf("runs after Refresh = %q", got)
	}
}
