package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// layoutReport is one file of the shared drive of the worked example in
// docs/configuration.md, with what the report says.
type layoutReport struct {
	rel   string
	suite string            // suite timestamp, "" for none
	props map[string]string // JUnit suite properties
}

var workedLayout = []layoutReport{
	{"payments/api/1041/surefire-reports/TEST-com.acme.pay.ApiTest.xml", "2026-03-02T08:15:00Z", map[string]string{"branch": "main"}},
	{"payments/api/1042/surefire-reports/TEST-com.acme.pay.ApiTest.xml", "2026-03-03T08:20:00Z", map[string]string{"branch": "release/2026.1"}},
	{"payments/ledger/88/surefire-reports/TEST-com.acme.ledger.BookTest.xml", "", nil},
	{"search/indexer/5/surefire-reports/TEST-com.acme.search.IndexTest.xml", "2026-03-04T12:00:00Z", nil},
	{"search/indexer/5/tmp/TEST-partial.xml", "", nil}, // excluded by the source
	{"web/checkout-e2e/build-311/results/junit-chrome.xml", "2026-03-03T21:01:00Z", nil},
	{"web/checkout-e2e/build-311/results/junit-firefox.xml", "2026-03-03T21:02:00Z", nil},
	{"web/checkout-e2e/build-312/results/junit-chrome.xml", "2026-03-04T21:01:00Z", nil},
	{"mobile/ios-smoke_2026.03.01-1.xml", "2026-03-01T06:00:00Z", nil},
	{"scratch/notes.xml", "", nil},
}

// manifest311 is web/checkout-e2e/build-311/octane-build.yaml of the worked example.
const manifest311 = `version: 1
server:
  instance_id: jenkins-web
  name: Web Jenkins
  type: jenkins
  url: https://jenkins.web.example.com
job:
  id: checkout-e2e
  name: Checkout end-to-end
build:
  id: "311"
  started: 2026-03-03T21:00:00Z
  duration: 12m34s
  result: unstable
environment:
  OS: Linux
`

// writeWorkedExample writes the shared drive and its configuration (the example file, with
// /drops in a temporary folder) and returns the drive's folder and the configuration's path.
func writeWorkedExample(t *testing.T) (root, cfg string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "drops")
	mtime := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC)
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		testkit.WriteFile(t, p, content)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range workedLayout {
		var b strings.Builder
		b.WriteString(`<testsuite name="s" tests="2" time="1.5"`)
		if f.suite != "" {
			b.WriteString(` timestamp="` + f.suite + `"`)
		}
		b.WriteString(">")
		if len(f.props) > 0 {
			b.WriteString("<properties>")
			for k, v := range f.props {
				b.WriteString(`<property name="` + k + `" value="` + v + `"/>`)
			}
			b.WriteString("</properties>")
		}
		b.WriteString(`<testcase classname="a.B" name="one" time="0.5"/><testcase classname="a.B" name="two" time="1"/></testsuite>`)
		write(f.rel, b.String())
	}
	write("web/checkout-e2e/build-311/octane-build.yaml", manifest311)
	src, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "octane-import.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "octane-staging-secret")
	testkit.WriteFile(t, secret, "staging-secret\n")
	text := strings.ReplaceAll(string(src), "/run/secrets/octane-staging-secret", filepath.ToSlash(secret))
	text = strings.ReplaceAll(text, "/drops", filepath.ToSlash(root))
	text = strings.ReplaceAll(text, "/var/lib/octane-import/state.db", filepath.ToSlash(filepath.Join(dir, "state.db")))
	cfg = filepath.Join(dir, "octane-import.yaml")
	testkit.WriteFile(t, cfg, text)
	t.Setenv("OCTANE_CLIENT_ID", "id-123")
	t.Setenv("OCTANE_CLIENT_SECRET", "s3cret-value")
	return root, cfg
}

// TestExplainWorkedExample is the worked example of docs/configuration.md through the
// command: every report's decision, with where each value comes from, then the builds.
func TestExplainWorkedExample(t *testing.T) {
	t.Setenv("TZ", "UTC")
	root, cfg := writeWorkedExample(t)
	relabel := func(s string) string { return strings.ReplaceAll(s, root, "/drops") }

	out, errOut, code := cli(t, nil, "explain", "--config", cfg, root)
	if code != exitFailed || !strings.Contains(errOut, "1 of 9 files could not be mapped") {
		t.Errorf("explain of a tree with an unmatched file: exit %d, stderr %q", code, errOut)
	}
	testkit.Golden(t, filepath.Join(testdata, "explain-worked-example.golden"), relabel(out))

	out, _, code = cli(t, nil, "explain", "--config", cfg, "--output", "json", root)
	if code != exitFailed {
		t.Errorf("explain --output json: exit %d, want the same 1 as the text form", code)
	}
	testkit.Golden(t, filepath.Join(testdata, "explain-worked-example.jsonl.golden"), relabel(out))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	files := 0
	for i, line := range lines {
		var e struct {
			Type      string `json:"type"`
			Path      string `json:"path"`
			Matched   bool   `json:"matched"`
			Unmatched bool   `json:"unmatched"`
			Exit      int    `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad JSON line %s: %v", line, err)
		}
		if i == len(lines)-1 {
			if e.Type != "summary" || e.Exit != code {
				t.Errorf("last line: %s (want the summary with exit_code %d)", line, code)
			}
			continue
		}
		files++
		if !e.Matched && !e.Unmatched {
			t.Errorf("%s: neither matched nor unmatched", e.Path)
		}
		if strings.HasSuffix(e.Path, "scratch/notes.xml") != e.Unmatched {
			t.Errorf("%s: unmatched = %v", e.Path, e.Unmatched)
		}
	}
	if files != len(workedLayout)-1 {
		t.Errorf("%d entries, want %d (every report but the excluded one)", files, len(workedLayout)-1)
	}
}

// TestExplainBuiltInRule is the same tree without a configuration file: the built-in rule.
func TestExplainBuiltInRule(t *testing.T) {
	t.Setenv("TZ", "UTC")
	root, _ := writeWorkedExample(t)
	_, errOut, code := cli(t, nil, "explain", "--config", filepath.Join(root, "..", "octane-import.yaml.absent"), root)
	if code != exitUsage {
		t.Errorf("a named configuration file that is absent: exit %d, want 2 (%s)", code, errOut)
	}
	t.Chdir(t.TempDir())
	out, errOut, code := cli(t, nil, "explain", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	testkit.Golden(t, filepath.Join(testdata, "explain-built-in.golden"), strings.ReplaceAll(out, root, "/drops"))
}

// TestExplainExampleBuilds: the README's rule over testdata/builds; the manifests' duration,
// parameters and causes are shown, as scan sends them.
func TestExplainExampleBuilds(t *testing.T) {
	t.Setenv("TZ", "UTC")
	builds, err := filepath.Abs(filepath.Join("..", "..", "testdata", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "octane-import.yaml")
	testkit.WriteFile(t, cfg, `targets:
  - name: sandbox
    url: http://127.0.0.1:8080
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: ${env:OCTANE_CLIENT_SECRET}
sources:
  - dir: `+builds+`
rules:
  - name: team-job-build
    match:
      path: "{team}/{job}/{build}/**/*.xml"
    set:
      server: { instance_id: my-laptop, type: file }
      pipeline: "{team}"
      job: "{team}-{job}"
      build: "{build}"
`)
	t.Setenv("OCTANE_CLIENT_SECRET", "sandbox-secret")
	out, errOut, code := cli(t, nil, "explain", "--config", cfg, builds)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	testkit.Golden(t, filepath.Join(testdata, "explain-example-builds.golden"), strings.ReplaceAll(out, builds, "testdata/builds"))
	for _, want := range []string{"duration:      2m31s  [manifest]", "parameters:    BRANCH=main SKIP_SLOW=false  [manifest]",
		"causes:        payments-pipeline#311  [manifest]"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q", want)
		}
	}
}
