package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// layoutFile is one file of the shared drive of the worked example, with
// what the report reader would have found in it.
type layoutFile struct {
	rel   string
	suite string            // earliest suite timestamp, RFC 3339, "" for none
	props map[string]string // JUnit suite properties
}

var layout = []layoutFile{
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

// manifest311 is web/checkout-e2e/build-311/octane-build.yaml, and
// manifest311Fields what manifest.Fields() gives for it.
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

var manifest311Fields = map[string]string{
	"server.instance_id": "jenkins-web", "server.name": "Web Jenkins", "server.type": "jenkins",
	"server.url": "https://jenkins.web.example.com", "pipeline": "checkout-e2e", "root_job": "checkout-e2e",
	"job": "checkout-e2e", "job.name": "Checkout end-to-end", "build": "311", "build.name": "311",
	"status": "finished", "result": "unstable", "release": "", "started": "2026-03-03T21:00:00Z",
	"environment.OS": "Linux",
}

// buildLayout writes the shared drive into a temporary directory with fixed
// modification times.
func buildLayout(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "drops")
	mtime := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC)
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range layout {
		write(f.rel, `<testsuite name="s" tests="1"><testcase name="t"/></testsuite>`)
	}
	write("web/checkout-e2e/build-311/octane-build.yaml", manifest311)
	return root
}

// explainLayout runs Decide over every report of the layout, as `explain`
// does, and returns the text and JSON forms.
func explainLayout(t *testing.T, cfg *Config, root string, env func(string) (string, bool)) (text, jsonl []byte) {
	t.Helper()
	info := map[string]layoutFile{}
	for _, f := range layout {
		info[f.rel] = f
	}
	src := cfg.Sources[0]
	var tb, jb bytes.Buffer
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if !src.IsReport(rel) {
			return nil
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		in := Input{Path: p, Root: root, ModTime: st.ModTime().UTC(), Properties: info[rel].props, Env: env}
		if s := info[rel].suite; s != "" {
			in.SuiteTime, _ = time.Parse(time.RFC3339, s)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(p)), "octane-build.yaml")); err == nil {
			in.Manifest = manifest311Fields
		}
		d, derr := cfg.Decide(in)
		label := "/drops/" + rel
		if derr != nil {
			// The error names the temporary path; show the label instead.
			derr = relabel{derr, p, label}
		}
		WriteExplain(&tb, label, d, derr)
		return WriteExplainJSON(&jb, label, d, derr)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb.Bytes(), jb.Bytes()
}

// relabel rewrites the temporary path in an error message.
type relabel struct {
	err      error
	old, new string
}

func (r relabel) Error() string { return strings.ReplaceAll(r.err.Error(), r.old, r.new) }
func (r relabel) Unwrap() error { return r.err }

func TestExplainLayout(t *testing.T) {
	cfg := loadExample(t)
	root := buildLayout(t)
	text, jsonl := explainLayout(t, cfg, root, envMap(nil))
	golden(t, "explain.golden", text)
	golden(t, "explain.golden.jsonl", jsonl)

	// Every report is accounted for: decided or reported unmatched.
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		var e ExplainEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("bad JSON line %s: %v", line, err)
		}
		if !e.Matched && !e.Unmatched {
			t.Errorf("%s: neither matched nor unmatched", e.Path)
		}
		if e.Path == "/drops/scratch/notes.xml" && !e.Unmatched {
			t.Errorf("scratch/notes.xml should be unmatched")
		}
		n++
	}
	if n != len(layout)-1 {
		t.Errorf("%d entries, want %d (every report but the excluded one)", n, len(layout)-1)
	}
}

func TestExplainDefault(t *testing.T) {
	cfg := Default("buildhost")
	cfg.Sources = []Source{{Dir: "/drops"}}
	root := buildLayout(t)
	text, _ := explainLayout(t, cfg, root, envMap(nil))
	golden(t, "explain-default.golden", text)
}

func TestWriteExplainEdgeCases(t *testing.T) {
	var b bytes.Buffer
	WriteExplain(&b, "a.xml", nil, errors.New("boom"))
	WriteExplain(&b, "b.xml", nil, nil)
	d := &Decision{Rule: "r", RuleLine: 3, Target: "t", Server: Server{InstanceID: "s p", Name: "s p"}, Job: "j", JobName: "j",
		Build: "b", BuildName: "b", ReleaseID: 4, Milestone: 5, BacklogItems: []int64{7, 8}, Environment: map[string]string{"a=b": "c,d"}}
	WriteExplain(&b, "c.xml", d, nil)
	want := `a.xml
  error:         boom

b.xml
  error:         no decision

c.xml
  rule:          r (line 3)
  target:        t
  server:        "s p"
  pipeline:      ""
  job:           j
  build:         b
  result:        derived from the runs (any Failed gives failure)
  release:       id 4
  milestone:     id 5
  environment:   "a=b"="c,d"
  backlog items: 7, 8

`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestDocsWorkedExample keeps the worked example in docs/configuration.md
// in step with the example file and the golden explain output.
func TestDocsWorkedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	for _, name := range []string{"../docs/examples/octane-import.yaml", "testdata/explain.golden", "testdata/mistakes.golden"} {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, bytes.TrimRight(want, "\n")) {
			t.Errorf("docs/configuration.md does not contain the current %s", name)
		}
	}
	if !bytes.Contains(doc, []byte(strings.TrimSpace(manifest311))) {
		t.Error("docs/configuration.md does not contain the manifest of build 311")
	}
}
