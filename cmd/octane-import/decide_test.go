package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/sandbox"
)

// standIn starts a stand-in Octane for one test and returns it with a targets block (one
// target, named name) pointing at it; the credentials come from the environment.
func standIn(t *testing.T, name string) (*sandbox.Server, string) {
	t.Helper()
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	o := srv.Options()
	t.Setenv("OCTANE_CLIENT_ID", o.Credentials[0].ID)
	t.Setenv("OCTANE_CLIENT_SECRET", o.Credentials[0].Secret)
	return srv, "version: 1\ntargets:\n  - name: " + name + "\n    url: " + srv.URL() + "\n    shared_space: \"" + o.SharedSpace +
		"\"\n    workspace: \"" + o.Workspace + "\"\n    client_id: ${env:OCTANE_CLIENT_ID}\n    client_secret: ${env:OCTANE_CLIENT_SECRET}\n"
}

// explained is what `explain --output json` printed: the decision of each file and the
// summary's builds.
type explained struct {
	files  map[string]json.RawMessage // path → decision
	builds []mapping.Build
	exit   int
}

func explainRun(t *testing.T, cfg string, paths ...string) explained {
	t.Helper()
	args := append([]string{"explain", "--output", "json"}, paths...)
	if cfg != "" {
		args = append([]string{"--config", cfg}, args...)
	}
	out, errOut, code := cli(t, nil, args...)
	if code != exitOK {
		t.Fatalf("explain %v: exit %d\n%s", paths, code, errOut)
	}
	ex := explained{files: map[string]json.RawMessage{}, exit: code}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Type     string          `json:"type"`
			Path     string          `json:"path"`
			Decision json.RawMessage `json:"decision"`
			Error    string          `json:"error"`
			Builds   []mapping.Build `json:"builds"`
			Exit     int             `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("explain line %s: %v", line, err)
		}
		switch e.Type {
		case "summary":
			ex.builds = e.Builds
		case "file":
			if e.Error != "" {
				t.Fatalf("explain %v: %s: %s", paths, e.Path, e.Error)
			}
			ex.files[e.Path] = e.Decision
		}
	}
	return ex
}

// plannedBuilds is what `scan --dry-run --output json` plans, by build key.
func plannedBuilds(t *testing.T, cfg string, path string) map[string]mapping.Build {
	t.Helper()
	args := []string{"scan", "--dry-run", "--output", "json", path}
	if cfg != "" {
		args = append([]string{"--config", cfg}, args...)
	}
	out, errOut, code := cli(t, nil, args...)
	if code != exitOK {
		t.Fatalf("scan --dry-run %s: exit %d\n%s", path, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		Plan importer.Plan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	got := map[string]mapping.Build{}
	for _, pt := range sum.Plan.Targets {
		for _, b := range pt.Builds {
			if b.Decided == nil {
				t.Fatalf("plan of %s: build %s without its decision", path, b.ID)
			}
			got[b.Decided.Key()] = *b.Decided
		}
	}
	return got
}

// stored is a build as the stand-in holds it, in the terms of a decision.
type stored struct {
	Server          mapping.Server
	Pipeline        string
	Job, Build      string
	Name            string
	Start, Duration int64 // ms
	Result, Status  string
	Parameters      []mapping.Parameter
	Causes          []mapping.Cause
}

func storedOf(b mapping.Build) stored {
	s := stored{Server: b.Server, Pipeline: b.Pipeline, Job: b.Job, Build: b.Build, Name: b.BuildName,
		Start: b.Start.UnixMilli(), Duration: b.Duration.Milliseconds(), Result: b.Result, Status: b.Status,
		Parameters: b.Parameters, Causes: b.Causes}
	s.Server.Name = cmpOr(s.Server.Name, s.Server.InstanceID)
	s.Server.Type = cmpOr(s.Server.Type, "unknown") // Octane's type when none is given
	for i := range s.Parameters {
		s.Parameters[i].Type = cmpOr(s.Parameters[i].Type, "string")
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// standInBuilds is what the stand-in stored, by build key (target "t").
func standInBuilds(srv *sandbox.Server, target string) map[string]stored {
	servers := map[string]sandbox.CIServer{}
	byID := map[string]string{} // server entity id → instance id
	for _, s := range srv.Servers() {
		servers[s.InstanceID] = s
		byID[s.ID] = s.InstanceID
	}
	pipelineOf := map[string]string{} // server/job → pipeline name
	for _, p := range srv.Pipelines() {
		for _, j := range p.JobCIIDs {
			pipelineOf[byID[p.ServerID]+"/"+j] = p.Name
		}
	}
	out := map[string]stored{}
	for _, b := range srv.Builds() {
		s := servers[b.ServerCIID]
		st := stored{Server: mapping.Server{InstanceID: s.InstanceID, Name: s.Name, Type: s.Type, URL: s.URL},
			Pipeline: pipelineOf[b.ServerCIID+"/"+b.JobCIID], Job: b.JobCIID, Build: b.BuildCIID, Name: b.Name,
			Start: b.StartTime, Duration: b.Duration, Result: b.Result, Status: b.Status}
		for _, p := range b.Parameters {
			st.Parameters = append(st.Parameters, mapping.Parameter{Name: p.Name, Type: p.Type, Value: p.Value})
		}
		for _, c := range b.Causes {
			st.Causes = append(st.Causes, mapping.Cause{Job: c.JobCIID, Build: c.BuildCIID})
		}
		out[mapping.BuildKey(target, b.ServerCIID, b.JobCIID, b.BuildCIID)] = st
	}
	return out
}

// invariant checks the central promise on one tree: for every report, the decision is the
// same whether the user names the file, its folder or any folder above it up to root; the
// builds explain reports equal the dry-run plan and what the stand-in stores.
func invariant(t *testing.T, srv *sandbox.Server, target, cfg, root string) {
	t.Helper()
	whole := explainRun(t, cfg, root)
	if len(whole.files) == 0 {
		t.Fatalf("explain %s: no reports", root)
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range whole.files {
			if !yield(p) {
				return
			}
		}
	})
	for _, report := range paths {
		for named := report; ; named = filepath.Dir(named) {
			if named != root {
				part := explainRun(t, cfg, named)
				if d := jsonDiff(part.files[report], whole.files[report]); d != "" {
					t.Errorf("%s named as %s, then as %s: %s", report, named, root, d)
				}
			}
			if named == root || !strings.HasPrefix(named, root) {
				break
			}
		}
	}
	// The builds: explain's, the plan's and the stand-in's.
	plan := plannedBuilds(t, cfg, root)
	args := []string{"scan", "--output", "json", "--state", filepath.Join(t.TempDir(), "ledger.db"), root}
	if cfg != "" {
		args = append([]string{"--config", cfg}, args...)
	}
	if _, errOut, code := cli(t, nil, args...); code != exitOK {
		t.Fatalf("scan %s: exit %d\n%s", root, code, errOut)
	}
	got := standInBuilds(srv, target)
	if len(whole.builds) != len(got) || len(plan) != len(got) {
		t.Errorf("%d builds explained, %d planned, %d stored", len(whole.builds), len(plan), len(got))
	}
	for _, b := range whole.builds {
		key := b.Key()
		p, ok := plan[key]
		if !ok {
			t.Errorf("build %s: explained, not planned", key)
			continue
		}
		if want, have := storedOf(b), storedOf(p); !reflect.DeepEqual(want, have) {
			t.Errorf("build %s:\nexplained %+v\nplanned   %+v", key, want, have)
		}
		if want, have := storedOf(b), got[key]; !reflect.DeepEqual(want, have) {
			t.Errorf("build %s:\nexplained %+v\nstored    %+v", key, want, have)
		}
	}
}

// jsonDiff lists the top-level keys whose values differ between two decisions, leaving
// out the keys named in skip; "" when they are equal.
func jsonDiff(a, b json.RawMessage, skip ...string) string {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return "not both decisions"
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(x, y))) {
		if !slices.Contains(skip, k) && !reflect.DeepEqual(x[k], y[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: %v ≠ %v", k, x[k], y[k]))
		}
	}
	return strings.Join(diffs, "; ")
}

func mergeKeys(x, y map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range x {
		out[k] = true
	}
	for k := range y {
		out[k] = true
	}
	return out
}

// TestDecisionIsTheSameWhateverPathNamesTheReport is issue 12's invariant over the example
// builds, every layout of docs/cookbook.md and sources nested two deep.
func TestDecisionIsTheSameWhateverPathNamesTheReport(t *testing.T) {
	repo := testkit.RepoRoot(t)
	t.Run("example builds, a source and a rule", func(t *testing.T) {
		srv, targets := standIn(t, "octane")
		root := testkit.CopyTree(t, filepath.Join(repo, "testdata", "builds"))
		cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
		testkit.WriteFile(t, cfg, targets+"sources:\n  - dir: "+root+"\nrules:\n  - match: { path: \"{team}/{job}/{build}/**/*.xml\" }\n"+
			"    set: { server: { instance_id: laptop, type: file }, pipeline: \"{team}\", job: \"{team}-{job}\", build: \"{build}\" }\n")
		invariant(t, srv, "octane", cfg, root)
	})
	t.Run("example builds, the built-in rule", func(t *testing.T) {
		root := testkit.CopyTree(t, filepath.Join(repo, "testdata", "builds"))
		t.Chdir(t.TempDir()) // no octane-import.yaml here
		whole := explainRun(t, "", root)
		// Outside every source the root is the path named (it is in the decision), but the
		// built-in rule reads the absolute path: everything else is the same.
		for report, want := range whole.files {
			for named := report; strings.HasPrefix(named, root); named = filepath.Dir(named) {
				if d := jsonDiff(explainRun(t, "", named).files[report], want, "root"); d != "" {
					t.Errorf("%s named as %s, then as %s: %s", report, named, root, d)
				}
			}
		}
	})
	targets, layouts, err := testkit.Cookbook(filepath.Join(repo, "docs", "cookbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layouts {
		t.Run("cookbook "+l.Name, func(t *testing.T) {
			srv, ours := standIn(t, "octane")
			root := filepath.Join(t.TempDir(), "drops")
			for name, content := range l.Files {
				if content == "" {
					content = testkit.SmallReport
				}
				testkit.WriteFile(t, filepath.Join(root, filepath.FromSlash(name)), content)
			}
			cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
			_ = targets // the cookbook's targets block names one target, "octane": ours has its name
			testkit.WriteFile(t, cfg, ours+strings.ReplaceAll(l.Config, "/drops", root))
			// Unmatched files (the scratch folders of some layouts) are left out of the tree.
			for _, r := range l.Rows {
				if r.Job == "unmatched" {
					must(t, os.Remove(filepath.Join(root, filepath.FromSlash(r.Path))))
				}
			}
			invariant(t, srv, "octane", cfg, root)
		})
	}
	t.Run("sources nested two deep", func(t *testing.T) {
		srv, targets := standIn(t, "octane")
		tree := filepath.Join(t.TempDir(), "tree")
		for _, p := range []string{"other/web/e2e/7/a.xml", "teams/search/index/5/a.xml", "teams/payments/unit/41/a.xml", "teams/payments/unit/41/b.xml"} {
			testkit.WriteFile(t, filepath.Join(tree, filepath.FromSlash(p)), testkit.SmallReport)
		}
		cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
		testkit.WriteFile(t, cfg, targets+`sources:
  - dir: `+tree+`
  - dir: `+tree+`/teams
  - dir: `+tree+`/teams/payments
rules:
  - name: in-payments
    match: { path: "{job}/{build}/*.xml" }
    set: { server: { instance_id: s }, job: "payments-{job}", build: "{build}" }
  - name: in-teams
    match: { path: "{team}/{job}/{build}/*.xml" }
    set: { server: { instance_id: s }, job: "{team}-{job}", build: "{build}" }
  - name: in-tree
    match: { path: "{area}/{team}/{job}/{build}/*.xml" }
    set: { server: { instance_id: s }, job: "{area}-{team}-{job}", build: "{build}" }
`)
		invariant(t, srv, "octane", cfg, tree)
		jobs := map[string]bool{}
		for _, b := range srv.Builds() {
			jobs[b.JobCIID] = true
		}
		want := map[string]bool{"other-web-e2e": true, "search-index": true, "payments-unit": true}
		if !reflect.DeepEqual(jobs, want) {
			t.Errorf("jobs %v, want %v (each report's rule sees the path under its innermost source)", jobs, want)
		}
	})
}

func must(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// --- Issue 12's defects, each as the user met it. ---

// Defect 1: with a source, a rule's path is relative to the source, whatever path is named.
func TestDefectTwoRoots(t *testing.T) {
	_, targets := standIn(t, "octane")
	drops := filepath.Join(t.TempDir(), "drops")
	testkit.WriteFile(t, filepath.Join(drops, "payments", "unit", "1041", "TEST-a.xml"), testkit.SmallReport)
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"sources:\n  - dir: "+drops+"\nrules:\n  - match: { path: \"{team}/{job}/{build}/*.xml\" }\n"+
		"    set: { server: { instance_id: s }, job: \"{team}-{job}\", build: \"{build}\" }\n")
	for _, named := range []string{drops, filepath.Join(drops, "payments")} {
		out, errOut, code := cli(t, nil, "explain", "--config", cfg, named)
		if code != exitOK || !strings.Contains(out, "payments-unit") {
			t.Errorf("explain %s: exit %d\n%s%s", named, code, out, errOut)
		}
		out, errOut, code = cli(t, nil, "scan", "--dry-run", "--config", cfg, named)
		if code != exitOK || !strings.Contains(out, "s/payments-unit#1041") {
			t.Errorf("scan --dry-run %s: exit %d\n%s%s", named, code, out, errOut)
		}
	}
}

// Defect 2: a report finds its build's manifest from a narrower path.
func TestDefectManifestFoundFromANarrowerPath(t *testing.T) {
	builds := testkit.CopyTree(t, filepath.Join(testkit.RepoRoot(t), "testdata", "builds"))
	t.Chdir(t.TempDir())
	report := filepath.Join(builds, "payments", "unit", "1041", "surefire-reports", "TEST-com.acme.payments.ledger.LedgerTest.xml")
	out, errOut, code := cli(t, nil, "scan", "--dry-run", report)
	if code != exitOK || !strings.Contains(out, "jenkins-payments-prod/payments-unit#1041") {
		t.Errorf("scan --dry-run of one report: exit %d\n%s%s", code, out, errOut)
	}
	_, targets := standIn(t, "octane")
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"sources:\n  - dir: "+builds+"\nrules:\n  - match: { path: \"{team}/{job}/{build}/**/*.xml\" }\n"+
		"    set: { server: { instance_id: s }, job: \"{team}-{job}\", build: \"{build}\" }\n")
	ex := explainRun(t, cfg, filepath.Join(builds, "payments", "unit", "1041"))
	if len(ex.files) != 3 {
		t.Fatalf("explain of build 1041's folder: %d reports decided, want 3", len(ex.files))
	}
	for path, d := range ex.files {
		if !strings.Contains(string(d), `"manifest":"`+filepath.Join(builds, "payments", "unit", "1041", "octane-build.yaml")+`"`) {
			t.Errorf("%s: decided without its manifest: %s", path, d)
		}
	}
}

// Defects 3 and 4: explain shows the manifest's duration (and its causes and parameters),
// and the manifest's start is what is sent, even when a report says its suite ran earlier.
func TestDefectExplainShowsWhatScanSends(t *testing.T) {
	srv, targets := standIn(t, "octane")
	builds := testkit.CopyTree(t, filepath.Join(testkit.RepoRoot(t), "testdata", "builds"))
	// A suite timestamp before the manifest's start (2026-11-20T09:14:03Z).
	report := filepath.Join(builds, "payments", "unit", "1041", "surefire-reports", "TEST-com.acme.payments.ledger.LedgerTest.xml")
	data, err := os.ReadFile(report)
	must(t, err)
	early := strings.Replace(string(data), "<testsuite ", `<testsuite timestamp="2026-11-20T08:00:00Z" `, 1)
	early = strings.Replace(early, ` timestamp="2026-11-20T09:`, ` data-was="`, 1)
	testkit.WriteFile(t, report, early)
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"rules:\n  - set: { server: { instance_id: s }, job: j, build: b }\n")
	dir := filepath.Join(builds, "payments", "unit", "1041")

	out, errOut, code := cli(t, nil, "explain", "--config", cfg, dir)
	for _, want := range []string{"duration:      2m31s  [manifest]", "start:         2026-11-20T09:14:03Z  [manifest]",
		"parameters:    BRANCH=main SKIP_SLOW=false  [manifest]", "causes:        payments-pipeline#311  [manifest]"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("explain lacks %q (exit %d)\n%s%s", want, code, out, errOut)
		}
	}
	if _, errOut, code := cli(t, nil, "scan", "--config", cfg, "--state", filepath.Join(t.TempDir(), "l.db"), dir); code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut)
	}
	b := srv.Builds()
	if len(b) != 1 || b[0].StartTime != time.Date(2026, 11, 20, 9, 14, 3, 0, time.UTC).UnixMilli() || b[0].Duration != 151000 {
		t.Errorf("stored: %+v, want the manifest's start 09:14:03Z and duration 151000 ms", b)
	}
}

// Defect 5: one CI server description per instance id, the fullest, whatever sorts first,
// with a warning that names both places.
func TestDefectCIServerFromTheFullestDescription(t *testing.T) {
	srv, targets := standIn(t, "octane")
	builds := testkit.CopyTree(t, filepath.Join(testkit.RepoRoot(t), "testdata", "builds"))
	// An older build without a manifest, described by the rule as the same server.
	older := filepath.Join(builds, "payments", "unit", "1000", "TEST-old.xml")
	testkit.WriteFile(t, older, strings.Replace(testkit.SmallReport, "2026-11-20T10:00:00", "2025-01-01T10:00:00Z", 1))
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"rules:\n  - name: bare\n    set: { server: { instance_id: jenkins-payments-prod, type: file }, job: payments-unit, build: \"{file.parent}\" }\n")
	_, errOut, code := cli(t, nil, "scan", "--config", cfg, "--state", filepath.Join(t.TempDir(), "l.db"), filepath.Join(builds, "payments"))
	if code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut)
	}
	var found bool
	for _, s := range srv.Servers() {
		if s.InstanceID == "jenkins-payments-prod" {
			found = true
			if s.Name != "Payments Jenkins" || s.Type != "jenkins" || s.URL != "https://jenkins.payments.example.com/" {
				t.Errorf("server made from the thinner description: %+v", s)
			}
		}
	}
	if !found {
		t.Fatal("no server jenkins-payments-prod")
	}
	if !strings.Contains(errOut, `CI server "jenkins-payments-prod" is described differently by`) || !strings.Contains(errOut, `rule "bare" (line 10)`) ||
		!strings.Contains(errOut, "octane-build.yaml") {
		t.Errorf("no warning naming both places:\n%s", errOut)
	}
}

// Defect 6: the JSON summary's exit_code is the process's.
func TestDefectOneExitStatus(t *testing.T) {
	empty := t.TempDir()
	out, _, code := cli(t, nil, "scan", "--sandbox", "--fail-on-no-tests", "--output", "json", empty)
	var sum struct {
		Exit int `json:"exit_code"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum))
	if code != exitFailed || sum.Exit != code {
		t.Errorf("exit %d, JSON exit_code %d; want both 1", code, sum.Exit)
	}
}

// Defect 7: a zone-less timestamp is read in the configured zone, whatever the machine's,
// and explain says so.
func TestDefectZonelessTimestamps(t *testing.T) {
	srv, targets := standIn(t, "octane")
	drops := filepath.Join(t.TempDir(), "drops")
	testkit.WriteFile(t, filepath.Join(drops, "job", "1", "r.xml"),
		`<testsuite name="s" timestamp="2020-11-18T13:17:18"><testcase classname="a.B" name="t" time="1"/></testsuite>`)
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"sources:\n  - dir: "+drops+"\n    timezone: Europe/Berlin\nrules:\n  - match: { path: \"{job}/{build}/*.xml\" }\n"+
		"    set: { server: { instance_id: s }, job: \"{job}\", build: \"{build}\" }\n")
	out, errOut, code := cli(t, nil, "explain", "--config", cfg, drops)
	if code != exitOK || !strings.Contains(out, "2020-11-18T12:17:18Z  [report; zone-less, read as Europe/Berlin]") {
		t.Errorf("explain: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := cli(t, nil, "scan", "--config", cfg, "--state", filepath.Join(t.TempDir(), "l.db"), drops); code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut)
	}
	want := time.Date(2020, 11, 18, 12, 17, 18, 0, time.UTC).UnixMilli()
	if b := srv.Builds(); len(b) != 1 || b[0].StartTime != want {
		t.Errorf("build %+v, want start %d", b, want)
	}
	if r := srv.Runs(); len(r) != 1 || r[0].Started != want {
		t.Errorf("run %+v, want started %d", r, want)
	}
	// Without a setting, the machine's zone, and explain names it. (The machine's zone is
	// not changed here: time.Local is read by other goroutines.)
	testkit.WriteFile(t, cfg, targets+"rules:\n  - set: { server: { instance_id: s }, job: j, build: b }\n")
	out, _, _ = cli(t, nil, "explain", "--config", cfg, drops)
	local := time.Date(2020, 11, 18, 13, 17, 18, 0, time.Local).UTC().Format(time.RFC3339)
	if want := local + "  [report; zone-less, read as " + mapping.ZoneName(time.Local) + "]"; !strings.Contains(out, want) {
		t.Errorf("explain without a timezone: want %q in\n%s", want, out)
	}
}

// Defect 8: without a manifest, a build's duration is how long its suites ran, not its
// longest test (mocha: one suite timestamp, 109 tests one after another).
func TestDefectBuildDurationFromReports(t *testing.T) {
	srv, targets := standIn(t, "octane")
	var b strings.Builder
	b.WriteString(`<testsuites><testsuite name="Root Suite" timestamp="2026-11-20T10:00:00Z" tests="109" time="0.29">`)
	b.WriteString(`<testcase classname="a" name="slow" time="0.117"/><testcase classname="a" name="medium" time="0.042"/>`)
	for i := range 107 {
		b.WriteString(`<testcase classname="a" name="t` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `" time="0.001"/>`)
	}
	b.WriteString(`</testsuite></testsuites>`)
	drops := filepath.Join(t.TempDir(), "drops")
	testkit.WriteFile(t, filepath.Join(drops, "mocha", "1", "test-results.xml"), b.String())
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, targets+"rules:\n  - set: { server: { instance_id: s }, job: j, build: b }\n")
	if _, errOut, code := cli(t, nil, "scan", "--config", cfg, "--state", filepath.Join(t.TempDir(), "l.db"), drops); code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut)
	}
	// The tests ran one after another: 266 ms; the suite says 290 ms.
	if got := srv.Builds(); len(got) != 1 || got[0].Duration < 266 || got[0].Duration > 290 {
		t.Errorf("build %+v, want a duration of 266 to 290 ms", got)
	}
}

// Defect 9: the reader's adjustments reach the user: in each file's JSON, in the text
// summary, with -v, and in explain.
func TestDefectReaderWarningsReachTheUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "job", "1")
	testkit.WriteFile(t, filepath.Join(dir, "r.xml"), "<testsuite name=\"s\">\n<testcase classname=\"a.B\" name=\"t\" time=\"3000000000\"/>\n</testsuite>\n")
	testkit.WriteFile(t, filepath.Join(dir, "clean.xml"), testkit.SmallReport)
	t.Chdir(t.TempDir())

	out, _, code := cli(t, nil, "scan", "--sandbox", "--output", "json", dir)
	var warned []importer.Warning
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f importer.FileResult
		must(t, json.Unmarshal([]byte(line), &f))
		if strings.HasSuffix(f.Path, "r.xml") {
			warned = f.Warnings
		} else if strings.HasSuffix(f.Path, "clean.xml") && len(f.Warnings) > 0 {
			t.Errorf("clean.xml has warnings: %v", f.Warnings)
		}
	}
	if code != exitOK || len(warned) != 1 || warned[0].Line != 2 || warned[0].Code == "" || !strings.Contains(warned[0].Message, "nanoseconds") {
		t.Errorf("exit %d, warnings of r.xml: %+v", code, warned)
	}
	_, errOut, _ := cli(t, nil, "scan", "--sandbox", dir)
	if !strings.Contains(errOut, "1 file read with adjustments (-v lists them)") {
		t.Errorf("text summary: %s", errOut)
	}
	_, errOut, _ = cli(t, nil, "scan", "--sandbox", "-v", dir)
	if !strings.Contains(errOut, "r.xml:2: ") || !strings.Contains(errOut, "nanoseconds") {
		t.Errorf("-v: %s", errOut)
	}
	out, _, _ = cli(t, nil, "explain", dir)
	if !strings.Contains(out, "warnings:      line 2: ") {
		t.Errorf("explain:\n%s", out)
	}
}
