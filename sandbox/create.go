package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// jsonObj reads typed fields out of a decoded JSON object, remembering the
// first problem as a 400 platform.illegal_field_value (section 3.4).
type jsonObj struct {
	m    map[string]any
	what string
	err  *errorBody
}

func (o *jsonObj) fail(code, format string, args ...any) {
	if o.err == nil {
		o.err = newError(http.StatusBadRequest, code, o.what+": "+fmt.Sprintf(format, args...), true)
	}
}

// only refuses keys outside allowed (the real server rejects unknown fields).
func (o *jsonObj) only(allowed ...string) {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for k := range o.m {
		if !ok[k] {
			o.fail("platform.unknown_field", "unknown field %q", k)
			return
		}
	}
}

// str reads a string field of minLen..maxLen characters.
func (o *jsonObj) str(k string, required bool, minLen, maxLen int) (string, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		if required {
			o.fail("platform.missing_required_field", "field %q is required", k)
		}
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		o.fail("platform.illegal_field_value", "field %q must be a string, got %s", k, jsonType(v))
		return "", false
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		o.fail("platform.illegal_field_value", "field %q must have %d to %d characters, has %d", k, minLen, maxLen, n)
		return "", false
	}
	return s, true
}

// integer reads a whole JSON number.
func (o *jsonObj) integer(k string, required bool) (int64, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		if required {
			o.fail("platform.missing_required_field", "field %q is required", k)
		}
		return 0, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		o.fail("platform.illegal_field_value", "field %q must be a number, got %s", k, jsonType(v))
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		o.fail("platform.illegal_field_value", "field %q must be a whole number (epoch milliseconds or milliseconds), got %s", k, n)
		return 0, false
	}
	return i, true
}

func (o *jsonObj) boolean(k string) (bool, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.fail("platform.illegal_field_value", "field %q must be true or false, got %s", k, jsonType(v))
	}
	return b, isBool
}

// reference reads {"type":typ,"id":…}; id may be a string or a number
// (section 3.1). Returns "" when absent.
func (o *jsonObj) reference(k, typ string, required bool) string {
	v, ok := o.m[k]
	if !ok || v == nil {
		if required {
			o.fail("platform.missing_required_field", "field %q is required", k)
		}
		return ""
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		o.fail("platform.illegal_field_value", "field %q must be a reference {\"type\":%q,\"id\":…}, got %s", k, typ, jsonType(v))
		return ""
	}
	if t, ok := m["type"]; ok && t != typ {
		o.fail("platform.illegal_field_value", "field %q must reference a %s, not %v", k, typ, t)
		return ""
	}
	for mk := range m {
		if mk != "type" && mk != "id" && mk != "name" {
			o.fail("platform.unknown_field", "reference %q has an unknown key %q", k, mk)
			return ""
		}
	}
	switch id := m["id"].(type) {
	case string:
		if id != "" {
			return id
		}
	case json.Number:
		if _, err := strconv.ParseInt(id.String(), 10, 64); err == nil {
			return id.String()
		}
	}
	o.fail("platform.illegal_field_value", "reference %q needs an id (string or whole number)", k)
	return ""
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func notFound(what string) *errorBody {
	return newError(http.StatusNotFound, "platform.entity_not_found", what, true)
}

func duplicate(what string) *errorBody {
	return newError(http.StatusConflict, "platform.duplicate_entity_error", what, true)
}

// create serves the bulk POST of section 3.2.
func (s *Server) create(w http.ResponseWriter, r *http.Request, typ string) {
	body, _, e := s.readBody(r, "application/json")
	if e != nil {
		writeErr(w, e)
		return
	}
	switch typ {
	case "ci_build", "pipeline_node", "run":
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed",
			fmt.Sprintf("%s entities are created by the server (builds and test results), not by POST", typ), false)
		return
	case "ci_job":
		if s.opts.NoCIJobCreate {
			// The code an older server answers is not in any stored
			// source; 405 is ours. Clients must not depend on it.
			writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed",
				"ci_job entities cannot be created directly before Octane 16.2.100: create them with their pipeline", false)
			return
		}
	}
	spec, e := fieldsParam(r.URL, typ)
	if e != nil {
		writeErr(w, e)
		return
	}
	v, err := decodeJSON(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", "The body is not valid JSON: "+err.Error(), false)
		return
	}
	top, ok := v.(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", `A POST body must be {"data":[…]}`, false)
		return
	}
	items, ok := top["data"].([]any)
	if !ok || len(top) != 1 {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", `A POST body must be exactly {"data":[…]}`, false)
		return
	}
	if len(items) == 0 {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", `"data" is empty: nothing to create`, false)
		return
	}
	var errs []*errorBody
	data := []map[string]any{}
	s.mu.Lock()
	for i, it := range items {
		m, ok := it.(map[string]any)
		var ent *entity
		var ee *errorBody
		if !ok {
			ee = newError(http.StatusBadRequest, "platform.invalid_json", fmt.Sprintf("data[%d] is not an object", i), false)
		} else {
			obj := &jsonObj{m: m, what: fmt.Sprintf("%s data[%d]", typ, i)}
			ent, ee = s.createOne(typ, obj)
		}
		if ee != nil {
			idx := i
			ee.Index, ee.EntityIndex = &idx, &idx
			errs = append(errs, ee)
			continue
		}
		data = append(data, s.view(ent, spec))
	}
	s.mu.Unlock()
	switch {
	case len(errs) == 0:
		writeJSON(w, http.StatusCreated, map[string]any{"total_count": len(data), "data": data, "exceeds_total_count": false})
	case len(items) == 1:
		// One entity, one error: the single-error body of section 3.4.
		errs[0].Index, errs[0].EntityIndex = nil, nil
		writeErr(w, errs[0])
	default:
		// Partial or complete failure of a bulk request: 409 with errors[]
		// (index and entity_index) and the entities that were created.
		writeJSON(w, http.StatusConflict, map[string]any{
			"errors": errs, "data": data, "total_count": len(data), "exceeds_total_count": false,
		})
	}
}

// createOne validates and stores one entity. s.mu is held.
func (s *Server) createOne(typ string, o *jsonObj) (*entity, *errorBody) {
	if t, ok := o.m["type"]; ok && t != typ {
		o.fail("platform.illegal_field_value", "type is %v, this collection holds %s", t, typ)
		return nil, o.err
	}
	switch typ {
	case "ci_server":
		return s.createServer(o)
	case "pipeline":
		return s.createPipeline(o)
	case "ci_job":
		return s.createJob(o)
	default:
		o.only("type", "name", "description")
		name, _ := o.str("name", true, 1, 255)
		desc, hasDesc := o.str("description", false, 0, 1<<20)
		if o.err != nil {
			return nil, o.err
		}
		f := map[string]any{"name": name, "description": nil}
		if hasDesc {
			f["description"] = desc
		}
		return s.add(typ, f), nil
	}
}

func (s *Server) createServer(o *jsonObj) (*entity, *errorBody) {
	o.only("type", "name", "instance_id", "url", "server_type", "plugin_version")
	name, _ := o.str("name", true, 1, 255)
	iid, hasIID := o.str("instance_id", false, 1, 255)
	u, _ := o.str("url", false, 0, 2048)
	st, hasType := o.str("server_type", false, 1, 255)
	pv, _ := o.str("plugin_version", false, 0, 255)
	if o.err != nil {
		return nil, o.err
	}
	for _, e := range s.ents["ci_server"] {
		if str(e, "name") == name {
			return nil, duplicate(fmt.Sprintf("A CI server with the name %q already exists (id %s).", name, e.id))
		}
	}
	if !hasIID {
		iid = randomToken(8) + "-" + randomToken(4) + "-" + randomToken(12)
	}
	// instance_id "can be any unique string" (section 4): a second server
	// with the same instance_id is refused like a duplicate name (stricter;
	// the real code is not documented).
	if e := s.serverByInstance(iid); e != nil {
		return nil, duplicate(fmt.Sprintf("A CI server with the instance_id %q already exists (id %s).", iid, e.id))
	}
	if !hasType {
		st = "unknown"
	}
	return s.add("ci_server", map[string]any{
		"name": name, "instance_id": iid, "url": u, "server_type": st, "plugin_version": pv, "is_connected": false,
	}), nil
}

func (s *Server) createPipeline(o *jsonObj) (*entity, *errorBody) {
	o.only("type", "name", "ci_server", "server_ci_id", "root_job_ci_id", "root_job_name", "jobs", "current_release",
		"multi_branch_type", "notification_track", "notification_track_tester")
	name, _ := o.str("name", true, 1, 255)
	serverRef := o.reference("ci_server", "ci_server", false)
	serverCIID, hasCIID := o.str("server_ci_id", false, 1, 255)
	rootCIID, _ := o.str("root_job_ci_id", true, 1, 255)
	rootName, hasRootName := o.str("root_job_name", false, 1, 255)
	release := o.reference("current_release", "release", false)
	mbt, hasMBT := o.str("multi_branch_type", false, 1, 20)
	nt, hasNT := o.boolean("notification_track")
	ntt, hasNTT := o.boolean("notification_track_tester")
	if hasMBT && mbt != "PARENT" && mbt != "CHILD" {
		o.fail("platform.illegal_field_value", "multi_branch_type must be PARENT or CHILD, not %q", mbt)
	}
	if o.err != nil {
		return nil, o.err
	}
	// Both documented shapes (section 5.2): a ci_server reference, or
	// server_ci_id. server_ci_id is taken as the ci_server's instance_id
	// (section 13 leaves open whether it is the instance_id or the id; the
	// instance_id is the stricter reading: an id is refused unless some
	// server also uses it as instance_id). Sending both is refused.
	var server *entity
	switch {
	case serverRef != "" && hasCIID:
		return nil, newError(http.StatusBadRequest, "platform.illegal_field_value",
			o.what+": send either ci_server or server_ci_id, not both", true)
	case serverRef != "":
		if server = s.get("ci_server", serverRef); server == nil {
			return nil, notFound(fmt.Sprintf("%s: ci_server %q does not exist", o.what, serverRef))
		}
	case hasCIID:
		if server = s.serverByInstance(serverCIID); server == nil {
			return nil, notFound(fmt.Sprintf("%s: no ci_server has the instance_id %q (server_ci_id is the instance_id)", o.what, serverCIID))
		}
	default:
		return nil, newError(http.StatusBadRequest, "platform.missing_required_field", o.what+": ci_server (or server_ci_id) is required", true)
	}
	if release != "" && s.get("release", release) == nil {
		return nil, notFound(fmt.Sprintf("%s: release %q does not exist", o.what, release))
	}
	jobsV, ok := o.m["jobs"].([]any)
	if !ok || len(jobsV) == 0 {
		return nil, newError(http.StatusBadRequest, "platform.missing_required_field",
			o.what+`: "jobs" is required and must list at least the root job`, true)
	}
	type jobIn struct {
		name, ciid string
		params     any
	}
	var jobs []jobIn
	seen := map[string]bool{}
	for i, jv := range jobsV {
		m, ok := jv.(map[string]any)
		if !ok {
			return nil, newError(http.StatusBadRequest, "platform.illegal_field_value", fmt.Sprintf("%s: jobs[%d] is not an object", o.what, i), true)
		}
		jo := &jsonObj{m: m, what: fmt.Sprintf("%s jobs[%d]", o.what, i)}
		jo.only("name", "jobCiId", "parameters", "definitionId")
		jn, _ := jo.str("name", true, 1, 255)
		jc, _ := jo.str("jobCiId", true, 1, 255)
		if jo.err != nil {
			return nil, jo.err
		}
		if seen[jc] {
			return nil, newError(http.StatusBadRequest, "platform.illegal_field_value", fmt.Sprintf("%s: jobCiId %q is listed twice", jo.what, jc), true)
		}
		seen[jc] = true
		jobs = append(jobs, jobIn{name: jn, ciid: jc, params: m["parameters"]})
	}
	if !seen[rootCIID] {
		return nil, newError(http.StatusBadRequest, "platform.illegal_field_value",
			fmt.Sprintf("%s: root_job_ci_id %q is not among the jobs", o.what, rootCIID), true)
	}
	// Pipeline names are unique in the shared space (section 5.2).
	for _, e := range s.ents["pipeline"] {
		if str(e, "name") == name {
			return nil, duplicate(fmt.Sprintf("A pipeline with the name %q already exists (id %s).", name, e.id))
		}
	}
	// A root job that already roots another pipeline of this server cannot
	// root a second one.
	if j := s.jobByCIID(server.id, rootCIID); j != nil {
		for _, p := range s.ents["pipeline"] {
			if refID(p, "root_job") == j.id {
				return nil, duplicate(fmt.Sprintf("%s: job %q already roots pipeline %q (id %s)", o.what, rootCIID, str(p, "name"), p.id))
			}
		}
	}
	f := map[string]any{
		"name": name, "ci_server": ref{"ci_server", server.id}, "root_job_ci_id": rootCIID,
		"root_job_name": nil, "current_release": ref{"release", release}, "multi_branch_type": nil,
		"notification_track": nil, "notification_track_tester": nil,
	}
	if hasRootName {
		f["root_job_name"] = rootName
	}
	if hasMBT {
		f["multi_branch_type"] = mbt
	}
	if hasNT {
		f["notification_track"] = nt
	}
	if hasNTT {
		f["notification_track_tester"] = ntt
	}
	p := s.add("pipeline", f)
	echo := []any{}
	for _, j := range jobs {
		je := s.jobByCIID(server.id, j.ciid)
		if je == nil {
			je = s.add("ci_job", map[string]any{
				"name": j.name, "ci_id": j.ciid, "ci_server": ref{"ci_server", server.id},
				"pipeline": ref{"pipeline", p.id}, "parameters": j.params, "branch": nil, "executor": nil, "definition_id": nil,
			})
		} else if refID(je, "pipeline") == "" {
			je.fields()["pipeline"] = ref{"pipeline", p.id}
			touch(je)
		}
		if j.ciid == rootCIID {
			p.fields()["root_job"] = ref{"ci_job", je.id}
		}
		s.add("pipeline_node", map[string]any{"name": j.name, "pipeline": ref{"pipeline", p.id}, "ci_job": ref{"ci_job", je.id}})
		echo = append(echo, map[string]any{"name": j.name, "jobCiId": j.ciid, "id": je.id})
	}
	p.fields()["jobs"] = echo
	return p, nil
}

// createJob creates a ci_job outside any pipeline, as the GitHub Actions and
// Azure DevOps integrations do: {name, ci_id, ci_server, parameters, branch |
// definition_id} (shared/octane-clients.md section 4). A "pipeline" reference
// is refused: no official client sends one on this POST and whether the
// server honours it is open, so the stricter reading refuses it. The job
// joins a pipeline when one of its builds names a build of that pipeline as
// its cause (attachToPipeline).
func (s *Server) createJob(o *jsonObj) (*entity, *errorBody) {
	if _, ok := o.m["pipeline"]; ok {
		return nil, newError(http.StatusBadRequest, "platform.field_not_editable",
			o.what+`: "pipeline" cannot be set when creating a ci_job; a job joins a pipeline through the pipeline or its builds`, true)
	}
	o.only("type", "name", "ci_id", "ci_server", "parameters", "branch", "executor", "definition_id")
	name, _ := o.str("name", true, 1, 255)
	ciid, _ := o.str("ci_id", true, 1, 255)
	serverID := o.reference("ci_server", "ci_server", true)
	branch, hasBranch := o.str("branch", false, 0, 255)
	executor, hasExec := o.str("executor", false, 0, 255)
	def, hasDef := o.str("definition_id", false, 0, 255)
	if o.err != nil {
		return nil, o.err
	}
	if s.get("ci_server", serverID) == nil {
		return nil, notFound(fmt.Sprintf("%s: ci_server %q does not exist", o.what, serverID))
	}
	if j := s.jobByCIID(serverID, ciid); j != nil {
		return nil, duplicate(fmt.Sprintf("A CI job with ci_id %q already exists on ci_server %s (id %s).", ciid, serverID, j.id))
	}
	f := map[string]any{"name": name, "ci_id": ciid, "ci_server": ref{"ci_server", serverID}, "pipeline": ref{"pipeline", ""},
		"parameters": o.m["parameters"], "branch": nil, "executor": nil, "definition_id": nil}
	if hasBranch {
		f["branch"] = branch
	}
	if hasExec {
		f["executor"] = executor
	}
	if hasDef {
		f["definition_id"] = def
	}
	return s.add("ci_job", f), nil
}

// update serves PUT …/{collection}/{id} with a bare object (section 3.3):
// renames and field edits of ci_servers, pipelines, ci_jobs and the
// reference collections. Names stay unique.
func (s *Server) update(w http.ResponseWriter, r *http.Request, typ, id string) {
	body, _, e := s.readBody(r, "application/json")
	if e != nil {
		writeErr(w, e)
		return
	}
	spec, e := fieldsParam(r.URL, typ)
	if e != nil {
		writeErr(w, e)
		return
	}
	v, err := decodeJSON(body)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", "A PUT body must be one JSON object", false)
		return
	}
	o := &jsonObj{m: m, what: fmt.Sprintf("%s %s", typ, id)}
	s.mu.Lock()
	defer s.mu.Unlock()
	ent := s.get(typ, id)
	if ent == nil {
		writeErr(w, notFound(fmt.Sprintf("No %s with id %q", typ, id)))
		return
	}
	if bid, ok := m["id"]; ok && fmt.Sprint(bid) != id {
		writeError(w, http.StatusBadRequest, "platform.illegal_field_value", fmt.Sprintf("body id %v does not match the URL id %s", bid, id), true)
		return
	}
	var editable []string
	switch typ {
	case "ci_server":
		editable = []string{"name", "url", "plugin_version", "server_type"}
	case "pipeline":
		editable = []string{"name", "multi_branch_type"}
	case "ci_job":
		editable = []string{"name", "branch", "executor"}
	case "ci_build", "pipeline_node", "run":
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", typ+" cannot be edited", false)
		return
	default:
		editable = []string{"name", "description"}
	}
	o.only(append([]string{"id", "type"}, editable...)...)
	changes := map[string]string{}
	for _, k := range editable {
		minLen, maxLen := 0, 2048
		if k == "name" {
			minLen, maxLen = 1, 255
		}
		if val, ok := o.str(k, false, minLen, maxLen); ok {
			changes[k] = val
		}
	}
	if o.err != nil {
		writeErr(w, o.err)
		return
	}
	if n, ok := changes["name"]; ok && (typ == "ci_server" || typ == "pipeline") {
		for _, other := range s.ents[typ] {
			if other != ent && str(other, "name") == n {
				writeErr(w, duplicate(fmt.Sprintf("A %s with the name %q already exists (id %s).", typ, n, other.id)))
				return
			}
		}
	}
	for k, val := range changes {
		ent.fields()[k] = val
	}
	touch(ent)
	writeJSON(w, http.StatusOK, s.view(ent, spec))
}
