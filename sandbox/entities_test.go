package sandbox

import (
	"fmt"
	"net/url"
	"reflect"
	"testing"
)

func TestDuplicateNamesAre409(t *testing.T) {
	c := signedIn(t, Options{})
	sid := c.seed()
	code, out := c.call("POST", c.ws("/ci_servers"), `{"data":[{"name":"srv","instance_id":"other"}]}`)
	if code != 409 || errorCode(out) != "platform.duplicate_entity_error" || out["business_error"] != true {
		t.Errorf("duplicate ci_server name = %d %v", code, out)
	}
	code, out = c.call("POST", c.ws("/ci_servers"), `{"data":[{"name":"other","instance_id":"iid-1"}]}`)
	if code != 409 || errorCode(out) != "platform.duplicate_entity_error" {
		t.Errorf("duplicate instance_id = %d %v", code, out)
	}
	code, out = c.call("POST", c.ws("/pipelines"), map[string]any{"data": []any{map[string]any{
		"name": "pipe", "ci_server": map[string]any{"type": "ci_server", "id": sid}, "root_job_ci_id": "x",
		"jobs": []any{map[string]any{"name": "X", "jobCiId": "x"}}}}})
	if code != 409 || errorCode(out) != "platform.duplicate_entity_error" {
		t.Errorf("duplicate pipeline name = %d %v", code, out)
	}
	for _, k := range []string{"correlation_id", "description", "description_translated", "stack_trace"} {
		if _, ok := out[k]; !ok {
			t.Errorf("error body lacks %q: %v", k, out)
		}
	}
	if len(c.s.Servers()) != 1 || len(c.s.Pipelines()) != 1 {
		t.Errorf("duplicates were stored: %v %v", c.s.Servers(), c.s.Pipelines())
	}
	// Renaming onto an existing name is refused too.
	c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"second"}]}`)
	second := c.s.Servers()[1].ID
	if code, out := c.call("PUT", c.ws("/ci_servers/"+second), `{"name":"srv"}`); code != 409 {
		t.Errorf("rename onto a taken name = %d %v", code, out)
	}
	c.mustCall(200, "PUT", c.ws("/ci_servers/"+second), `{"name":"renamed"}`)
	if c.s.Servers()[1].Name != "renamed" {
		t.Errorf("rename not stored: %v", c.s.Servers())
	}
}

func TestBulkPartialFailureIs409WithIndexes(t *testing.T) {
	c := signedIn(t, Options{})
	c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"a"}]}`)
	code, out := c.call("POST", c.ws("/ci_servers"), `{"data":[{"name":"b"},{"name":"a"},{"name":"c"},{"nom":"d"}]}`)
	if code != 409 {
		t.Fatalf("bulk with a duplicate = %d %v", code, out)
	}
	errs, _ := out["errors"].([]any)
	if len(errs) != 2 {
		t.Fatalf("errors = %v", out["errors"])
	}
	e0, e1 := errs[0].(map[string]any), errs[1].(map[string]any)
	if e0["index"] != 1.0 || e0["entity_index"] != 1.0 || e0["error_code"] != "platform.duplicate_entity_error" {
		t.Errorf("errors[0] = %v", e0)
	}
	if e1["index"] != 3.0 || e1["error_code"] != "platform.unknown_field" {
		t.Errorf("errors[1] = %v", e1)
	}
	if data, _ := out["data"].([]any); len(data) != 2 {
		t.Errorf("data = %v, want the two created", out["data"])
	}
	var names []string
	for _, s := range c.s.Servers() {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("servers = %v", names)
	}
}

func TestEntityBodyRefusals(t *testing.T) {
	c := signedIn(t, Options{})
	sid := c.seed()
	long := ""
	for range 256 {
		long += "é"
	}
	cases := []struct {
		name, path, body string
		want             int
	}{
		{"bare array", "/ci_servers", `[{"name":"x"}]`, 400},
		{"no data", "/ci_servers", `{"name":"x"}`, 400},
		{"empty data", "/ci_servers", `{"data":[]}`, 400},
		{"data plus junk", "/ci_servers", `{"data":[{"name":"x"}],"x":1}`, 400},
		{"trailing garbage", "/ci_servers", `{"data":[{"name":"x"}]} {}`, 400},
		{"name missing", "/ci_servers", `{"data":[{"url":"http://x"}]}`, 400},
		{"name too long", "/ci_servers", `{"data":[{"name":"` + long + `"}]}`, 400},
		{"name not string", "/ci_servers", `{"data":[{"name":5}]}`, 400},
		{"wrong type", "/ci_servers", `{"data":[{"type":"pipeline","name":"x"}]}`, 400},
		{"read-only collection", "/ci_builds", `{"data":[{"name":"x"}]}`, 405},
		{"unknown collection", "/defects", `{"data":[{"name":"x"}]}`, 404},
		{"pipeline unknown server", "/pipelines", `{"data":[{"name":"p2","ci_server":{"type":"ci_server","id":"999999"},"root_job_ci_id":"r","jobs":[{"name":"r","jobCiId":"r"}]}]}`, 404},
		{"pipeline both shapes", "/pipelines", `{"data":[{"name":"p2","ci_server":{"type":"ci_server","id":"` + sid + `"},"server_ci_id":"iid-1","root_job_ci_id":"r","jobs":[{"name":"r","jobCiId":"r"}]}]}`, 400},
		{"pipeline server_ci_id is the id, not the instance_id", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"` + sid + `","root_job_ci_id":"r","jobs":[{"name":"r","jobCiId":"r"}]}]}`, 404},
		{"pipeline no server", "/pipelines", `{"data":[{"name":"p2","root_job_ci_id":"r","jobs":[{"name":"r","jobCiId":"r"}]}]}`, 400},
		{"pipeline no jobs", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"iid-1","root_job_ci_id":"r","jobs":[]}]}`, 400},
		{"pipeline root not in jobs", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"iid-1","root_job_ci_id":"r","jobs":[{"name":"x","jobCiId":"x"}]}]}`, 400},
		{"pipeline job listed twice", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"iid-1","root_job_ci_id":"r","jobs":[{"name":"r","jobCiId":"r"},{"name":"r2","jobCiId":"r"}]}]}`, 400},
		{"pipeline job without jobCiId", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"iid-1","root_job_ci_id":"r","jobs":[{"name":"r","ci_id":"r"}]}]}`, 400},
		{"pipeline reusing a root", "/pipelines", `{"data":[{"name":"p2","server_ci_id":"iid-1","root_job_ci_id":"root","jobs":[{"name":"r","jobCiId":"root"}]}]}`, 409},
		{"ci_job duplicate ci_id", "/ci_jobs", `{"data":[{"name":"u","ci_id":"unit","ci_server":{"type":"ci_server","id":"` + sid + `"}}]}`, 409},
		{"ci_job without server", "/ci_jobs", `{"data":[{"name":"u","ci_id":"new"}]}`, 400},
		{"ci_job reference without id", "/ci_jobs", `{"data":[{"name":"u","ci_id":"new","ci_server":{"type":"ci_server"}}]}`, 400},
	}
	for _, tc := range cases {
		code, out := c.call("POST", c.ws(tc.path), tc.body)
		if code != tc.want || errorCode(out) == "" {
			t.Errorf("%s: %d %v, want %d with an error_code", tc.name, code, out, tc.want)
		}
	}
	if len(c.s.Servers()) != 1 || len(c.s.Pipelines()) != 1 || len(c.s.Jobs()) != 2 {
		t.Errorf("refused bodies stored something: %d servers, %d pipelines, %d jobs", len(c.s.Servers()), len(c.s.Pipelines()), len(c.s.Jobs()))
	}
}

func TestPipelineShapesReachTheSameState(t *testing.T) {
	shapes := map[string]func(sid string) map[string]any{
		"ci_server reference": func(sid string) map[string]any {
			return map[string]any{"ci_server": map[string]any{"type": "ci_server", "id": sid}}
		},
		"server_ci_id": func(string) map[string]any { return map[string]any{"server_ci_id": "iid-9"} },
	}
	var states [][]any
	for name, shape := range shapes {
		c := signedIn(t, Options{})
		out := c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"S","instance_id":"iid-9"}]}`)
		sid := dataAt(t, out, 0)["id"].(string)
		body := map[string]any{"name": "P", "root_job_ci_id": "pipe-1",
			"jobs": []any{map[string]any{"name": "pipeline", "jobCiId": "pipe-1"}, map[string]any{"name": "Clone", "jobCiId": "pipe-1-clone"}}}
		for k, v := range shape(sid) {
			body[k] = v
		}
		out = c.mustCall(201, "POST", c.ws("/pipelines"), map[string]any{"data": []any{body}})
		p := dataAt(t, out, 0)
		if p["type"] != "pipeline" || p["name"] != "P" || p["root_job_ci_id"] != "pipe-1" {
			t.Errorf("%s: answer %v", name, p)
		}
		if cs, _ := p["ci_server"].(map[string]any); cs["id"] != sid || cs["type"] != "ci_server" {
			t.Errorf("%s: ci_server %v", name, p["ci_server"])
		}
		rj, _ := p["root_job"].(map[string]any)
		jobs, _ := p["jobs"].([]any)
		if rj["type"] != "ci_job" || rj["id"] == nil || len(jobs) != 2 || jobs[1].(map[string]any)["jobCiId"] != "pipe-1-clone" {
			t.Errorf("%s: root_job %v jobs %v", name, p["root_job"], p["jobs"])
		}
		if _, isString := p["id"].(string); !isString {
			t.Errorf("%s: id %v is not a string", name, p["id"])
		}
		nodes := c.mustCall(200, "GET", c.ws("/pipeline_nodes")+"?query="+url.QueryEscape(`"pipeline EQ {id EQ `+p["id"].(string)+`}"`)+"&fields=ci_job{ci_id}", nil)
		if nodes["total_count"] != 2.0 {
			t.Errorf("%s: pipeline_nodes %v", name, nodes)
		}
		pl := c.s.Pipelines()[0]
		jobsRB := c.s.Jobs()
		var state []any
		state = append(state, pl.Name, pl.RootJobCIID, pl.JobCIIDs, pl.ServerID == sid)
		for _, j := range jobsRB {
			state = append(state, j.CIID, j.Name, j.PipelineID == pl.ID, j.ServerID == sid)
		}
		states = append(states, state)
	}
	if !reflect.DeepEqual(states[0], states[1]) {
		t.Errorf("the two shapes differ:\n%v\n%v", states[0], states[1])
	}
}

func TestCIJobsPostAndQuery(t *testing.T) {
	c := signedIn(t, Options{})
	sid := c.seed()
	out := c.mustCall(201, "POST", c.ws("/ci_jobs"), map[string]any{"data": []any{map[string]any{
		"name": "Nightly", "ci_id": "nightly", "ci_server": map[string]any{"type": "ci_server", "id": sid}, "branch": "main"}}})
	if j := dataAt(t, out, 0); j["ci_id"] != "nightly" || j["pipeline"] != nil {
		t.Errorf("created job %v", j)
	}
	q := url.QueryEscape(`"ci_id EQ ^nightly^;ci_server EQ {id EQ ` + sid + `}"`)
	got := c.mustCall(200, "GET", c.ws("/ci_jobs?fields=name,ci_id&query="+q), nil)
	if got["total_count"] != 1.0 || dataAt(t, got, 0)["name"] != "Nightly" {
		t.Errorf("lookup = %v", got)
	}
	if _, has := dataAt(t, got, 0)["branch"]; has {
		t.Errorf("fields=name,ci_id returned branch: %v", got)
	}
}

func TestQueryDialects(t *testing.T) {
	c := signedIn(t, Options{})
	sid := c.seed()
	c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"it's (odd)","instance_id":"iid-2"},{"name":"caret^name","instance_id":"iid-3"}]}`)
	cases := []struct {
		coll, query string
		want        int
	}{
		{"ci_servers", `"instance_id EQ ^iid-1^"`, 1},
		{"ci_servers", `"instance_id='iid-1'"`, 1},
		{"ci_servers", `"instance_id = 'iid-1'"`, 1},
		{"ci_servers", `"name EQ ^it's \(odd\)^"`, 1},
		{"ci_servers", `"name='it\'s \(odd\)'"`, 1},
		{"ci_servers", `"id EQ ` + sid + `"`, 1},
		{"ci_servers", `"id=` + sid + `"`, 1},
		{"ci_servers", `"id EQ ^` + sid + `^"`, 1},
		{"ci_servers", `"id IN ` + sid + `,999"`, 1},
		{"ci_servers", `"name IN 'srv','caret^name'"`, 2},
		{"ci_servers", `"name='*odd*'"`, 1},
		{"ci_servers", `"!name EQ ^srv^"`, 2},
		{"ci_servers", `"((name EQ ^srv^)||(instance_id EQ ^iid-2^))"`, 2},
		{"ci_servers", `"name EQ ^srv^;instance_id EQ ^iid-2^"`, 0},
		{"ci_servers", `"name EQ ^SRV^"`, 0},
		{"pipelines", `"name EQ ^pipe^;ci_server EQ {id EQ ` + sid + `}"`, 1},
		{"pipelines", `"ci_server={id=` + sid + `}"`, 1},
		{"pipelines", `"ci_server EQ {instance_id EQ ^iid-1^}"`, 1},
		{"pipelines", `"root_job EQ {ci_id EQ ^root^};ci_server EQ {id EQ ` + sid + `}"`, 1},
		{"pipelines", `"current_release EQ null"`, 1},
		{"pipelines", `"current_release={null}"`, 1},
		{"ci_jobs", `"ci_id EQ ^unit^;ci_server EQ {id EQ ` + sid + `}"`, 1},
		{"ci_jobs", `"pipeline EQ {name EQ ^pipe^}"`, 2},
		{"ci_jobs", `"ci_server EQ {id EQ 424242}"`, 0},
	}
	for _, tc := range cases {
		out := c.mustCall(200, "GET", c.ws("/"+tc.coll+"?query="+url.QueryEscape(tc.query)), nil)
		if out["total_count"] != float64(tc.want) {
			t.Errorf("%s %s: total_count %v, want %d", tc.coll, tc.query, out["total_count"], tc.want)
		}
	}
	bad := []string{
		`instance_id EQ ^iid-1^`,         // unquoted
		`"nosuchfield EQ ^x^"`,           // unknown field
		`"ci_server EQ ` + sid + `"`,     // reference compared with a plain value
		`"name EQ {id EQ 1}"`,            // plain field compared with a subquery
		`"name EQ ^unterminated"`,        // unterminated string
		`"name LIKE ^x^"`,                // unknown operator
		`"start_time BTW 1...2"`,         // BTW unsupported
		`"ci_server EQ {nosuch EQ ^x^}"`, // unknown field inside a reference
		`"name EQ ^srv^ junk"`,           // trailing junk
		`""`,                             // empty
	}
	for _, q := range bad {
		if code, out := c.call("GET", c.ws("/ci_servers?query="+url.QueryEscape(q)), nil); code != 400 || errorCode(out) == "" {
			t.Errorf("query %s = %d %v, want 400", q, code, out)
		}
	}
}

func TestPaginationAndFields(t *testing.T) {
	c := signedIn(t, Options{MaxPageSize: 20, DefaultPageSize: 7})
	var items []any
	for i := range 25 {
		items = append(items, map[string]any{"name": fmt.Sprintf("s%02d", i), "instance_id": fmt.Sprintf("i%02d", i)})
	}
	c.mustCall(201, "POST", c.ws("/ci_servers"), map[string]any{"data": items})
	var names []string
	for off := 0; ; off += 10 {
		out := c.mustCall(200, "GET", c.ws(fmt.Sprintf("/ci_servers?limit=10&offset=%d&fields=name&order_by=name", off)), nil)
		if out["total_count"] != 25.0 {
			t.Fatalf("total_count = %v", out["total_count"])
		}
		data := out["data"].([]any)
		if len(data) == 0 {
			break
		}
		for _, d := range data {
			m := d.(map[string]any)
			if _, has := m["instance_id"]; has || m["type"] != "ci_server" || m["id"] == nil {
				t.Errorf("fields=name gave %v", m)
			}
			names = append(names, m["name"].(string))
		}
	}
	if len(names) != 25 || names[0] != "s00" || names[24] != "s24" {
		t.Errorf("paged names = %v", names)
	}
	if out := c.mustCall(200, "GET", c.ws("/ci_servers"), nil); len(out["data"].([]any)) != 7 {
		t.Errorf("default page = %d items, want 7", len(out["data"].([]any)))
	}
	desc := c.mustCall(200, "GET", c.ws("/ci_servers?order_by=-name&limit=1"), nil)
	if dataAt(t, desc, 0)["name"] != "s24" {
		t.Errorf("order_by=-name first = %v", dataAt(t, desc, 0))
	}
	for _, q := range []string{"limit=0", "limit=21", "limit=-1", "limit=ten", "offset=-1", "offset=x", "fields=nosuch", "fields=name{id}", "order_by=nosuch", "colour=red"} {
		if code, out := c.call("GET", c.ws("/ci_servers?"+q), nil); code != 400 || errorCode(out) == "" {
			t.Errorf("%s = %d %v, want 400", q, code, out)
		}
	}
	d := Options{}.withDefaults()
	if d.MaxPageSize != 1000 {
		t.Errorf("default MaxPageSize = %d", d.MaxPageSize)
	}
	c2 := signedIn(t, Options{})
	c2.mustCall(200, "GET", c2.ws("/ci_servers?limit=1000"), nil)
	if code, _ := c2.call("GET", c2.ws("/ci_servers?limit=1001"), nil); code != 400 {
		t.Errorf("limit=1001 = %d, want 400", code)
	}
}

func TestSingleEntityAndNestedFields(t *testing.T) {
	c := signedIn(t, Options{})
	c.seed()
	p := c.s.Pipelines()[0]
	out := c.mustCall(200, "GET", c.ws("/pipelines/"+p.ID+"?fields=name,ci_server{instance_id},root_job{ci_id}"), nil)
	cs, _ := out["ci_server"].(map[string]any)
	rj, _ := out["root_job"].(map[string]any)
	if out["name"] != "pipe" || cs["instance_id"] != "iid-1" || rj["ci_id"] != "root" {
		t.Errorf("nested fields = %v", out)
	}
	if code, _ := c.call("GET", c.ws("/pipelines/999999"), nil); code != 404 {
		t.Errorf("missing pipeline = %d", code)
	}
	if code, _ := c.call("GET", "/api/shared_spaces/9/workspaces/1002/ci_servers", nil); code != 404 {
		t.Errorf("unknown shared space = %d", code)
	}
	if code, _ := c.call("GET", "/api/shared_spaces/1001/workspaces/9/ci_servers", nil); code != 404 {
		t.Errorf("unknown workspace = %d", code)
	}
	sp := c.mustCall(200, "GET", "/api/shared_spaces?fields=name&query="+url.QueryEscape(`"id EQ 1001"`), nil)
	if sp["total_count"] != 1.0 {
		t.Errorf("shared space lookup = %v", sp)
	}
}
