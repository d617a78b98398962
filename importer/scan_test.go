package importer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// env is one test's world: a stand-in Octane over real HTTP, a ledger file, a configuration.
type env struct {
	t      *testing.T
	srv    *sandbox.Server
	cfg    *config.File
	state  string
	mu     sync.Mutex
	client *octane.Client
	wrap   func(importer.Client) importer.Client
}

func newEnv(t *testing.T, cfg *config.File) *env {
	t.Helper()
	return newEnvWith(t, cfg, sandbox.Options{})
}

// newEnvWith is newEnv with a stand-in configured as given (an older Octane ...).
func newEnvWith(t *testing.T, cfg *config.File, opts sandbox.Options) *env {
	t.Helper()
	srv, err := sandbox.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if cfg == nil {
		cfg = &config.File{Rules: mapping.Default("test-host")}
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
		Rules: e.cfg.Rules, Sources: e.cfg.Sources, Ledger: l, Reporter: rec, MaxRunsPerPayload: 50,
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

func outcomes(files []importer.FileResult) map[importer.Outcome]int {
	m := map[importer.Outcome]int{}
	for _, f := range files {
		m[f.Outcome]++
	}
	return m
}

func runsIn(srv *sandbox.Server) int { return len(srv.Runs()) }

// writeReport writes a small JUnit report (bench/gen's exact suite) with n tests of class
// class, named test0, test1, ..., the first failing when fail.
func writeReport(t testing.TB, path, class string, n int, fail bool) {
	t.Helper()
	s := gen.Suite{Name: class, Cases: n, Timestamp: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	if fail {
		s.Failed = 1
	}
	if _, err := gen.WriteSuite(path, s); err != nil {
		t.Fatal(err)
	}
}

func TestScanPostBuildFolder(t *testing.T) {
	e := newEnv(t, nil)
	dir := testkit.CopyTree(t, filepath.Join("..", "testdata", "builds"))
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
	dir := testkit.CopyTree(t, filepath.Join("..", "testdata", "builds"))
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
	e.srv.Inject(sandbox.Fault{Kind: sandbox.HTML503, Times: 1000})
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

func TestBackfillWithSince(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	// Two teams, builds across three months; reports carry their suite timestamps.
	for _, team := range []string{"alpha", "beta"} {
		for month := 1; month <= 3; month++ {
			path := filepath.Join(dir, team, "unit", fmt.Sprintf("b%d", month), "TEST-x.xml")
			testkit.WriteFile(t, path, fmt.Sprintf(`<testsuite name="s" timestamp="2026-%02d-10T08:00:00Z">
  <testcase classname="com.acme.%s.X" name="one" time="1"/>
  <testcase classname="com.acme.%s.X" name="two" time="1"/>
</testsuite>`, month, team, team))
		}
	}
	cfg, err := config.Parse([]byte(`
targets:
  - name: octane
    url: http://unused.example
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: sandbox-secret
rules:
  - name: teams
    match:
      path: "{team}/{job}/{build}/*.xml"
    set:
      server: {instance_id: "{team}-ci", name: "{team|upper} CI"}
      job: "{team}-{job}"
      build: "{build}"
      start: suite
`), "octane-import.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	sum, files, err := e.run(context.Background(), func(o *importer.Options) { o.Since = since }, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Scan(context.Background(), []string{dir})
	})
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(files); o[importer.Imported] != 4 || o[importer.Skipped] != 2 {
		t.Fatalf("outcomes = %v, want 4 imported and 2 skipped (January)", o)
	}
	if sum.Runs.Total() != 8 || runsIn(e.srv) != 8 {
		t.Errorf("runs: summary %d, stand-in %d, want 8", sum.Runs.Total(), runsIn(e.srv))
	}
	// Oldest first across teams: February's builds before March's.
	var order []string
	for _, r := range e.srv.Requests() {
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/analytics/ci/builds") {
			order = append(order, r.Path)
		}
	}
	builds := e.srv.Builds()
	if len(builds) != 4 || len(order) != 4 {
		t.Fatalf("builds = %+v", builds)
	}
	for _, b := range builds {
		if b.BuildCIID == "b1" {
			t.Errorf("a January build was sent: %+v", b)
		}
		if !strings.HasSuffix(b.JobCIID, "-unit") || !strings.HasSuffix(b.ServerCIID, "-ci") {
			t.Errorf("build mapped wrong: %+v", b)
		}
	}
	// A later scan without --since picks up what was skipped, and only that.
	_, files = e.scan(dir)
	if o := outcomes(files); o[importer.Imported] != 2 || o[importer.Unchanged] != 4 {
		t.Fatalf("second pass: %v", o)
	}
	noDuplicates(t, e.srv)
}

func TestRefusedBuildFailsAloneAndRetryAfterTheFix(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	// Build "bad" names a cause job Octane does not know: Octane refuses the build.
	testkit.WriteFile(t, filepath.Join(dir, "svc", "bad", "octane-build.yaml"), `version: 1
server: {instance_id: ci-1}
job: {id: svc}
build: {id: "bad"}
causes:
  - {job: no-such-job, build: "9"}
`)
	writeReport(t, filepath.Join(dir, "svc", "bad", "TEST-a.xml"), "com.acme.A", 3, false)
	writeReport(t, filepath.Join(dir, "svc", "good", "TEST-a.xml"), "com.acme.A", 3, false)
	testkit.WriteFile(t, filepath.Join(dir, "svc", "good", "octane-build.json"), `{"version": 1, "server": {"instance_id": "ci-1"}, "job": {"id": "svc"}, "build": {"id": "good"}}`)
	// Build "rel" points at a release that does not exist (yet): Octane's task fails.
	testkit.WriteFile(t, filepath.Join(dir, "svc", "rel", "octane-build.yaml"), `version: 1
server: {instance_id: ci-1}
job: {id: svc}
build: {id: "rel"}
release_id: 4242
`)
	writeReport(t, filepath.Join(dir, "svc", "rel", "TEST-a.xml"), "com.acme.A", 3, false)

	sum, files := e.scan(dir)
	var err error
	byPath := map[string]importer.FileResult{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	good := byPath[filepath.Join(dir, "svc", "good", "TEST-a.xml")]
	bad := byPath[filepath.Join(dir, "svc", "bad", "TEST-a.xml")]
	rel := byPath[filepath.Join(dir, "svc", "rel", "TEST-a.xml")]
	if good.Outcome != importer.Imported {
		t.Errorf("the good build: %+v %v", good, good.Error)
	}
	if bad.Outcome != importer.Failed || bad.Error == nil || !strings.Contains(bad.Error.Message, "no-such-job") {
		t.Errorf("the refused build's file: %+v (want Octane's message naming the job)", bad)
	}
	if rel.Outcome != importer.Failed || rel.Error == nil || !strings.Contains(rel.Error.Message, "4242") {
		t.Errorf("the failed task's file: %+v (want Octane's errorDetails)", rel)
	}
	if sum.Failures() != 2 || runsIn(e.srv) != 3 {
		t.Fatalf("failures %d, runs %d", sum.Failures(), runsIn(e.srv))
	}
	// The user fixes the manifest to name a release that exists, and retries.
	id, err := e.srv.AddEntity("release", "2026.4")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "svc", "rel", "octane-build.yaml"), fmt.Sprintf(`version: 1
server: {instance_id: ci-1}
job: {id: svc}
build: {id: "rel"}
release_id: %s
`, id))
	_, files, err = e.run(context.Background(), nil, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Retry(context.Background(), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	byPath = map[string]importer.FileResult{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if r := byPath[rel.Path]; r.Outcome != importer.Imported {
		t.Errorf("after the fix, retry: %+v", r)
	}
	if r := byPath[bad.Path]; r.Outcome != importer.Failed {
		t.Errorf("nothing was fixed for the refused build, yet: %+v", r)
	}
	if _, ok := byPath[good.Path]; ok {
		t.Errorf("retry touched a file that was imported: %+v", byPath[good.Path])
	}
	if runsIn(e.srv) != 6 {
		t.Errorf("runs = %d, want 6", runsIn(e.srv))
	}
	for _, r := range e.srv.RunsFor("ci-1", "svc", "rel") {
		if r.Release == "" {
			t.Errorf("run without its release: %+v", r)
		}
	}
	noDuplicates(t, e.srv)
}

func TestRootBuildReportedBeforeTheBuildsItCaused(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	// The child started (by its own clock) before its root: the cause decides the order.
	testkit.WriteFile(t, filepath.Join(dir, "child", "octane-build.yaml"), `version: 1
server: {instance_id: ci}
pipeline: {name: flow, root_job: root}
job: {id: child}
build: {id: "5", started: 2026-01-01T09:00:00Z}
causes: [{job: root, build: "1"}]
`)
	writeReport(t, filepath.Join(dir, "child", "TEST-c.xml"), "com.acme.C", 2, false)
	testkit.WriteFile(t, filepath.Join(dir, "root", "octane-build.yaml"), `version: 1
server: {instance_id: ci}
pipeline: {name: flow, root_job: root}
job: {id: root}
build: {id: "1", started: 2026-01-01T10:00:00Z}
`)
	writeReport(t, filepath.Join(dir, "root", "TEST-r.xml"), "com.acme.R", 2, false)
	sum, _ := e.scan(dir)
	if sum.Failures() != 0 {
		t.Fatalf("failures: %+v", sum.Errors)
	}
	var order []string
	for _, b := range e.srv.Builds() {
		order = append(order, b.JobCIID)
	}
	if strings.Join(order, ",") != "root,child" {
		t.Errorf("builds reached Octane in the order %v, want the root first", order)
	}
}

func TestOverlappingPathsReadEachFileOnce(t *testing.T) {
	e := newEnv(t, nil)
	dir := testkit.CopyTree(t, filepath.Join("..", "testdata", "builds"))
	sum, _ := e.scan(dir, dir, filepath.Join(dir, "web"))
	if runsIn(e.srv) != 56 || sum.Runs.Total() != 56 {
		t.Fatalf("runs: stand-in %d, summary %d, want 56 each", runsIn(e.srv), sum.Runs.Total())
	}
	noDuplicates(t, e.srv)
}

func TestAFailedTaskPollLeavesThePayloadSentNotFailed(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "job", "1", "TEST-a.xml"), "com.acme.A", 10, false)
	// Octane takes the payload, then one poll of its task fails for good (a 500).
	e.srv.Inject(sandbox.Fault{Method: "GET", Path: "/test-results/1101", Kind: sandbox.Status, Code: 500, Times: 100})
	_, files := e.scan(dir)
	if o := outcomes(files); o[importer.Queued] != 1 {
		t.Fatalf("after a failed poll: %v, want the file queued (its task may well succeed)", o)
	}
	e.srv.ClearFaults()
	_, _, err := e.run(context.Background(), nil, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Retry(context.Background(), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, files = e.scan(dir)
	if o := outcomes(files); o[importer.Imported]+o[importer.Unchanged] != 1 {
		t.Fatalf("after the poll works again: %v", o)
	}
	if runsIn(e.srv) != 10 {
		t.Errorf("runs = %d, want 10 (no resend of an accepted payload)", runsIn(e.srv))
	}
	noDuplicates(t, e.srv)
}

// Issue 15, item 5: a job that appears after its pipeline exists, against an Octane that
// cannot add jobs to a pipeline (before 16.2.100): nothing is lost, the job's builds go
// under a pipeline of their own, and the summary says so once.
func TestJobRefusedByItsPipelineGetsAPipelineOfItsOwn(t *testing.T) {
	e := newEnvWith(t, nil, sandbox.Options{NoCIJobCreate: true})
	dir := t.TempDir()
	manifest := func(job, build string) string {
		return "version: 1\nserver: {instance_id: ci}\npipeline: {name: flow, root_job: root}\njob: {id: " + job +
			"}\nbuild: {id: \"" + build + "\", started: 2026-01-01T10:00:00Z}\n"
	}
	testkit.WriteFile(t, filepath.Join(dir, "root", "1", "octane-build.yaml"), manifest("root", "1"))
	writeReport(t, filepath.Join(dir, "root", "1", "TEST-r.xml"), "com.acme.R", 2, false)
	if sum, _ := e.scan(dir); sum.Failures() != 0 {
		t.Fatalf("first scan: %+v", sum.Errors)
	}
	// Later, a new job of the same pipeline, with many builds.
	for i := range 40 {
		b := fmt.Sprint(i + 1)
		testkit.WriteFile(t, filepath.Join(dir, "late", b, "octane-build.yaml"), manifest("late", b))
		writeReport(t, filepath.Join(dir, "late", b, "TEST-l.xml"), "com.acme.L", 3, false)
	}
	sum, files := e.scan(dir)
	if sum.Failures() != 0 || outcomes(files)[importer.Imported] != 40 {
		t.Fatalf("second scan: %v %+v", outcomes(files), sum.Errors)
	}
	if got := len(e.srv.RunsFor("ci", "late", "40")); got != 3 {
		t.Errorf("build late#40 has %d runs, want 3", got)
	}
	warned := 0
	for _, w := range sum.Warnings {
		if strings.Contains(w, `Octane refused to add job(s) late to the existing pipeline "flow"`) {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("warnings %q: want one about the refused job", sum.Warnings)
	}
	var own bool
	for _, p := range e.srv.Pipelines() {
		if p.RootJobCIID == "late" && p.Name == "late" {
			own = true
		}
	}
	if !own {
		t.Errorf("no pipeline of its own for job late: %+v", e.srv.Pipelines())
	}
	for _, b := range sum.SortedBuilds() {
		if b.ID.Job == "late" && b.Pipeline != "late" {
			t.Errorf("summary line %+v: pipeline %q, want late", b.ID, b.Pipeline)
		}
	}
}
