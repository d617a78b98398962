package octane_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

var reXmllintResult = regexp.MustCompile(`(?m)^(.+) (validates|fails to validate)$`)

// validateXSD runs xmllint --schema on files and returns, per file, the
// xmllint messages of those that fail to validate (nil when all validate).
func validateXSD(t *testing.T, lint, xsd string, files []string) map[string][]string {
	t.Helper()
	args := append([]string{"--noout", "--nonet", "--schema", xsd}, files...)
	out, err := exec.Command(lint, args...).CombinedOutput()
	results := map[string]string{}
	for _, m := range reXmllintResult.FindAllStringSubmatch(string(out), -1) {
		results[m[1]] = m[2]
	}
	failed := map[string][]string{}
	for _, f := range files {
		switch results[f] {
		case "validates":
		case "fails to validate":
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, f+":") {
					failed[f] = append(failed[f], line)
				}
			}
		default:
			t.Fatalf("xmllint said nothing about %s (exit %v):\n%s", f, err, out)
		}
	}
	if len(failed) == 0 && err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
	if len(failed) == 0 {
		return nil
	}
	return failed
}

// corpusPayload encodes the runs of a report as the importer does (one
// payload, the report's runs, their failures and notes) under a build.
func corpusPayload(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	e := octane.NewEncoder(&b, octane.ResultContext{
		Build:      &octane.BuildRef{ServerID: "ci-server", JobID: "corpus/job", BuildID: "1"},
		TestFields: []octane.Field{{Type: "Framework", Value: "JUnit"}, {Type: "Test_Level", Value: "Unit Test"}},
	})
	start := time.UnixMilli(1764000000000)
	for i := range r.Runs {
		run := &r.Runs[i]
		tr := octane.TestRun{Module: run.Module, Package: run.Package, Class: run.Class, Name: run.Name,
			Status: string(run.Status), Duration: run.Duration, Started: run.Started}
		if tr.Started.IsZero() {
			tr.Started = start
		}
		if run.Failure != nil {
			tr.Error = &octane.RunError{Type: run.Failure.Type, Message: run.Failure.Message, Body: run.Failure.Body}
		}
		var desc []string
		if run.SkipMessage != "" {
			desc = append(desc, "Skipped: "+run.SkipMessage)
		}
		for _, a := range run.Attachments {
			desc = append(desc, "Attachment: "+a)
		}
		tr.Description = strings.Join(desc, "\n")
		if err := e.Encode(tr); err != nil {
			t.Fatalf("%s: run %q: %v", r.Path, run.Name, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEncoderAgainstServerXSD validates every encoder golden file, and the
// payload of each JUnit report of the corpus, against the test-results XSD as
// a live Octane serves it, with a real XSD validator (libxml2's xmllint).
func TestEncoderAgainstServerXSD(t *testing.T) {
	xsd := testkit.Shared(t, "octane/test-results.xsd")
	lint := testkit.Tool(t, "xmllint", "libxml2-utils")

	golden, err := filepath.Glob(filepath.Join("testdata", "*.golden.xml"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	corpus, err := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(xsd)), "corpus", "junit", "*.xml")) // shared/corpus/junit
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) == 0 {
		t.Fatal("the corpus holds no JUnit file")
	}
	dir := t.TempDir()
	files := append([]string(nil), golden...)
	source := map[string]string{}
	for _, f := range golden {
		source[f] = f
	}
	read := 0
	for _, f := range corpus {
		r, err := report.ReadFile(f)
		if err != nil {
			t.Logf("%s: not a readable report, no payload (%v)", filepath.Base(f), err)
			continue
		}
		read++
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".xml")+".octane.xml")
		if err := os.WriteFile(out, corpusPayload(t, r), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, out)
		source[out] = f
	}
	if read < len(corpus)/2 {
		t.Fatalf("only %d of %d corpus files read", read, len(corpus))
	}
	failed := validateXSD(t, lint, xsd, files)
	names := make([]string, 0, len(failed))
	for f := range failed {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		msgs := failed[f]
		if len(msgs) > 5 {
			msgs = append(msgs[:5], fmt.Sprintf("… %d more", len(failed[f])-5))
		}
		t.Errorf("%s (from %s) does not validate against the server XSD:\n  %s", filepath.Base(f), filepath.Base(source[f]), strings.Join(msgs, "\n  "))
	}
	t.Logf("%d golden files and %d corpus payloads checked with %s", len(golden), read, lint)
}

// The validator must really validate: a payload that breaks the XSD in each
// way the encoder guards against is refused.
func TestXSDValidatorRefuses(t *testing.T) {
	xsd := testkit.Shared(t, "octane/test-results.xsd")
	lint := testkit.Tool(t, "xmllint", "libxml2-utils")
	dir := t.TempDir()
	bad := map[string]string{
		"status":      `<test_run name="n" status="Green" duration="1"/>`,
		"long name":   `<test_run name="` + strings.Repeat("x", 256) + `" status="Passed" duration="1"/>`,
		"no duration": `<test_run name="n" status="Passed"/>`,
		"attribute":   `<test_run name="n" status="Passed" duration="1" external_assets="x"/>`,
		"order":       `<test_run name="n" status="Failed" duration="1"><description>d</description><error/></test_run>`,
		"url":         `<test_run name="n" status="Passed" duration="1" external_report_url="ftp://x.example"/>`,
	}
	var files []string
	for name, run := range bad {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".xml")
		doc := `<?xml version="1.0" encoding="UTF-8"?><test_result><test_runs>` + run + `</test_runs></test_result>`
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	failed := validateXSD(t, lint, xsd, files)
	for _, f := range files {
		if failed[f] == nil {
			t.Errorf("%s validates, but breaks the XSD", filepath.Base(f))
		}
	}
}
