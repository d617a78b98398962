package sandbox

import (
	"fmt"
	"net/http"
	"time"
)

// Cause is one build cause (section 6).
type Cause struct {
	JobCIID, BuildCIID string
	Type, User         string
}

// Parameter is one build parameter (section 6).
type Parameter struct {
	Name, Type, Description, DefaultValue, Value string
	Choices                                      []string
}

var (
	buildStatuses = map[string]bool{"running": true, "finished": true, "queued": true, "unavailable": true}
	buildResults  = map[string]bool{"success": true, "failure": true, "unstable": true, "aborted": true, "unavailable": true}
	paramTypes    = map[string]bool{"unknown": true, "password": true, "boolean": true, "string": true, "number": true, "file": true, "axis": true}
	causeTypes    = map[string]bool{"scm": true, "user": true, "timer": true, "upstream": true, "undefined": true}
)

// putBuild serves PUT …/analytics/ci/builds (section 6): one object, upsert
// by (serverCiId, jobCiId, buildCiId).
func (s *Server) putBuild(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		drain(r)
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", "analytics/ci/builds takes PUT", false)
		return
	}
	v, ok := s.jsonBody(w, r)
	if !ok {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		// Section 13 leaves open whether an array of builds is accepted. No
		// client sends one; the stricter reading refuses it.
		writeError(w, http.StatusBadRequest, "platform.invalid_json",
			"The body must be one build object; arrays are refused by the stand-in (section 13: undocumented)", false)
		return
	}
	o := &jsonObj{m: m, what: "build"}
	o.only("serverCiId", "jobCiId", "buildCiId", "buildName", "startTime", "duration", "status", "result", "parameters", "causes")
	b := Build{}
	b.ServerCIID, _ = o.str("serverCiId", true, 1, 255)
	b.JobCIID, _ = o.str("jobCiId", true, 1, 255)
	b.BuildCIID, _ = o.str("buildCiId", true, 1, 255)
	name, hasName := o.str("buildName", false, 1, 255)
	b.StartTime, _ = o.integer("startTime", true)
	status, hasStatus := o.str("status", false, 1, 20)
	if !hasStatus {
		status = "finished"
	}
	b.Status = status
	b.Result, _ = o.str("result", true, 1, 20)
	dur, hasDur := o.integer("duration", status == "finished")
	b.Duration = dur
	if o.err == nil {
		switch {
		case !buildStatuses[status]:
			o.fail("platform.illegal_field_value", "status %q is not one of running, finished, queued, unavailable", status)
		case !buildResults[b.Result]:
			o.fail("platform.illegal_field_value", "result %q is not one of success, failure, unstable, aborted, unavailable", b.Result)
		case b.StartTime < 0:
			o.fail("platform.illegal_field_value", "startTime %d is negative", b.StartTime)
		case hasDur && dur < 0:
			o.fail("platform.illegal_field_value", "duration %d is negative", dur)
		}
	}
	if hasName {
		b.Name = name
	} else {
		b.Name = b.BuildCIID
	}
	b.Parameters = readParams(o)
	b.Causes = readCauses(o)
	if o.err != nil {
		writeErr(w, o.err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unknown server or job: 404 with an error_code body (section 6 leaves
	// 404 or 400 open; 404 says what is missing).
	server := s.serverByInstance(b.ServerCIID)
	if server == nil {
		writeErr(w, notFound(fmt.Sprintf("build: no ci_server has the instance_id %q (serverCiId)", b.ServerCIID)))
		return
	}
	job := s.jobByCIID(server.id, b.JobCIID)
	if job == nil {
		writeErr(w, notFound(fmt.Sprintf("build: ci_server %q has no job with jobCiId %q; create the pipeline (or the ci_job) first", b.ServerCIID, b.JobCIID)))
		return
	}
	for i, c := range b.Causes {
		if c.JobCIID != "" && s.jobByCIID(server.id, c.JobCIID) == nil {
			writeErr(w, notFound(fmt.Sprintf("build: causes[%d] names job %q, which ci_server %q does not have", i, c.JobCIID, b.ServerCIID)))
			return
		}
	}
	s.attachToPipeline(server.id, job, b.Causes)
	rec, created := s.buildRecord(buildKey{b.ServerCIID, b.JobCIID, b.BuildCIID})
	if !created {
		touch(rec.entity)
	}
	puts := rec.Puts + 1
	rec.Build = b
	rec.Puts = puts
	rec.Via = "builds"
	rec.last = time.Now()
	rec.syncEntity(job, server, hasDur)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": rec.entity.id, "serverCiId": b.ServerCIID, "jobCiId": b.JobCIID, "buildCiId": b.BuildCIID,
		"buildName": b.Name, "status": b.Status, "result": b.Result, "startTime": b.StartTime, "duration": rec.entity.fields()["duration"],
	})
}

// buildRecord returns the build of key, made with a ci_build entity of its
// own when there is none (created). s.mu is held.
func (s *Server) buildRecord(key buildKey) (rec *buildRec, created bool) {
	if rec = s.builds[key]; rec != nil {
		return rec, false
	}
	rec = &buildRec{seq: len(s.buildSeq)}
	rec.entity = s.add("ci_build", map[string]any{})
	s.builds[key] = rec
	s.buildSeq = append(s.buildSeq, rec)
	return rec, true
}

// syncEntity writes the build to the fields of its ci_build entity, of job
// and server; the duration only when hasDuration. PUT analytics/ci/builds and
// CI events both end here, so a build reads the same either way. s.mu is
// held.
func (rec *buildRec) syncEntity(job, server *entity, hasDuration bool) {
	b := &rec.Build
	f := rec.entity.fields()
	f["name"], f["build_ci_id"], f["status"], f["result"] = b.Name, b.BuildCIID, b.Status, b.Result
	f["ci_job"], f["ci_server"] = ref{"ci_job", job.id}, ref{"ci_server", server.id}
	f["start_time"] = b.StartTime
	if hasDuration {
		f["duration"] = b.Duration
	} else {
		f["duration"] = nil
	}
}

// objects reads the array of objects under key (absent or null: none), each as a jsonObj
// described as "build KEY[i]"; nil after a failure, recorded on o.
func objects(o *jsonObj, key string) []*jsonObj {
	v, ok := o.m[key]
	if !ok || v == nil || o.err != nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		o.fail("platform.illegal_field_value", "%s must be an array", key)
		return nil
	}
	out := make([]*jsonObj, 0, len(arr))
	for i, x := range arr {
		m, ok := x.(map[string]any)
		if !ok {
			o.fail("platform.illegal_field_value", "%s[%d] is not an object", key, i)
			return nil
		}
		out = append(out, &jsonObj{m: m, what: fmt.Sprintf("build %s[%d]", key, i)})
	}
	return out
}

func readParams(o *jsonObj) []Parameter {
	var out []Parameter
	for _, po := range objects(o, "parameters") {
		m := po.m
		po.only("name", "type", "description", "choices", "defaultValue", "value")
		p := Parameter{}
		p.Name, _ = po.str("name", true, 1, 255)
		typ, hasType := po.str("type", false, 1, 20)
		if hasType && !paramTypes[typ] {
			po.fail("platform.illegal_field_value", "type %q is not one of unknown, password, boolean, string, number, file, axis", typ)
		}
		p.Type = typ
		p.Description, _ = po.str("description", false, 0, 4000)
		p.DefaultValue = scalarText(po, "defaultValue")
		p.Value = scalarText(po, "value")
		if c, ok := m["choices"]; ok && c != nil {
			ca, ok := c.([]any)
			if !ok {
				po.fail("platform.illegal_field_value", "choices must be an array")
			}
			for _, x := range ca {
				p.Choices = append(p.Choices, fmt.Sprint(x))
			}
		}
		if po.err != nil {
			o.err = po.err
			return nil
		}
		out = append(out, p)
	}
	return out
}

// jsonBody reads a request's JSON body; false when it answered with the error already.
func (s *Server) jsonBody(w http.ResponseWriter, r *http.Request) (any, bool) {
	body, _, e := s.readBody(r, "application/json")
	if e != nil {
		writeErr(w, e)
		return nil, false
	}
	v, err := decodeJSON(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", "The body is not valid JSON: "+err.Error(), false)
		return nil, false
	}
	return v, true
}

// scalarText accepts a string, number or boolean value.
func scalarText(o *jsonObj, k string) string {
	v, ok := o.m[k]
	if !ok || v == nil {
		return ""
	}
	switch v.(type) {
	case map[string]any, []any:
		o.fail("platform.illegal_field_value", "%s must be a string, number or boolean", k)
		return ""
	}
	return fmt.Sprint(v)
}

func readCauses(o *jsonObj) []Cause {
	var out []Cause
	for _, co := range objects(o, "causes") {
		co.only("jobCiId", "buildCiId", "type", "user", "userId", "userName", "project", "causes")
		c := Cause{}
		c.JobCIID, _ = co.str("jobCiId", true, 1, 255)
		c.BuildCIID, _ = co.str("buildCiId", true, 1, 255)
		typ, hasType := co.str("type", false, 1, 20)
		if hasType && !causeTypes[typ] {
			co.fail("platform.illegal_field_value", "type %q is not one of scm, user, timer, upstream, undefined", typ)
		}
		c.Type = typ
		c.User, _ = co.str("user", false, 0, 255)
		if co.err != nil {
			o.err = co.err
			return nil
		}
		out = append(out, c)
	}
	return out
}

// attachToPipeline puts a job that belongs to no pipeline into the pipeline of
// the first job its build names as a cause, with a pipeline_node, as Octane
// builds a pipeline's structure from the causes plugins report (the upstream
// causes of CI events, section 7; "if not supplied the cause build is assumed
// to be the root build", section 6). This is inferred from the clients: no
// stored source shows the server's rule. A job already in a pipeline stays
// where it is. s.mu is held.
func (s *Server) attachToPipeline(serverID string, job *entity, causes []Cause) {
	if refID(job, "pipeline") != "" {
		return
	}
	for _, c := range causes {
		cj := s.jobByCIID(serverID, c.JobCIID)
		p := s.get("pipeline", refID(cj, "pipeline"))
		if p == nil {
			continue
		}
		job.fields()["pipeline"] = ref{"pipeline", p.id}
		touch(job)
		s.add("pipeline_node", map[string]any{"name": job.fields()["name"], "pipeline": ref{"pipeline", p.id}, "ci_job": ref{"ci_job", job.id}})
		if jobs, ok := p.fields()["jobs"].([]any); ok {
			p.fields()["jobs"] = append(jobs, map[string]any{"name": job.fields()["name"], "jobCiId": str(job, "ci_id"), "id": job.id})
		}
		touch(p)
		return
	}
}
