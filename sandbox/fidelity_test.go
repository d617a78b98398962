package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A text longer than the SDK's 512*512 characters makes the task fail, as
// Octane's XML parser would (octane-ci-java-sdk 042ddc66); one at the limit is
// stored whole. Characters count as UTF-16 units.
func TestLongTextFailsTheTask(t *testing.T) {
	c := signedIn(t, Options{})
	at := strings.Repeat("a", MaxTextLength)
	over := strings.Repeat("b", MaxTextLength-1) + "😀" // one unit over
	cases := []struct {
		name, runXML, want string
	}{
		{"error text at the limit", `<test_run name="a" status="Failed" duration="1"><error>` + at + `</error></test_run>`, TaskSuccess},
		{"error text over", `<test_run name="b" status="Failed" duration="1"><error>` + over + `</error></test_run>`, TaskFailed},
		{"error message over", `<test_run name="c" status="Failed" duration="1"><error message="` + over + `"/></test_run>`, TaskFailed},
		{"description over", `<test_run name="d" status="Passed" duration="1"><description>` + over + `</description></test_run>`, TaskFailed},
	}
	for _, tc := range cases {
		for _, skip := range []string{"skip-errors=false", "skip-errors=true"} {
			code, out := c.postXML(payload("", tc.runXML), skip)
			if code != 202 {
				t.Fatalf("%s: %d %v", tc.name, code, out)
			}
			got := c.waitTask(out["id"])
			if got["status"] != tc.want {
				t.Errorf("%s (%s): task %v, want %s", tc.name, skip, got, tc.want)
			}
			if tc.want == TaskFailed && !contains2(fmt.Sprint(got["errorDetails"]), "262144", "262145 characters") {
				t.Errorf("%s: errorDetails %q should say the limit and the length", tc.name, got["errorDetails"])
			}
		}
	}
	for _, r := range c.s.Runs() {
		if r.Name != "a" || len(r.ErrorBody) != MaxTextLength {
			t.Errorf("stored run %q (%d characters of error text)", r.Name, len(r.ErrorBody))
		}
	}
}

func TestSignInClientType(t *testing.T) {
	body := []byte(`{"client_id":"sandbox-client","client_secret":"sandbox-secret"}`)
	for _, tc := range []struct {
		clientType string
		want       int
	}{
		{"", 200}, {"HPE_CI_CLIENT", 200}, {"octane-import", 200},
		{"HPE_MQM_UI", 400}, {"HPE_REST_API_TECH_PREVIEW", 400}, {"octane_internal", 400},
	} {
		c := newClient(t, Options{})
		hdr := map[string]string{}
		if tc.clientType != "" {
			hdr["HPECLIENTTYPE"] = tc.clientType
		}
		res, b := c.do("POST", "/authentication/sign_in", body, "application/json", hdr)
		if res.StatusCode != tc.want {
			t.Errorf("sign-in with HPECLIENTTYPE %q = %d %s, want %d", tc.clientType, res.StatusCode, b, tc.want)
		}
		if got := c.s.Requests()[0].ClientType; got != tc.clientType {
			t.Errorf("recorded client type %q, want %q", got, tc.clientType)
		}
	}
}

// RefuseCompressed: an old server takes only uncompressed bodies; the same
// payload sent plain is accepted.
func TestRefuseCompressed(t *testing.T) {
	for _, status := range []int{0, 415, 400} {
		c := signedIn(t, Options{RefuseCompressed: true, RefuseCompressedStatus: status})
		want := status
		if want == 0 {
			want = 415
		}
		body := []byte(payload("", run("a", "Passed")))
		res, b := c.do("POST", c.ws("/test-results"), gz(t, body, ""), "application/xml", map[string]string{"Content-Encoding": "application/gzip"})
		if res.StatusCode != want {
			t.Errorf("status %d: compressed XML = %d %s, want %d", status, res.StatusCode, b, want)
		}
		res, b = c.do("POST", c.ws("/ci_servers"), gz(t, []byte(`{"data":[{"name":"s"}]}`), ""), "application/json", map[string]string{"Content-Encoding": "gzip"})
		if res.StatusCode != want {
			t.Errorf("status %d: compressed JSON = %d %s, want %d", status, res.StatusCode, b, want)
		}
		if len(c.s.Tasks()) != 0 || len(c.s.Servers()) != 0 {
			t.Errorf("a refused body was stored")
		}
		if code, out := c.postXML(string(body), ""); code != 202 {
			t.Errorf("plain XML = %d %v", code, out)
		}
		reqs := c.s.Requests()
		if last := reqs[len(reqs)-1]; last.ContentEncoding != "" || reqs[len(reqs)-3].ContentEncoding != "application/gzip" {
			t.Errorf("recorded encodings: %+v", reqs)
		}
	}
}

func TestOverrideNextTasks(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.OverrideNextTasks(2, TaskOverride{Status: TaskWarning, ErrorDetails: map[string]any{"skipped": []any{"x"}}})
	_, out := c.postXML(payload("", run("a", "Passed")), "")
	got := c.waitTask(out["id"])
	if got["status"] != TaskWarning || fmt.Sprint(got["errorDetails"]) != "map[skipped:[x]]" || len(c.s.Runs()) != 1 {
		t.Errorf("warning override: %v, %d runs", got, len(c.s.Runs()))
	}
	// A resend of the same payload is a dedup hit: it does not use up an override.
	c.postXML(payload("", run("a", "Passed")), "")
	c.postXML(payload("", run("b", "Passed")), "")
	if tasks := c.s.Tasks(); len(tasks) != 2 || tasks[1].Status != TaskWarning || tasks[1].ErrorDetails != `{"skipped":["x"]}` {
		t.Errorf("tasks %+v: the second override should apply to the second new payload", tasks)
	}
	c.s.OverrideNextTasks(1, TaskOverride{Status: "paused"})
	_, out = c.postXML(payload("", run("c", "Passed")), "")
	got = c.mustCall(200, "GET", c.ws(fmt.Sprintf("/test-results/%v", out["id"])), nil)
	if got["status"] != "paused" || got["until"] != nil || got["errorDetails"] != nil || len(c.s.Runs()) != 2 {
		t.Errorf("paused override: %v, %d runs", got, len(c.s.Runs()))
	}
	_, out = c.postXML(payload("", run("d", "Passed")), "")
	if got := c.waitTask(out["id"]); got["status"] != TaskSuccess {
		t.Errorf("after the overrides: %v", got)
	}
}

// A ci_job is created outside any pipeline (no "pipeline" field, as no
// official client sends one) and joins the pipeline of the job its build
// names as cause; NoCIJobCreate refuses the POST as an Octane before 16.2.100.
func TestCIJobJoinsPipelineThroughCauses(t *testing.T) {
	c := signedIn(t, Options{})
	sid := c.seed()
	ref := map[string]any{"type": "ci_server", "id": sid}
	pipes := c.mustCall(200, "GET", c.ws("/pipelines?fields=name"), nil)
	pid := dataAt(t, pipes, 0)["id"]
	out := c.mustCall(400, "POST", c.ws("/ci_jobs"), map[string]any{"data": []any{map[string]any{
		"name": "E2E", "ci_id": "e2e", "ci_server": ref, "pipeline": map[string]any{"type": "pipeline", "id": pid}}}})
	if errorCode(out) != "platform.field_not_editable" {
		t.Errorf("pipeline on POST ci_jobs: %v", out)
	}
	c.mustCall(201, "POST", c.ws("/ci_jobs"), map[string]any{"data": []any{map[string]any{"name": "E2E", "ci_id": "e2e", "ci_server": ref}}})
	nodes := func() int {
		got := c.mustCall(200, "GET", c.ws(fmt.Sprintf(`/pipeline_nodes?fields=ci_job%%7Bci_id%%7D&query=%%22pipeline%%20EQ%%20%%7Bid%%20EQ%%20%v%%7D%%22`, pid)), nil)
		return int(got["total_count"].(float64))
	}
	if n := nodes(); n != 2 {
		t.Fatalf("%d pipeline nodes before the build", n)
	}
	// A build without causes leaves the job where it is.
	if code, out := c.putBuild("e2e", "1", nil); code != 200 {
		t.Fatalf("build = %d %v", code, out)
	}
	if n := nodes(); n != 2 {
		t.Fatalf("%d pipeline nodes after a build without causes", n)
	}
	c.putBuild("root", "5", nil)
	c.putBuild("e2e", "2", map[string]any{"causes": []any{map[string]any{"jobCiId": "root", "buildCiId": "5"}}})
	if n := nodes(); n != 3 {
		t.Fatalf("%d pipeline nodes after a build caused by the root", n)
	}
	for _, j := range c.s.Jobs() {
		if j.CIID == "e2e" && j.PipelineID != pid {
			t.Errorf("e2e in pipeline %q", j.PipelineID)
		}
	}
	if ids := c.s.Pipelines()[0].JobCIIDs; strings.Join(ids, ",") != "root,unit,e2e" {
		t.Errorf("pipeline jobs %v", ids)
	}

	old := signedIn(t, Options{NoCIJobCreate: true})
	sid = old.seed()
	out = old.mustCall(405, "POST", old.ws("/ci_jobs"), map[string]any{"data": []any{map[string]any{"name": "E2E", "ci_id": "e2e", "ci_server": map[string]any{"type": "ci_server", "id": sid}}}})
	if errorCode(out) != "platform.method_not_allowed" || len(old.s.Jobs()) != 2 {
		t.Errorf("old server: %v, jobs %v", out, old.s.Jobs())
	}
	status := old.mustCall(200, "GET", "/internal-api/shared_spaces/1001/analytics/ci/servers/connectivity/status", nil)
	if !strings.HasPrefix(fmt.Sprint(status["octaneVersion"]), "16.1.") {
		t.Errorf("old server reports version %v", status["octaneVersion"])
	}
}

// eventsBody is a CI events request of a started and a finished event for
// build b of job.
func eventsBody(job, b string, extra map[string]any) map[string]any {
	started := map[string]any{"eventType": "started", "buildCiId": b, "project": job, "projectDisplayName": job, "number": "#" + b,
		"startTime": 1700000000000, "causes": []any{}}
	finished := map[string]any{"eventType": "finished", "buildCiId": b, "project": job, "number": "#" + b,
		"startTime": 1700000000000, "duration": 4200, "result": "success"}
	for k, v := range extra {
		if v == nil {
			delete(finished, k)
		} else {
			finished[k] = v
		}
	}
	return map[string]any{
		"server": map[string]any{"type": "jenkins", "version": "2.440", "url": "http://ci.example", "instanceId": "iid-1", "sendingTime": 1700000100000},
		"events": []any{started, finished},
	}
}

func (c *client) putEvents(body any, query string, hdr map[string]string) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	if hdr == nil {
		hdr = map[string]string{"HPECLIENTTYPE": "HPE_CI_CLIENT"}
	}
	path := "/internal-api/shared_spaces/1001/analytics/ci/events"
	if query != "" {
		path += "?" + query
	}
	res, out := c.do("PUT", path, b, "application/json", hdr)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return res.StatusCode, m
}

func TestCIEvents(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	if code, out := c.putEvents(eventsBody("root", "41", nil), "ci_server_identity=iid-1", nil); code != 200 {
		t.Fatalf("events = %d %v", code, out)
	}
	// GHA's headers instead of the SDK's client type.
	body := eventsBody("unit", "7", map[string]any{"result": "failure", "causes": []any{map[string]any{"type": "upstream", "project": "root", "buildCiId": "41",
		"causes": []any{map[string]any{"type": "user", "user": "alice"}}}}})
	if code, out := c.putEvents(body, "", map[string]string{"ALM-OCTANE-PRIVATE": "true", "ALM-OCTANE-TECH-PREVIEW": "true"}); code != 200 {
		t.Fatalf("events with ALM-OCTANE-PRIVATE = %d %v", code, out)
	}
	builds := c.s.Builds()
	if len(builds) != 2 || builds[0].Via != "events" || builds[0].Status != "finished" || builds[0].Duration != 4200 || builds[0].Name != "#41" ||
		builds[1].Result != "failure" || len(builds[1].Causes) != 1 || builds[1].Causes[0].JobCIID != "root" {
		t.Fatalf("builds %+v", builds)
	}
	// A running build (started only), then its results: linked like a PUT build.
	running := eventsBody("unit", "8", nil)
	running["events"] = running["events"].([]any)[:1]
	if code, out := c.putEvents(running, "", nil); code != 200 {
		t.Fatalf("started only = %d %v", code, out)
	}
	if b := c.s.Builds()[2]; b.Status != "running" || b.Result != "unavailable" {
		t.Fatalf("running build %+v", b)
	}
	_, out := c.postXML(payload(`<build server_id="iid-1" job_id="unit" build_id="8"/>`, run("a", "Passed")), "")
	if got := c.waitTask(out["id"]); got["status"] != TaskSuccess || len(c.s.RunsFor("iid-1", "unit", "8")) != 1 {
		t.Fatalf("results for an events build: %v", got)
	}

	onlyFinished := eventsBody("unit", "9", nil)
	onlyFinished["events"] = onlyFinished["events"].([]any)[1:]
	withArray := `[` + func() string { b, _ := json.Marshal(eventsBody("root", "1", nil)); return string(b) }() + `]`
	cases := []struct {
		name  string
		body  any
		query string
		hdr   map[string]string
		want  int
	}{
		{"no plugin header", eventsBody("root", "50", nil), "", map[string]string{"HPECLIENTTYPE": "octane-import"}, 403},
		{"array body", withArray, "", nil, 400},
		{"unknown job", eventsBody("nope", "50", nil), "", nil, 404},
		{"unknown server", func() any {
			b := eventsBody("root", "50", nil)
			b["server"].(map[string]any)["instanceId"] = "nope"
			return b
		}(), "", nil, 404},
		{"identity mismatch", eventsBody("root", "50", nil), "ci_server_identity=other", nil, 400},
		{"unknown query parameter", eventsBody("root", "50", nil), "instance-id=iid-1", nil, 400},
		{"no sendingTime", func() any {
			b := eventsBody("root", "50", nil)
			delete(b["server"].(map[string]any), "sendingTime")
			return b
		}(), "", nil, 400},
		{"unknown server field", func() any {
			b := eventsBody("root", "50", nil)
			b["server"].(map[string]any)["colour"] = "red"
			return b
		}(), "", nil, 400},
		{"unknown event field", eventsBody("root", "50", map[string]any{"colour": "red"}), "", nil, 400},
		{"bad result", eventsBody("root", "50", map[string]any{"result": "green"}), "", nil, 400},
		{"finished without result", eventsBody("root", "50", map[string]any{"result": nil}), "", nil, 400},
		{"finished without duration", eventsBody("root", "50", map[string]any{"duration": nil}), "", nil, 400},
		{"finished never started", onlyFinished, "", nil, 400},
		{"bad event type", eventsBody("root", "50", map[string]any{"eventType": "done"}), "", nil, 400},
		{"upstream cause without build", eventsBody("root", "50", map[string]any{"causes": []any{map[string]any{"type": "upstream", "project": "root"}}}), "", nil, 400},
		{"cause names an unknown job", eventsBody("unit", "50", map[string]any{"causes": []any{map[string]any{"type": "upstream", "project": "nope", "buildCiId": "1"}}}), "", nil, 404},
		{"string startTime", eventsBody("root", "50", map[string]any{"startTime": "1700000000000"}), "", nil, 400},
		{"no events", map[string]any{"server": eventsBody("root", "1", nil)["server"], "events": []any{}}, "", nil, 400},
	}
	before := len(c.s.Builds())
	for _, tc := range cases {
		if code, out := c.putEvents(tc.body, tc.query, tc.hdr); code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.want)
		}
	}
	if n := len(c.s.Builds()); n != before {
		t.Errorf("refused events stored %d builds", n-before)
	}
	// A refused request stores nothing, not even its valid first event.
	for _, b := range c.s.Builds() {
		if b.BuildCIID == "50" {
			t.Errorf("build 50 stored from a refused request: %+v", b)
		}
	}
}
