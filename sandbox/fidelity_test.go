package sandbox

import (
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
