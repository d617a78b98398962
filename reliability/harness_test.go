//go:build faults

// The suite drives the real octane-import binary against the stand-in Octane
// (sandbox) under crashes, Octane faults, disk faults and hostile inputs, and checks the
// stand-in's final state against the inputs run by run: nothing lost, nothing sent twice.
//
// Run it with `go test -tags faults ./reliability/`. RELIABILITY_SOAK=1 runs the longer
// variant of the crash test (100 kills instead of 24); RELIABILITY_SEED picks its seed.

package reliability_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// The credentials every test runs with. The secret must never show up in any output, log,
// ledger or payload (TestSecrets and every env's cleanup check it).
const (
	clientID     = "reliability-client"
	clientSecret = "Zq8-rel1ab1l1ty-S3CRET-do-not-print-4f1c"
	serverID     = "rel-ci"
)

var (
	// Figures for docs/reliability.md, printed at the end of the run.
	crashPoints    atomic.Int64
	faultsInjected atomic.Int64
	inputsTried    atomic.Int64
	runsChecked    atomic.Int64
	runsLost       atomic.Int64
	runsDuplicated atomic.Int64
	secretScans    atomic.Int64
)

// TestMain prints the suite's figures at the end; testkit.Main removes the binary the tests
// built (testkit.Binary: world-readable, so that a child run as an unprivileged user can run
// it) and the PostgreSQL server of the tests that started one.
func TestMain(m *testing.M) {
	code := testkit.Main(m) // and the PostgreSQL server of the tests that started one
	fmt.Printf("reliability figures: crash points survived %d, faults injected %d, hostile inputs tried %d, runs checked %d, runs lost %d, runs duplicated %d, secret scans %d\n",
		crashPoints.Load(), faultsInjected.Load(), inputsTried.Load(), runsChecked.Load(), runsLost.Load(), runsDuplicated.Load(), secretScans.Load())
	os.Exit(code)
}

func soak() bool { return os.Getenv("RELIABILITY_SOAK") != "" }

// env is one test's world: a stand-in Octane, a configuration pointing at it, a data folder,
// a ledger, and everything the binary printed (checked for the secret at the end).
type env struct {
	t     *testing.T
	srv   *sandbox.Server
	dir   string // holds the configuration and the ledger
	data  string // the folder scanned
	cfg   string
	state string

	mu      sync.Mutex
	outputs [][]byte
}

type envOptions struct {
	octane   sandbox.Options
	settings string // extra lines under settings:
	rule     string // extra lines under the rule's set:
	dir      string // use this folder instead of a t.TempDir()
	state    string // the ledger (settings.state): a postgres:// URL; default dir/state/ledger.db
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	o.octane.Credentials = []sandbox.Credential{{ID: clientID, Secret: clientSecret}}
	srv, err := sandbox.Start(o.octane)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	e := &env{t: t, srv: srv, dir: dir, data: filepath.Join(dir, "drops"), cfg: filepath.Join(dir, "octane-import.yaml"), state: filepath.Join(dir, "state", "ledger.db")}
	if o.state != "" {
		e.state = o.state
	}
	if err := os.MkdirAll(e.data, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := srv.Options()
	cfg := fmt.Sprintf(`version: 1
targets:
  - name: octane
    url: %s
    shared_space: %q
    workspace: %q
    client_id: %s
    client_secret: ${env:OCTANE_CLIENT_SECRET}
settings:
  state: %s
  rate_limit: 500
%s
rules:
  - name: drops
    match:
      path: "{job}/{build}/**/*.xml"
    set:
      server: { instance_id: %s, name: "Reliability CI", type: file }
      job: "{job}"
      build: "{build}"
%s
`, srv.URL(), opts.SharedSpace, opts.Workspace, clientID, e.state, indent(o.settings, "  "), serverID, indent(o.rule, "      "))
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			e.checkNoSecret()
		}
	})
	return e
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// result is one finished run of the binary.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	elapsed        time.Duration
	maxRSS         int64 // KiB
	killed         bool
}

func (r result) String() string {
	return fmt.Sprintf("octane-import %s: exit %d after %s\n--- stdout\n%s\n--- stderr\n%s", strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond), clipText(r.stdout, 4000), clipText(r.stderr, 4000))
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}

// command prepares the binary with the env's configuration and the secret in its environment.
func (e *env) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	full := append([]string{"--config", e.cfg}, args...)
	cmd := exec.CommandContext(ctx, testkit.Binary(e.t), full...)
	cmd.Env = append(os.Environ(), "OCTANE_CLIENT_SECRET="+clientSecret, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs the binary to the end (bounded by timeout).
func (e *env) run(timeout time.Duration, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, stdout, stderr := e.command(ctx, args...)
	return e.wait(cmd, stdout, stderr, args, cmd.Start())
}

func (e *env) wait(cmd *exec.Cmd, stdout, stderr *bytes.Buffer, args []string, startErr error) result {
	e.t.Helper()
	if startErr != nil {
		e.t.Fatalf("starting octane-import: %v", startErr)
	}
	start := time.Now()
	hwm := sampleHWM(cmd.Process.Pid)
	err := cmd.Wait()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start), code: -1}
	r.maxRSS = hwm()
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && r.maxRSS == 0 {
			// No /proc: rusage's maxrss, which on Linux also counts the parent's RSS at
			// the time of the fork (the child's exec keeps it), so it overestimates.
			r.maxRSS = ru.Maxrss
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = true
		}
	}
	if err != nil && r.code == -1 && !r.killed {
		e.t.Fatalf("octane-import %v: %v (timed out?)\n%s", args, err, r)
	}
	e.record(r)
	return r
}

// sampleHWM polls the child's peak RSS (VmHWM in /proc/PID/status, which describes the
// process's own memory after its exec) every 5 ms; the returned func stops the polling and
// gives the last value seen, in KiB (0 without /proc).
func sampleHWM(pid int) func() int64 {
	var last atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if data, err := os.ReadFile(path); err == nil {
				for _, line := range strings.Split(string(data), "\n") {
					if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						var kb int64
						if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil && kb > last.Load() {
							last.Store(kb)
						}
					}
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return last.Load()
	}
}

func (e *env) record(r result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outputs = append(e.outputs, []byte(r.stdout), []byte(r.stderr))
}

// scan runs `scan --output json` over the data folder and returns the result.
func (e *env) scan(extra ...string) result {
	e.t.Helper()
	args := append([]string{"scan", "--output", "json"}, extra...)
	return e.run(3*time.Minute, append(args, e.data)...)
}

// ---- the inputs -------------------------------------------------------------------------

// identity names one test run as Octane stores it.
type identity struct{ server, job, build, class, name string }

func (i identity) String() string {
	return fmt.Sprintf("%s/%s#%s %s.%s", i.server, i.job, i.build, i.class, clipText(i.name, 60))
}

// dataset is what was written to disk: the identities of every run that must arrive.
type dataset struct {
	runs    map[identity]bool
	reports []string
}

func newDataset() *dataset { return &dataset{runs: map[identity]bool{}} }

func (d *dataset) addReport(path string) {
	for _, p := range d.reports {
		if p == path {
			return
		}
	}
	d.reports = append(d.reports, path)
}

// writeBuilds writes jobs×builds build folders, each with reports×cases test cases
// (a mix of passed, failed and skipped), as data/JOB/BUILD/TEST-n.xml.
func (d *dataset) writeBuilds(t *testing.T, data string, jobs, builds, reports, cases int) {
	t.Helper()
	d.writeJobs(t, data, 0, jobs, builds, reports, cases)
}

// writeJobs is writeBuilds for the jobs numbered first to first+jobs-1. The reports are
// bench/gen's exact suites: one in seven cases fails, one in seven is skipped.
func (d *dataset) writeJobs(t *testing.T, data string, first, jobs, builds, reports, cases int) {
	t.Helper()
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for j := first; j < first+jobs; j++ {
		job := fmt.Sprintf("job-%02d", j)
		for b := range builds {
			build := fmt.Sprintf("%d", 100+b)
			start := base.Add(time.Duration(j*builds+b) * time.Hour)
			for r := range reports {
				path := filepath.Join(data, job, build, fmt.Sprintf("TEST-%d.xml", r))
				d.writeSuite(t, path, job, build, gen.Suite{
					Name:      fmt.Sprintf("com.example.%s.Suite%d", strings.ReplaceAll(job, "-", ""), r),
					Cases:     cases,
					Failed:    cases / 7,
					Skipped:   cases / 7,
					Timestamp: start.Add(time.Duration(r) * time.Minute),
					CaseName:  func(c int) string { return fmt.Sprintf("case %d of build %s", c, build) },
				})
			}
		}
	}
}

// writeSuite writes the report s at path (bench/gen) as a report of the build job#build:
// its runs must all arrive.
func (d *dataset) writeSuite(t *testing.T, path, job, build string, s gen.Suite) {
	t.Helper()
	if _, err := gen.WriteSuite(path, s); err != nil {
		t.Fatal(err)
	}
	for c := range s.Cases {
		d.runs[identity{serverID, job, build, s.Class(c), s.Case(c)}] = true
	}
	d.addReport(path)
}

// ---- the checks -------------------------------------------------------------------------

// tally is the comparison of the stand-in's runs with a dataset.
type tally struct {
	expected, lost, duplicated, unexpected int
	examples                               []string
}

// compare counts, run by run, what the stand-in holds against what must be there.
func (e *env) compare(d *dataset) tally {
	got := map[identity]int{}
	for _, r := range e.srv.Runs() {
		class := r.Class
		if r.Package != "" {
			class = r.Package + "." + r.Class // the report's classname, split by the reader
		}
		got[identity{r.ServerCIID, r.JobCIID, r.BuildCIID, class, r.Name}]++
	}
	tl := tally{expected: len(d.runs)}
	note := func(s string) {
		if len(tl.examples) < 10 {
			tl.examples = append(tl.examples, s)
		}
	}
	for id := range d.runs {
		switch n := got[id]; {
		case n == 0:
			tl.lost++
			note("lost: " + id.String())
		case n > 1:
			tl.duplicated += n - 1
			note(fmt.Sprintf("%d times: %s", n, id))
		}
	}
	for id, n := range got {
		if !d.runs[id] {
			tl.unexpected += n
			note("not in the inputs: " + id.String())
		}
	}
	sort.Strings(tl.examples)
	return tl
}

// exactlyOnce fails the test unless every run of d is in the stand-in exactly once and
// nothing else is, and adds the figures to the totals.
func (e *env) exactlyOnce(d *dataset) tally {
	e.t.Helper()
	tl := e.compare(d)
	runsChecked.Add(int64(tl.expected))
	runsLost.Add(int64(tl.lost))
	runsDuplicated.Add(int64(tl.duplicated))
	if tl.lost+tl.duplicated+tl.unexpected > 0 {
		e.t.Errorf("%d runs expected: %d lost, %d duplicated, %d not in the inputs:\n  %s",
			tl.expected, tl.lost, tl.duplicated, tl.unexpected, strings.Join(tl.examples, "\n  "))
	}
	return tl
}

// statusJSON is `octane-import status --output json`.
type statusJSON struct {
	Ledger string `json:"ledger"`
	ledger.Summary
	Failed []ledger.File `json:"failed"`
}

func (e *env) status() statusJSON {
	e.t.Helper()
	r := e.run(time.Minute, "status", "--output", "json")
	if r.code == 2 && (strings.Contains(r.stderr, "no ledger at") || strings.Contains(r.stderr, "no octane-import ledger in this database")) {
		return statusJSON{} // killed before the ledger was created: nothing recorded
	}
	if r.code != 0 {
		e.t.Fatalf("status failed:\n%s", r)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("status output: %v\n%s", err, r)
	}
	return s
}

// ledgerAgrees checks that the ledger says every report was accepted, with d's runs, and
// that nothing is left queued.
func (e *env) ledgerAgrees(d *dataset, failedOK int) statusJSON {
	e.t.Helper()
	s := e.status()
	if got := s.Files[ledger.Accepted]; got != len(d.reports)-failedOK {
		e.t.Errorf("ledger: %d files accepted, want %d (files by state %v; failed %v)", got, len(d.reports)-failedOK, s.Files, briefFiles(s.Failed))
	}
	if n := s.Payloads[ledger.Pending] + s.Payloads[ledger.PayloadSent]; n != 0 {
		e.t.Errorf("ledger: %d payloads still queued (%v)", n, s.Payloads)
	}
	if failedOK == 0 && s.Runs.Total() != len(d.runs) {
		e.t.Errorf("ledger: %d runs accepted, the inputs hold %d", s.Runs.Total(), len(d.runs))
	}
	return s
}

func briefFiles(fs []ledger.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s: %s", f.State, filepath.Base(f.Path), clipText(f.Error, 200)))
	}
	return out
}

// fileLines decodes the per-file JSON objects of a scan's --output json.
func fileLines(t *testing.T, stdout string) map[string]fileLine {
	t.Helper()
	out := map[string]fileLine{}
	dec := json.NewDecoder(strings.NewReader(stdout))
	for {
		var l fileLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("scan output is not JSON lines: %v\n%s", err, clipText(stdout, 2000))
		}
		if l.Type == "file" {
			out[l.Path] = l
		}
	}
	return out
}

type fileLine struct {
	Type    string `json:"type"`
	Path    string `json:"path"`
	Outcome string `json:"outcome"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// ---- secrets ----------------------------------------------------------------------------

// checkNoSecret looks for the secret in everything the binary printed, in the ledger file
// (raw, and every stored payload decompressed) and in what the stand-in stored.
func (e *env) checkNoSecret() {
	e.t.Helper()
	secretScans.Add(1)
	e.mu.Lock()
	outs := e.outputs
	e.mu.Unlock()
	for i, o := range outs {
		if bytes.Contains(o, []byte(clientSecret)) {
			e.t.Errorf("the client secret appears in the binary's output #%d:\n%s", i, clipText(string(o), 2000))
		}
	}
	if raw, err := os.ReadFile(e.state); err == nil {
		if bytes.Contains(raw, []byte(clientSecret)) {
			e.t.Errorf("the client secret appears in the ledger file %s", e.state)
		}
		l, err := ledger.Open(e.state, ledger.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err == nil {
			ps, _ := l.Payloads()
			for _, p := range ps {
				data, err := l.PayloadData(p.ID)
				if err != nil {
					continue // accepted: bytes dropped
				}
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					e.t.Errorf("payload %d: stored bytes are not gzip: %v", p.ID, err)
					continue
				}
				plain, _ := io.ReadAll(zr)
				if bytes.Contains(plain, []byte(clientSecret)) {
					e.t.Errorf("the client secret appears in payload %d", p.ID)
				}
			}
			l.Close()
		}
	}
	for _, r := range e.srv.Runs() {
		if strings.Contains(fmt.Sprint(r), clientSecret) {
			e.t.Errorf("the client secret reached Octane in run %s.%s", r.Class, r.Name)
		}
	}
	for _, tk := range e.srv.Tasks() {
		if strings.Contains(tk.ErrorDetails, clientSecret) {
			e.t.Errorf("the client secret is in task %s's details", tk.ID)
		}
	}
}
