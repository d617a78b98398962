package importer_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/octane/octanetest"
)

// env is one test's world: a stand-in Octane over real HTTP, a ledger file, a configuration.
type env struct {
	t      *testing.T
	srv    *octanetest.Server
	cfg    *mapping.Config
	state  string
	mu     sync.Mutex
	client *octane.Client
	wrap   func(importer.Client) importer.Client
}

func newEnv(t *testing.T, cfg *mapping.Config) *env {
	t.Helper()
	srv, err := octanetest.Start(octanetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if cfg == nil {
		cfg = mapping.Default("test-host")
	}
	return &env{t: t, srv: srv, cfg: cfg, state: filepath.Join(t.TempDir(), "ledger.db")}
}

func (e *env) octaneClient() *octane.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client == nil {
		o := e.srv.Options()
		c, err := octane.New(octane.Config{
			URL: e.srv.URL(), SharedSpace: o.SharedSpace, Workspace: o.Workspace,
			ClientID: o.Credentials[0].ID, ClientSecret: o.Credentials[0].Secret,
			Retry: octane.RetryPolicy{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
			Poll:  octane.PollPolicy{Min: time.Millisecond, Max: 20 * time.Millisecond},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		e.client = c
	}
	return e.client
}

// run scans paths with a fresh importer and ledger handle, as a new process would.
func (e *env) run(ctx context.Context, mod func(*importer.Options), scan func(*importer.Importer) (*importer.Summary, error)) (*importer.Summary, []importer.FileResult, error) {
	e.t.Helper()
	l, err := ledger.Open(e.state, ledger.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer l.Close()
	rec := &recorder{}
	opt := importer.Options{
		Config: e.cfg, Ledger: l, Reporter: rec, MaxRunsPerPayload: 50,
		Client: func(string) (importer.Client, error) {
			var c importer.Client = e.octaneClient()
			if e.wrap != nil {
				c = e.wrap(c)
			}
			return c, nil
		},
	}
	if mod != nil {
		mod(&opt)
	}
	im, err := importer.New(opt)
	if err != nil {
		e.t.Fatal(err)
	}
	sum, err := scan(im)
	return sum, rec.files, err
}

func (e *env) scan(paths ...string) (*importer.Summary, []importer.FileResult) {
	e.t.Helper()
	sum, files, err := e.run(context.Background(), nil, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Scan(context.Background(), paths)
	})
	if err != nil {
		e.t.Fatalf("scan: %v", err)
	}
	return sum, files
}

type recorder struct {
	files []importer.FileResult
}

func (r *recorder) File(f importer.FileResult) { r.files = append(r.files, f) }
func (r *recorder) Progress(importer.Progress) {}

// copyTree copies the repository's example builds into a temporary folder.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func outcomes(files []importer.FileResult) map[importer.Outcome]int {
	m := map[importer.Outcome]int{}
	for _, f := range files {
		m[f.Outcome]++
	}
	return m
}

func runsIn(srv *octanetest.Server) int { return len(srv.Runs()) }

// writeReport writes a small JUnit report with n passing tests (and one failing when fail).
func writeReport(t testing.TB, path, class string, n int, fail bool) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=%q tests=\"%d\" timestamp=\"2026-03-01T10:00:00Z\">\n", class, n)
	for i := 0; i < n; i++ {
		if fail && i == 0 {
			fmt.Fprintf(&b, "  <testcase classname=%q name=\"test%d\" time=\"0.5\"><failure type=\"AssertionError\" message=\"boom\">at %s.test%d</failure></testcase>\n", class, i, class, i)
			continue
		}
		fmt.Fprintf(&b, "  <testcase classname=%q name=\"test%d\" time=\"0.25\"/>\n", class, i)
	}
	b.WriteString("</testsuite>\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanPostBuildFolder(t *testing.T) {
	e := newEnv(t, nil)
	dir := copyTree(t, filepath.Join("..", "testdata", "builds"))
	sum, files := e.scan(dir)
	if n := sum.Failures(); n != 0 {
		t.Fatalf("failures: %d; files: %+v", n, files)
	}
	got := outcomes(files)
	if got[importer.Imported] == 0 {
		t.Fatalf("nothing imported: %+v", files)
	}
	if runsIn(e.srv) != sum.Runs.Total() {
		t.Errorf("stand-in holds %d runs, summary says %d", runsIn(e.srv), sum.Runs.Total())
	}
	// Every build the summary names is in Octane, with its runs.
	for _, b := range sum.SortedBuilds() {
		runs := e.srv.RunsFor(b.ID.Server, b.ID.Job, b.ID.Build)
		if len(runs) != b.Runs.Total() {
			t.Errorf("build %s: stand-in has %d runs, summary %d", b.ID, len(runs), b.Runs.Total())
		}
	}
	// The manifest's build came through with its values.
	found := false
	for _, b := range e.srv.Builds() {
		if b.ServerCIID == "jenkins-payments-prod" && b.JobCIID == "payments-unit" && b.BuildCIID == "1042" {
			found = true
			if b.Result != "failure" && b.Result != "unstable" {
				t.Errorf("build 1042 result = %q", b.Result)
			}
		}
	}
	if !found {
		t.Errorf("build payments-unit #1042 not in the stand-in: %+v", e.srv.Builds())
	}
}

func TestRescanSendsNothing(t *testing.T) {
	e := newEnv(t, nil)
	dir := copyTree(t, filepath.Join("..", "testdata", "builds"))
	first, _ := e.scan(dir)
	before := len(e.srv.Requests())
	runs := runsIn(e.srv)
	second, files := e.scan(dir)
	if got := outcomes(files); got[importer.Unchanged] != first.Outcomes[importer.Imported] || len(got) != 1 {
		t.Fatalf("second scan outcomes = %v, want all %d unchanged", got, first.Outcomes[importer.Imported])
	}
	if after := len(e.srv.Requests()); after != before {
		t.Errorf("the second scan sent %d requests", after-before)
	}
	if runsIn(e.srv) != runs || second.Runs.Total() != 0 {
		t.Errorf("runs grew from %d to %d", runs, runsIn(e.srv))
	}
}

func TestChangedFileIsImportedAsNewContent(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "team", "job", "7", "TEST-a.xml")
	writeReport(t, path, "com.acme.A", 3, false)
	e.scan(dir)
	if runsIn(e.srv) != 3 {
		t.Fatalf("runs = %d, want 3", runsIn(e.srv))
	}
	time.Sleep(10 * time.Millisecond) // a different mtime
	writeReport(t, path, "com.acme.A", 5, true)
	_, files := e.scan(dir)
	if o := outcomes(files); o[importer.Imported] != 1 {
		t.Fatalf("outcomes = %v", o)
	}
	if runsIn(e.srv) != 8 {
		t.Errorf("runs = %d, want 3 + 5", runsIn(e.srv))
	}
	// A touch without a change sends nothing.
	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	_, files = e.scan(dir)
	if o := outcomes(files); o[importer.Unchanged] != 1 {
		t.Fatalf("after touch: %v", o)
	}
	if runsIn(e.srv) != 8 {
		t.Errorf("a touch re-sent runs: %d", runsIn(e.srv))
	}
}

func TestManyReportsOneBuildFewPayloads(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	for i := 0; i < 30; i++ {
		writeReport(t, filepath.Join(dir, "job", "42", fmt.Sprintf("TEST-%02d.xml", i)), fmt.Sprintf("com.acme.C%02d", i), 10, i == 3)
	}
	sum, _ := e.scan(dir)
	if sum.Runs.Total() != 300 {
		t.Fatalf("runs = %d", sum.Runs.Total())
	}
	// 300 runs at 50 runs per payload: 6 payloads, not 30 requests.
	posts := 0
	for _, r := range e.srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/test-results") {
			posts++
		}
	}
	if posts != 6 {
		t.Errorf("test-results posts = %d, want 6", posts)
	}
	if len(e.srv.Builds()) != 1 || e.srv.Builds()[0].Result != "failure" {
		t.Errorf("builds = %+v, want one failed build", e.srv.Builds())
	}
}

// crashingClient posts test results and then "dies" before the answer reaches the ledger.
type crashingClient struct {
	importer.Client
	cancel context.CancelFunc
	posts  atomic.Int32
}

func (c *crashingClient) PostTestResults(ctx context.Context, data []byte, skip bool) (octane.Task, error) {
	t, err := c.Client.PostTestResults(ctx, data, skip)
	c.posts.Add(1)
	if err == nil {
		c.cancel()
		return octane.Task{}, context.Canceled
	}
	return t, err
}

func TestCrashBetweenSendAndLedgerWrite(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	for i := 0; i < 4; i++ {
		writeReport(t, filepath.Join(dir, "job", fmt.Sprint(100+i), "TEST-x.xml"), "com.acme.X", 20, false)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cc := &crashingClient{cancel: cancel, Client: e.octaneClient()}
	e.wrap = func(importer.Client) importer.Client { return cc }
	_, _, err := e.run(ctx, nil, func(im *importer.Importer) (*importer.Summary, error) { return im.Scan(ctx, []string{dir}) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed scan: err = %v", err)
	}
	if cc.posts.Load() == 0 {
		t.Fatal("the crash came before any post")
	}
	e.wrap = nil
	sum, _ := e.scan(dir)
	if sum.Failures() != 0 {
		t.Fatalf("resumed scan failures: %+v", sum)
	}
	if got := runsIn(e.srv); got != 80 {
		t.Errorf("stand-in holds %d runs after the crash and resume, want exactly 80", got)
	}
}

func TestOctaneDownThenBack(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "job", "1", "TEST-a.xml"), "com.acme.A", 5, false)
	// Down for longer than the client's retries: the scan leaves the work queued.
	e.srv.Inject(octanetest.Fault{Kind: octanetest.HTML503, Times: 1000})
	sum, files := e.scan(dir)
	if o := outcomes(files); o[importer.Queued] != 1 || len(sum.Errors) == 0 {
		t.Fatalf("while down: outcomes %v, errors %v", o, sum.Errors)
	}
	e.srv.ClearFaults()
	sum, files = e.scan(dir)
	if o := outcomes(files); o[importer.Imported] != 1 {
		t.Fatalf("after coming back: %v (%v)", o, sum.Errors)
	}
	if runsIn(e.srv) != 5 {
		t.Errorf("runs = %d", runsIn(e.srv))
	}
}
