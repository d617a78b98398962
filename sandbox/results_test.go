package sandbox

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestBuildsUpsertAndReadBack(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	code, out := c.putBuild("root", "41", map[string]any{"status": "running", "result": "unavailable", "duration": nil,
		"buildName": "#41", "parameters": []any{map[string]any{"name": "env", "type": "string", "value": "qa", "choices": []any{"qa", "prod"}}}})
	if code != 200 || out["id"] == nil {
		t.Fatalf("running build = %d %v", code, out)
	}
	c.mustCall(200, "PUT", c.ws("/analytics/ci/builds"), map[string]any{"serverCiId": "iid-1", "jobCiId": "unit", "buildCiId": "7",
		"startTime": 1700000000500, "duration": 300, "result": "failure", "causes": []any{map[string]any{"jobCiId": "root", "buildCiId": "41"}}})
	code, _ = c.putBuild("root", "41", map[string]any{"duration": 9000, "result": "failure"})
	if code != 200 {
		t.Fatalf("second PUT = %d", code)
	}
	builds := c.s.Builds()
	if len(builds) != 2 {
		t.Fatalf("builds = %+v", builds)
	}
	root, unit := builds[0], builds[1]
	if root.BuildCIID != "41" || root.Puts != 2 || root.Status != "finished" || root.Result != "failure" || root.Duration != 9000 || root.Name != "41" {
		t.Errorf("root build after upsert = %+v", root)
	}
	if unit.Status != "finished" || unit.Name != "7" || len(unit.Causes) != 1 || unit.Causes[0] != (Cause{JobCIID: "root", BuildCIID: "41"}) {
		t.Errorf("unit build = %+v", unit)
	}
	// The first PUT's parameters were replaced by the second PUT (no parameters).
	if root.Parameters != nil {
		t.Errorf("parameters after upsert = %+v", root.Parameters)
	}
	got := c.mustCall(200, "GET", c.ws(`/ci_builds?query=%22ci_job%20EQ%20%7Bci_id%20EQ%20%5Eunit%5E%7D%22&fields=build_ci_id,result`), nil)
	if got["total_count"] != 1.0 || dataAt(t, got, 0)["build_ci_id"] != "7" || dataAt(t, got, 0)["result"] != "failure" {
		t.Errorf("ci_builds lookup = %v", got)
	}
}

func TestBuildRefusals(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	cases := []struct {
		name  string
		extra map[string]any
		raw   string
		want  int
	}{
		{name: "unknown server", extra: map[string]any{"serverCiId": "nope"}, want: 404},
		{name: "unknown job", extra: map[string]any{"jobCiId": "nope"}, want: 404},
		{name: "cause names an unknown job", extra: map[string]any{"causes": []any{map[string]any{"jobCiId": "nope", "buildCiId": "1"}}}, want: 404},
		{name: "array of builds", raw: `[{"serverCiId":"iid-1","jobCiId":"root","buildCiId":"1","startTime":1,"duration":1,"result":"success"}]`, want: 400},
		{name: "unknown status", extra: map[string]any{"status": "done"}, want: 400},
		{name: "unknown result", extra: map[string]any{"result": "SUCCESS"}, want: 400},
		{name: "missing result", extra: map[string]any{"result": nil}, want: 400},
		{name: "missing startTime", extra: map[string]any{"startTime": nil}, want: 400},
		{name: "startTime as a string", extra: map[string]any{"startTime": "1700000000000"}, want: 400},
		{name: "startTime in seconds with a fraction", extra: map[string]any{"startTime": 1700000000.5}, want: 400},
		{name: "finished without duration", extra: map[string]any{"duration": nil}, want: 400},
		{name: "negative duration", extra: map[string]any{"duration": -1}, want: 400},
		{name: "unknown field", extra: map[string]any{"buildNumber": "7"}, want: 400},
		{name: "empty buildCiId", extra: map[string]any{"buildCiId": ""}, want: 400},
		{name: "bad parameter type", extra: map[string]any{"parameters": []any{map[string]any{"name": "x", "type": "text"}}}, want: 400},
		{name: "cause without buildCiId", extra: map[string]any{"causes": []any{map[string]any{"jobCiId": "root"}}}, want: 400},
	}
	for _, tc := range cases {
		var code int
		var out map[string]any
		if tc.raw != "" {
			code, out = c.call("PUT", c.ws("/analytics/ci/builds"), tc.raw)
		} else {
			code, out = c.putBuild("unit", "1", tc.extra)
		}
		if code != tc.want || errorCode(out) == "" {
			t.Errorf("%s: %d %v, want %d with an error_code", tc.name, code, out, tc.want)
		}
	}
	if code, _ := c.call("POST", c.ws("/analytics/ci/builds"), `{}`); code != 405 {
		t.Errorf("POST builds = %d, want 405", code)
	}
	if n := len(c.s.Builds()); n != 0 {
		t.Errorf("refused builds were stored: %+v", c.s.Builds())
	}
	// running without a duration is fine.
	if code, out := c.putBuild("unit", "2", map[string]any{"status": "running", "duration": nil, "result": "unavailable"}); code != 200 {
		t.Errorf("running build = %d %v", code, out)
	}
}

func TestTestResultsSchemaRefusals(t *testing.T) {
	c := signedIn(t, Options{})
	name255 := strings.Repeat("é", 255)
	cases := []struct{ name, body, want string }{
		{"test name over 255 characters", payload("", run(name255+"x", "Passed")), "length 256"},
		{"unknown status", payload("", run("a", "Passed")+run("b", "Error")), "status must be"},
		{"lower-case status", payload("", run("a", "passed")), "status must be"},
		{"test_fields after environment", payload(`<environment/><test_fields/>`, run("a", "Passed")), "out of order"},
		{"build after release", payload(`<release name="_default_"/>`+buildHead, run("a", "Passed")), "out of order"},
		{"error after description", payload("", `<test_run name="a" status="Failed" duration="1"><description>d</description><error message="m"/></test_run>`), "out of order"},
		{"test_run and gherkin_test_run mixed", payload("", run("a", "Passed")+`<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="f.feature" tag="" started="1"><file>x</file></feature></gherkin_test_run>`), "cannot be mixed"},
		{"unknown element", payload(`<test_field_ref id="1"/>`, run("a", "Passed")), "unknown element"},
		{"unknown attribute", payload("", `<test_run name="a" status="Passed" duration="1" classname="x"/>`), "unknown attribute"},
		{"missing name", payload("", `<test_run status="Passed" duration="1"/>`), `required attribute "name"`},
		{"empty name", payload("", `<test_run name="" status="Passed" duration="1"/>`), "length 0"},
		{"missing duration", payload("", `<test_run name="a" status="Passed"/>`), `required attribute "duration"`},
		{"fractional duration", payload("", `<test_run name="a" status="Passed" duration="1.5"/>`), "xs:long"},
		{"duration beyond xs:long", payload("", `<test_run name="a" status="Passed" duration="99999999999999999999"/>`), "range"},
		{"started as a date", payload("", `<test_run name="a" status="Passed" duration="1" started="2024-01-01"/>`), "xs:long"},
		{"manual yes", payload("", `<test_run name="a" status="Passed" duration="1" manual="yes"/>`), "xs:boolean"},
		{"url without scheme", payload("", `<test_run name="a" status="Passed" duration="1" external_report_url="ci.example.com/x"/>`), "urlType"},
		{"url too long", payload("", `<test_run name="a" status="Passed" duration="1" external_report_url="https://`+strings.Repeat("x", 510)+`"/>`), "length"},
		{"bad test_field type", payload(`<test_fields><test_field type="Level" value="x"/></test_fields>`, run("a", "Passed")), "Test_Level"},
		{"release and release_ref", payload(`<release_ref id="1"/><release name="_default_"/>`, run("a", "Passed")), "only one"},
		{"two builds", payload(buildHead+buildHead, run("a", "Passed")), "only 1"},
		{"build without build_id", payload(`<build server_id="s" job_id="j"/>`, run("a", "Passed")), `"build_id"`},
		{"release_ref id not a number", payload(`<release_ref id="R1"/>`, run("a", "Passed")), "xs:long"},
		{"no test_runs", `<test_result><build server_id="s" job_id="j" build_id="1"/></test_result>`, "missing the required <test_runs>"},
		{"wrong root", `<testsuite name="x"/>`, "root element"},
		{"DOCTYPE", `<?xml version="1.0"?><!DOCTYPE test_result [<!ENTITY x "y">]>` + payload("", run("a", "Passed"))[len(`<?xml version="1.0" encoding="UTF-8"?>`):], "DOCTYPE"},
		{"namespace", `<test_result xmlns="urn:x"><test_runs/></test_result>`, "namespace"},
		{"text in an element-only element", payload("", "hello"+run("a", "Passed")), "takes no text"},
		{"child element in error", payload("", `<test_run name="a" status="Failed" duration="1"><error><b>x</b></error></test_run>`), "text only"},
		{"two roots", payload("", run("a", "Passed")) + "<test_result/>", "second root"},
		{"malformed", `<test_result><test_runs></test_result>`, "malformed"},
		{"latin1 declaration", `<?xml version="1.0" encoding="ISO-8859-1"?><test_result><test_runs/></test_result>`, "encoding"},
		{"empty body", ``, "empty"},
		{"gherkin without feature", payload("", `<gherkin_test_run name="g" duration="1" status="Passed"/>`), "missing the required <feature>"},
		{"step without status", payload("", `<test_run name="a" status="Passed" duration="1"><steps><step name="s" duration="1"/></steps></test_run>`), `"status"`},
	}
	for _, tc := range cases {
		code, out := c.postXML(tc.body, "")
		desc, _ := out["description"].(string)
		if code != 400 || errorCode(out) == "" || !strings.Contains(desc, tc.want) {
			t.Errorf("%s: %d %v, want 400 mentioning %q", tc.name, code, out, tc.want)
		}
	}
	if len(c.s.Tasks()) != 0 || len(c.s.Runs()) != 0 {
		t.Errorf("refused payloads made tasks: %+v", c.s.Tasks())
	}
	// The limits themselves are accepted: 255 characters (multi-byte), Planned, all sections in order.
	full := payload(`<build server_id="iid-x" job_id="j" build_id="1" job_name="J" build_name="#1" sub_type=""/>`+
		`<suite_ref id="1" external_run_id="" component=""/><program_ref id="2"/><release name="_default_"/><milestone_ref id="3"/>`+
		`<backlog_items><backlog_item_ref id="4"/></backlog_items><product_areas><product_area_ref id="5"/></product_areas>`+
		`<test_fields><test_field type="Framework" value="JUnit"/></test_fields><environment><taxonomy type="OS" value="Linux"/></environment>`,
		`<test_run name="`+name255+`" status="Planned" duration="+007" manual="1" external_report_url="https://ci/x" run_type="MBT">`+
			`<release_ref id="9"/><test_fields/><error type="E" message="m">trace &amp; more</error><description>d</description>`+
			`<steps iteration="1"><step name="s" duration="1" status="passed"><error_message>e</error_message><input_parameters><parameter name="p"/></input_parameters></step></steps></test_run>`)
	if code, out := c.postXML(full, "skip-errors=true"); code != 202 || out["status"] != "queued" {
		t.Errorf("full valid payload = %d %v", code, out)
	}
	gherkin := payload("", `<gherkin_test_run name="g" duration="1" status="Failed"><feature name="F" path="a.feature" tag="@x" started="1"><file>Feature: x<b/></file>`+
		`<scenarios><background><steps><step name="bg"/></steps></background><scenario name="sc" status="Failed"><steps><step name="st" duration="1" status="failed"/></steps></scenario></scenarios></feature></gherkin_test_run>`)
	if code, out := c.postXML(gherkin, ""); code != 202 {
		t.Errorf("gherkin payload = %d %v", code, out)
	}
	for _, q := range []string{"skip-errors=yes", "skip_errors=true", "instance-id=x"} {
		if code, _ := c.postXML(payload("", run("q", "Passed")), q); code != 400 {
			t.Errorf("?%s = %d, want 400", q, code)
		}
	}
}

func TestTaskLifecycle(t *testing.T) {
	c := signedIn(t, Options{TaskDelay: 40 * time.Millisecond})
	c.seed()
	if code, _ := c.putBuild("unit", "7", nil); code != 200 {
		t.Fatal("build")
	}
	code, out := c.postXML(payload(buildHead, run("a", "Passed")), "")
	if code != 202 || out["status"] != "queued" {
		t.Fatalf("post = %d %v", code, out)
	}
	if _, isNum := out["id"].(float64); !isNum {
		t.Errorf("task id %v is not a number as documented", out["id"])
	}
	seen := []string{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := c.mustCall(200, "GET", c.ws(fmt.Sprintf("/test-results/%v", out["id"])), nil)
		s := st["status"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		if terminal(s) {
			if st["until"] == nil {
				t.Errorf("terminal status without until: %v", st)
			}
			break
		}
		time.Sleep(3 * time.Millisecond)
	}
	if strings.Join(seen, ",") != "queued,running,success" {
		t.Errorf("statuses seen = %v, want queued,running,success", seen)
	}
	if n := len(c.s.RunsFor("iid-1", "unit", "7")); n != 1 {
		t.Errorf("runs for the build = %d", n)
	}
	res, b := c.do("GET", c.ws(fmt.Sprintf("/test-results/%v/log", out["id"])), nil, "", nil)
	if res.StatusCode != 200 || !contains2(string(b), "queued", "running", "success") {
		t.Errorf("log = %d %s", res.StatusCode, b)
	}
	if code, _ := c.call("GET", c.ws("/test-results/424242"), nil); code != 404 {
		t.Errorf("unknown task = %d", code)
	}
	// With no delay the answer still says queued, and the task is done at once.
	z := signedIn(t, Options{})
	code, out = z.postXML(payload("", run("a", "Passed")), "")
	if code != 202 || out["status"] != "queued" || z.s.Tasks()[0].Status != TaskSuccess {
		t.Errorf("zero-delay task = %d %v %+v", code, out, z.s.Tasks())
	}
}

func TestIdenticalPayloadsAreDeduplicated(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	c.putBuild("unit", "7", nil)
	body := payload(buildHead, run("a", "Passed")+run("b", "Failed"))
	_, first := c.postXML(body, "")
	code, second := c.postXML(body, "")
	if code != 202 || second["id"] != first["id"] || second["status"] != "success" {
		t.Errorf("resend = %d %v, want the same id %v with its current status", code, second, first["id"])
	}
	// The same XML gzipped with another gzip header is the same payload.
	res, b := c.do("POST", c.ws("/test-results"), gz(t, []byte(body), "other-header"), "application/xml", map[string]string{"Content-Encoding": "application/gzip"})
	if res.StatusCode != 202 || !strings.Contains(string(b), fmt.Sprintf(`"id":%v`, first["id"])) {
		t.Errorf("gzipped resend = %d %s", res.StatusCode, b)
	}
	// skip-errors is not part of the hash.
	if _, third := c.postXML(body, "skip-errors=true"); third["id"] != first["id"] {
		t.Errorf("resend with skip-errors=true got a new task: %v", third)
	}
	if n := len(c.s.Runs()); n != 2 {
		t.Errorf("runs = %d, want 2 (stored once)", n)
	}
	tasks := c.s.Tasks()
	if len(tasks) != 1 || tasks[0].Posts != 4 || tasks[0].Runs != 2 {
		t.Errorf("tasks = %+v", tasks)
	}
	// One byte more is another payload.
	if _, other := c.postXML(body+"\n", ""); other["id"] == first["id"] {
		t.Errorf("a different payload got the same task")
	}
	if n := len(c.s.Runs()); n != 4 {
		t.Errorf("runs after a different payload = %d, want 4", n)
	}
}

func TestSkipErrorsSemantics(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	relID, err := c.s.AddEntity("release", "R1")
	if err != nil {
		t.Fatal(err)
	}
	unknownBuild := `<build server_id="iid-1" job_id="unit" build_id="404"/>`
	cases := []struct {
		name, head, runs, query, wantStatus, wantDetail string
		wantRuns                                        int
		linked                                          bool
	}{
		{"unknown build, skip=false", unknownBuild, run("a", "Passed"), "skip-errors=false", TaskFailed, `build_id="404"`, 0, false},
		{"unknown build, default skip", unknownBuild, run("a2", "Passed"), "", TaskFailed, `build_id="404"`, 0, false},
		{"unknown build, skip=true", unknownBuild, run("b", "Passed"), "skip-errors=true", TaskWarning, "without a build", 1, false},
		{"unknown release_ref at the top, skip=false", `<release_ref id="2147483647"/>`, run("c", "Passed"), "skip-errors=false", TaskFailed, "release_ref id 2147483647", 0, false},
		{"unknown release_ref at the top, skip=true", `<release_ref id="2147483647"/>`, run("d", "Passed"), "skip-errors=true", TaskWarning, "release_ref id 2147483647", 1, false},
		{"unknown release name, skip=false", `<release name="nope"/>`, run("e", "Passed"), "", TaskFailed, `release "nope"`, 0, false},
		{"known release", `<release_ref id="` + relID + `"/>`, run("f", "Passed"), "", TaskSuccess, "", 1, false},
		{"unknown ref in one run, skip=false", "", run("g1", "Passed") + `<test_run name="g2" status="Passed" duration="1"><milestone_ref id="77"/></test_run>`, "", TaskWarning, "g2", 1, false},
		{"unknown ref in one run, skip=true", "", run("h1", "Passed") + `<test_run name="h2" status="Passed" duration="1"><milestone_ref id="77"/></test_run>`, "skip-errors=true", TaskWarning, "h2", 2, false},
		{"known build", buildHead, run("i", "Passed"), "", TaskSuccess, "", 1, true},
	}
	c.putBuild("unit", "7", nil)
	for _, tc := range cases {
		before := len(c.s.Runs())
		code, out := c.postXML(payload(tc.head, tc.runs), tc.query)
		if code != 202 {
			t.Fatalf("%s: post = %d %v", tc.name, code, out)
		}
		st := c.waitTask(out["id"])
		details, _ := st["errorDetails"].(string)
		if st["status"] != tc.wantStatus || !strings.Contains(details, tc.wantDetail) {
			t.Errorf("%s: %v, want %s with details containing %q", tc.name, st, tc.wantStatus, tc.wantDetail)
		}
		runs := c.s.Runs()[before:]
		if len(runs) != tc.wantRuns {
			t.Errorf("%s: %d runs stored, want %d", tc.name, len(runs), tc.wantRuns)
		}
		for _, r := range runs {
			if (r.BuildCIID != "") != tc.linked {
				t.Errorf("%s: run %+v linked=%t, want %t", tc.name, r, r.BuildCIID != "", tc.linked)
			}
		}
	}
	if rs := c.s.RunsFor("iid-1", "unit", "404"); len(rs) != 0 {
		t.Errorf("runs linked to a build that was never PUT: %+v", rs)
	}
	for _, r := range c.s.Runs() {
		if r.Name == "f" && r.Release != relID {
			t.Errorf("run f release = %q, want %s", r.Release, relID)
		}
	}
}

func TestFailNextTasks(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.FailNextTasks(1, "database is on fire")
	_, out := c.postXML(payload("", run("a", "Passed")), "")
	st := c.waitTask(out["id"])
	if st["status"] != TaskFailed || st["errorDetails"] != "database is on fire" || len(c.s.Runs()) != 0 {
		t.Errorf("failed task = %v, runs %d", st, len(c.s.Runs()))
	}
	_, out = c.postXML(payload("", run("b", "Passed")), "")
	if st := c.waitTask(out["id"]); st["status"] != TaskSuccess {
		t.Errorf("next task = %v", st)
	}
}

func TestRunReadBack(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	c.putBuild("unit", "7", nil)
	body := payload(buildHead+`<test_fields><test_field type="Framework" value="JUnit"/><test_field type="Test_Level" value="Unit Test"/></test_fields>`+
		`<environment><taxonomy type="OS" value="Linux"/></environment>`,
		`<test_run module="/m" package="hello" class="HelloTest" name="two" status="Failed" duration="2000" started="1443096986850" external_report_url="https://ci/284">`+
			`<test_fields><test_field type="Test_Level" value="Integration Test"/></test_fields>`+
			`<error type="java.lang.AssertionError" message="expected:&lt;1&gt;">trace&#xD;
	at x &amp; y</error><description>why</description></test_run>`)
	_, out := c.postXML(body, "")
	c.waitTask(out["id"])
	runs := c.s.RunsFor("iid-1", "unit", "7")
	if len(runs) != 1 {
		t.Fatalf("runs = %+v", runs)
	}
	r := runs[0]
	want := Run{ID: r.ID, TaskID: fmt.Sprint(out["id"]), ServerCIID: "iid-1", JobCIID: "unit", BuildCIID: "7", Module: "/m", Package: "hello",
		Class: "HelloTest", Name: "two", Status: "Failed", Duration: 2000, Started: 1443096986850, HasError: true,
		ErrorType: "java.lang.AssertionError", ErrorMessage: "expected:<1>", ErrorBody: "trace\r\n\tat x & y", Description: "why",
		ExternalReportURL: "https://ci/284",
		TestFields:        map[string]string{"Framework": "JUnit", "Test_Level": "Integration Test"},
		Environment:       map[string]string{"OS": "Linux"}}
	if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
		t.Errorf("run =\n%+v\nwant\n%+v", r, want)
	}
	// Read-back returns copies.
	runs[0].TestFields["Framework"] = "mutated"
	if c.s.Runs()[0].TestFields["Framework"] != "JUnit" {
		t.Error("Runs() shares its maps with the store")
	}
	got := c.mustCall(200, "GET", c.ws("/runs?fields=name,status,ci_build{build_ci_id}"), nil)
	if d := dataAt(t, got, 0); d["name"] != "two" || d["ci_build"].(map[string]any)["build_ci_id"] != "7" {
		t.Errorf("runs collection = %v", got)
	}
}

func TestXSDEndpointIsWellFormed(t *testing.T) {
	c := signedIn(t, Options{})
	res, b := c.do("GET", c.ws("/test-results/xsd"), nil, "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("xsd = %d", res.StatusCode)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("xsd is not well-formed: %v\n%s", err, b)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "element" {
			elements++
		}
	}
	if elements < 20 || !contains2(string(b), `name="test_result"`, "nativeStatusType", "urlType") {
		t.Errorf("xsd looks incomplete (%d elements):\n%s", elements, b)
	}
}
