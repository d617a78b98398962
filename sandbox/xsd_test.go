package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

// The stand-in's own validator and the XSD a live Octane serves
// (shared/octane/test-results.xsd), checked by libxml2's xmllint, agree on
// every payload below: the stand-in refuses what the server's XSD refuses.
func TestValidatorAgreesWithServerXSD(t *testing.T) {
	xsd := testkit.Shared(t, "octane/test-results.xsd")
	lint := testkit.Tool(t, "xmllint", "libxml2-utils")
	runs := map[string]string{
		"minimal":              run("a", "Passed"),
		"all attributes":       `<test_run module="m" package="p" class="C" name="n" run_name="r" duration="1" status="Planned" manual="true" started="1" external_report_url="https://x.example/r" external_test_id="t" external_run_id="r" run_type="MBT"/>`,
		"error and desc":       `<test_run name="n" status="Failed" duration="1"><error type="T" message="m">trace</error><description>d</description></test_run>`,
		"per-run context":      `<test_run name="n" status="Passed" duration="1"><release name="_default_"/><test_fields><test_field type="Framework" value="JUnit"/></test_fields><environment><taxonomy type="OS" value="Linux"/></environment></test_run>`,
		"steps":                `<test_run name="n" status="Passed" duration="1"><steps><step name="s" duration="1" status="Passed"/></steps></test_run>`,
		"bad status":           `<test_run name="n" status="Green" duration="1"/>`,
		"empty name":           `<test_run name="" status="Passed" duration="1"/>`,
		"name 256":             `<test_run name="` + strings.Repeat("x", 256) + `" status="Passed" duration="1"/>`,
		"class 256":            `<test_run class="` + strings.Repeat("x", 256) + `" name="n" status="Passed" duration="1"/>`,
		"no duration":          `<test_run name="n" status="Passed"/>`,
		"duration not long":    `<test_run name="n" status="Passed" duration="1.5"/>`,
		"bad url":              `<test_run name="n" status="Passed" duration="1" external_report_url="ftp://x.example"/>`,
		"short url":            `<test_run name="n" status="Passed" duration="1" external_report_url="td://"/>`,
		"external_assets":      `<test_run name="n" status="Passed" duration="1" external_assets="a"/>`,
		"unknown attribute":    `<test_run name="n" status="Passed" duration="1" colour="red"/>`,
		"description first":    `<test_run name="n" status="Failed" duration="1"><description>d</description><error/></test_run>`,
		"two errors":           `<test_run name="n" status="Failed" duration="1"><error/><error/></test_run>`,
		"element in error":     `<test_run name="n" status="Failed" duration="1"><error><b/></error></test_run>`,
		"bad manual":           `<test_run name="n" status="Passed" duration="1" manual="yes"/>`,
		"unknown element":      `<test_run name="n" status="Passed" duration="1"><log/></test_run>`,
		"mixed runs":           run("a", "Passed") + `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/></feature></gherkin_test_run>`,
		"gherkin":              `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file>Feature: x</file></feature></gherkin_test_run>`,
		"field type lowercase": `<test_run name="n" status="Passed" duration="1"><test_fields><test_field type="framework" value="JUnit"/></test_fields></test_run>`,
	}
	heads := map[string]string{
		"build":              `<build server_id="s" job_id="j" build_id="b" job_name="J" build_name="B" sub_type=""/>`,
		"build artifact_id":  `<build server_id="s" job_id="j" build_id="b" artifact_id="a"/>`,
		"build without job":  `<build server_id="s" build_id="b"/>`,
		"full context":       `<build server_id="s" job_id="j" build_id="b"/><suite_ref id="1" external_run_id="x" component="c"/><program_ref id="2"/><release_ref id="3"/><milestone_ref id="4"/><backlog_items><backlog_item_ref id="5"/></backlog_items><product_areas><product_area_ref id="6"/></product_areas><test_fields/><environment/>`,
		"release and ref":    `<release_ref id="3"/><release name="r"/>`,
		"out of order":       `<test_fields/><build server_id="s" job_id="j" build_id="b"/>`,
		"ref id not long":    `<release_ref id="x"/>`,
		"test_field_ref":     `<test_field_ref id="1"/>`,
		"empty release name": `<release name=""/>`,
	}
	tmp := t.TempDir()
	want := map[string]bool{} // file → the stand-in accepts
	var files []string
	add := func(name, doc string) {
		f := filepath.Join(tmp, strings.NewReplacer(" ", "_", "/", "_").Replace(name)+".xml")
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, verr := validatePayload(doc)
		want[f] = verr == nil
		files = append(files, f)
	}
	for name, r := range runs {
		add("run "+name, payload("", r))
	}
	for name, h := range heads {
		add("head "+name, payload(h, run("a", "Passed")))
	}
	add("no test_runs", `<?xml version="1.0" encoding="UTF-8"?><test_result/>`)
	add("empty test_runs", payload("", ""))
	out, _ := exec.Command(lint, append([]string{"--noout", "--nonet", "--schema", xsd}, files...)...).CombinedOutput()
	for _, f := range files {
		var xsdOK bool
		switch {
		case strings.Contains(string(out), f+" validates"):
			xsdOK = true
		case strings.Contains(string(out), f+" fails to validate"):
		default:
			t.Fatalf("xmllint said nothing about %s:\n%s", f, out)
		}
		if xsdOK != want[f] {
			t.Errorf("%s: the server XSD says valid=%t, the stand-in valid=%t", filepath.Base(f), xsdOK, want[f])
		}
	}
}
