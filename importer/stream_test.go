package importer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/octane"
)

// testResultPosts counts the test-results payloads the stand-in received.
func testResultPosts(e *env) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/test-results") {
			n++
		}
	}
	return n
}

// spoolLeftovers lists what the spool folder holds besides the payloads the ledger keeps:
// staged payloads nobody sealed.
func spoolLeftovers(t *testing.T, state string) []string {
	t.Helper()
	entries, err := os.ReadDir(state + ".spool")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "staged-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A report larger than a payload is cut into payloads of its own as it is read (each staged
// on disk, all sealed with the report's record); a small report of the same build shares
// an ordinary payload. Every run reaches Octane once, and a rescan sends nothing.
func TestLargeReportIsCutIntoPayloadsOfItsOwn(t *testing.T) {
	e := newEnv(t, nil) // 50 runs per payload
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "job", "7", "TEST-big.xml"), "com.acme.Big", 175, true)
	writeReport(t, filepath.Join(dir, "job", "7", "TEST-small.xml"), "com.acme.Small", 10, false)
	sum, files := e.scan(dir)
	if sum.Runs.Total() != 185 || sum.Outcomes[importer.Failed] != 0 {
		t.Fatalf("runs = %d, failed files = %d", sum.Runs.Total(), sum.Outcomes[importer.Failed])
	}
	if got := len(e.srv.RunsFor("test-host", "job", "7")); got != 185 {
		t.Errorf("runs in the stand-in = %d, want 185", got)
	}
	// 175 runs: 50 + 50 + 50 + 25 in four payloads of the report's own; the small report's
	// 10 in a fifth.
	if got := testResultPosts(e); got != 5 {
		t.Errorf("test-results posts = %d, want 5", got)
	}
	for _, f := range files {
		if f.Outcome != importer.Imported {
			t.Errorf("%s: %s, want imported", f.Path, f.Outcome)
		}
	}
	l, err := ledger.Open(e.state, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	big, _, err := l.File(filepath.Join(dir, "job", "7", "TEST-big.xml"))
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(big.Payloads) != 4 || big.State != ledger.Accepted {
		t.Errorf("the large report's record: %d payloads, %s; want 4, accepted", len(big.Payloads), big.State)
	}
	if left := spoolLeftovers(t, e.state); len(left) > 0 {
		t.Errorf("staged payloads left in the spool: %v", left)
	}
	before := len(e.srv.Requests())
	e.scan(dir)
	if got := testResultPosts(e); got != 5 {
		t.Errorf("after a rescan, test-results posts = %d (requests %d → %d), want still 5", got, before, len(e.srv.Requests()))
	}
}

// A large report that turns out truncated, after payloads of its own were staged, fails
// alone, naming its line: nothing of it is sealed or sent, and no staged payload stays.
func TestTruncatedLargeReportLeavesNothingStaged(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	big := filepath.Join(dir, "job", "8", "TEST-big.xml")
	writeReport(t, big, "com.acme.Big", 175, false)
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:len(data)*9/10] // past three payloads' worth of runs, in the middle of a testcase
	if err := os.WriteFile(big, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	writeReport(t, filepath.Join(dir, "job", "8", "TEST-ok.xml"), "com.acme.Ok", 5, false)
	sum, files := e.scan(dir)
	if sum.Outcomes[importer.Failed] != 1 || sum.Outcomes[importer.Imported] != 1 {
		t.Fatalf("failed %d, imported %d; want 1 and 1", sum.Outcomes[importer.Failed], sum.Outcomes[importer.Imported])
	}
	for _, f := range files {
		if f.Path == big {
			if f.Outcome != importer.Failed || f.Error == nil || !strings.Contains(f.Error.Message, "TEST-big.xml") || f.Error.Line == 0 {
				t.Errorf("the truncated report: %s, %+v; want failed naming the file and a line", f.Outcome, f.Error)
			}
		}
	}
	if got := len(e.srv.RunsFor("test-host", "job", "8")); got != 5 {
		t.Errorf("runs in the stand-in = %d, want the other report's 5", got)
	}
	if left := spoolLeftovers(t, e.state); len(left) > 0 {
		t.Errorf("staged payloads left in the spool: %v", left)
	}
}

// The rules see the properties a report says before its first test case. A property that
// comes later and would have mapped the report elsewhere is said as a warning on the file,
// and the report goes where its head says.
func TestLatePropertyThatWouldMapElsewhereIsSaid(t *testing.T) {
	e := newEnv(t, nil)
	cfg, err := config.Parse([]byte(`
targets:
  - name: octane
    url: http://unused.example
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: sandbox-secret
rules:
  - match:
      path: "{build}/*.xml"
    set:
      server: {instance_id: ci}
      job: "tests-{property.component}"
      build: "{build}"
`), "octane-import.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "5", "TEST-a.xml"), `<testsuites>
  <testsuite name="first" timestamp="2026-03-01T10:00:00Z">
    <testcase classname="A" name="one" time="1"/>
  </testsuite>
  <testsuite name="second" timestamp="2026-03-01T10:01:00Z">
    <properties><property name="component" value="web"/></properties>
    <testcase classname="B" name="two" time="1"/>
  </testsuite>
</testsuites>`)
	testkit.WriteFile(t, filepath.Join(dir, "5", "TEST-b.xml"), `<testsuites>
  <testsuite name="first" timestamp="2026-03-01T10:00:00Z">
    <properties><property name="component" value="core"/></properties>
    <testcase classname="A" name="one" time="1"/>
  </testsuite>
  <testsuite name="second" timestamp="2026-03-01T10:01:00Z">
    <properties><property name="component" value="web"/><property name="region" value="eu"/></properties>
    <testcase classname="B" name="two" time="1"/>
  </testsuite>
</testsuites>`)
	sum, files, err := e.run(context.Background(), nil, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Scan(context.Background(), []string{dir})
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcomes[importer.Imported] != 2 {
		t.Fatalf("imported %d, want 2", sum.Outcomes[importer.Imported])
	}
	if got := len(e.srv.RunsFor("ci", "tests-core", "5")); got != 2 {
		t.Errorf("runs of tests-core #5 = %d, want 2 (TEST-b.xml, by the component its head names)", got)
	}
	if got := len(e.srv.RunsFor("ci", "tests-", "5")); got != 2 {
		t.Errorf("runs of tests- #5 = %d, want 2 (TEST-a.xml, whose head names no component)", got)
	}
	for _, f := range files {
		var late []string
		for _, w := range f.Warnings {
			if w.Code == "late-property" {
				late = append(late, w.Message)
			}
		}
		switch filepath.Base(f.Path) {
		case "TEST-a.xml":
			if len(late) != 1 || !strings.Contains(late[0], "component") {
				t.Errorf("TEST-a.xml warnings %v: want one late-property warning naming component", late)
			}
		case "TEST-b.xml":
			// A later component (the first value counts) and a region the rules do not
			// use: nothing to say.
			if len(late) != 0 {
				t.Errorf("TEST-b.xml: unexpected late-property warning %v", late)
			}
		}
	}
}

// putWatcher closes first when the first build is reported.
type putWatcher struct {
	importer.Client
	once  sync.Once
	first chan struct{}
}

func (p *putWatcher) PutBuild(ctx context.Context, b octane.Build) error {
	err := p.Client.PutBuild(ctx, b)
	p.once.Do(func() { close(p.first) })
	return err
}

// blockingRecorder holds the scan at the report named block until release is closed.
type blockingRecorder struct {
	recorder
	block   string
	release <-chan struct{}
	t       *testing.T
}

func (r *blockingRecorder) File(f importer.FileResult) {
	if filepath.Base(f.Path) == r.block {
		select {
		case <-r.release:
		case <-time.After(time.Minute):
			r.t.Error("the first build was not reported while the last report was still to be read: reading and sending do not overlap")
		}
	}
	r.recorder.File(f)
}

// Reading overlaps sending: the oldest build is reported while the newest is still to be
// read. The scan is held on the newest build's report (an empty one, reported as soon as it
// is read) until the first build reaches Octane; a scan that read everything before sending
// would wait there for a minute and fail.
func TestBuildsAreSentWhileLaterOnesAreRead(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		writeReport(t, filepath.Join(dir, "job", fmt.Sprint(i), "TEST-a.xml"), "com.acme.A", 5, false)
	}
	testkit.WriteFile(t, filepath.Join(dir, "job", "9", "TEST-empty.xml"), `<testsuite name="s" tests="0" timestamp="2026-04-01T10:00:00Z"></testsuite>`)
	pw := &putWatcher{Client: e.octaneClient(), first: make(chan struct{})}
	e.wrap = func(importer.Client) importer.Client { return pw }
	rec := &blockingRecorder{block: "TEST-empty.xml", release: pw.first, t: t}
	sum, _, err := e.run(context.Background(), func(o *importer.Options) { o.Reporter = rec }, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Scan(context.Background(), []string{dir})
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcomes[importer.Imported] != 5 || sum.Outcomes[importer.Empty] != 1 {
		t.Errorf("outcomes %v: want 5 imported, 1 empty", sum.Outcomes)
	}
	if got := len(e.srv.Builds()); got != 5 {
		t.Errorf("builds in the stand-in: %d, want 5", got)
	}
}

// progressRecorder keeps every progress report.
type progressRecorder struct {
	recorder
	progress []importer.Progress
}

func (r *progressRecorder) Progress(p importer.Progress) { r.progress = append(r.progress, p) }

// A scan that sends shows its first look at the reports as a phase of its own, counted up to
// every report, before the reading counts them again from those the ledger settled.
func TestProgressShowsTheFirstLook(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	for i := 1; i <= 6; i++ {
		writeReport(t, filepath.Join(dir, "job", fmt.Sprint(i), "TEST-a.xml"), "com.acme.A", 3, false)
	}
	rec := &progressRecorder{}
	if _, _, err := e.run(context.Background(), func(o *importer.Options) { o.Reporter = rec }, func(im *importer.Importer) (*importer.Summary, error) {
		return im.Scan(context.Background(), []string{dir})
	}); err != nil {
		t.Fatal(err)
	}
	var phases []string
	lookedAll, readFromZero := false, false
	for _, p := range rec.progress {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
			if p.Phase == "reading" && len(phases) > 1 {
				readFromZero = p.FilesDone == 0
			}
		}
		if p.Phase == "looking" && p.FilesDone == 6 && p.FilesTotal == 6 {
			lookedAll = true
		}
	}
	if len(phases) < 3 || phases[0] != "reading" || phases[1] != "looking" || phases[2] != "reading" {
		t.Errorf("phases %v; want reading (the manifests), looking, reading ...", phases)
	}
	if !lookedAll || !readFromZero {
		t.Errorf("the look counted every report: %v; the reading started again from 0: %v (%+v)", lookedAll, readFromZero, rec.progress)
	}
}
