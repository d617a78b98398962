package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CI events (section 7): PUT /internal-api/shared_spaces/{sid}/analytics/ci/events,
// what every current plugin sends instead of PUT analytics/ci/builds. The
// stand-in holds them to the same rules as builds (the server and the job must
// exist, a cause must name a job of the server, the enums of section 6), and
// stores started, finished and queued events as builds, so that test results
// link to a build reported either way.
//
// Where the contract is open, the stricter reading:
//   - /internal-api serves Octane's own plugins: a request must carry
//     HPECLIENTTYPE: HPE_CI_CLIENT (the SDK) or ALM-OCTANE-PRIVATE: true (the
//     GitHub Actions integration), else 403 (shared/octane-api.md section 2.4
//     names the two; no source shows the server's answer without them).
//   - The body is exactly {"server":{…},"events":[…]}; unknown fields are
//     refused, in the server info and in each event. The server info needs
//     type, instanceId and sendingTime (every client sends them); url and
//     version are optional.
//   - A finished event needs result and duration; duration belongs to finished
//     only; started and finished need startTime.
//   - A finished event for a build never started (in this request or before)
//     is refused: every plugin sends started first.
//   - The request is all or nothing: one bad event refuses it whole (400 or
//     404) and nothing is stored. Success is 200 with no body (the SDK takes
//     200 only).

var (
	eventTypes = map[string]bool{"queued": true, "started": true, "finished": true, "scm": true, "deleted": true,
		"removed_from_queue": true, "renamed": true, "change_exec_state": true, "undefined": true}
	eventFields = []string{"eventType", "buildCiId", "project", "projectDisplayName", "number", "startTime", "estimatedDuration",
		"duration", "result", "causes", "parameters", "scmData", "testResultExpected", "phaseType", "parentCiId", "multiBranchType",
		"branchName", "branch", "skipValidation", "isVirtualProject", "itemType", "previousProject", "previousProjectDisplayName",
		"environmentOutputtedParameters", "commonHashId", "stateLogicalName", "customReportUrl"}
)

// ciEvent is one validated event.
type ciEvent struct {
	typ, build, project, number string
	start, duration             int64
	hasStart, hasDuration       bool
	result                      string
	causes                      []Cause
	params                      []Parameter
}

// putEvents serves PUT …/analytics/ci/events.
func (s *Server) putEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		drain(r)
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", "analytics/ci/events takes PUT", false)
		return
	}
	if strings.TrimSpace(r.Header.Get("HPECLIENTTYPE")) != "HPE_CI_CLIENT" && !strings.EqualFold(strings.TrimSpace(r.Header.Get("ALM-OCTANE-PRIVATE")), "true") {
		drain(r)
		writeError(w, http.StatusForbidden, "platform.forbidden",
			"The internal API is for Octane's CI plugins: send HPECLIENTTYPE: HPE_CI_CLIENT or ALM-OCTANE-PRIVATE: true", false)
		return
	}
	identity := ""
	for k, vals := range r.URL.Query() {
		if k != "ci_server_identity" || len(vals) != 1 || vals[0] == "" {
			drain(r)
			writeError(w, http.StatusBadRequest, "platform.illegal_parameter",
				fmt.Sprintf("Unknown or repeated query parameter %q (events take only ci_server_identity)", k), false)
			return
		}
		identity = vals[0]
	}
	v, ok := s.jsonBody(w, r)
	if !ok {
		return
	}
	top, ok := v.(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, "platform.invalid_json", `The body must be {"server":{…},"events":[…]}`, false)
		return
	}
	o := &jsonObj{m: top, what: "events"}
	o.only("server", "events")
	sm, ok := top["server"].(map[string]any)
	if !ok && o.err == nil {
		o.fail("platform.missing_required_field", `"server" must be the CI server info object`)
	}
	var instanceID string
	if o.err == nil {
		so := &jsonObj{m: sm, what: "events server"}
		so.only("type", "version", "url", "instanceId", "instanceIdFrom", "sendingTime")
		so.str("type", true, 1, 255)
		so.str("version", false, 0, 255)
		so.str("url", false, 0, 2048)
		instanceID, _ = so.str("instanceId", true, 1, 255)
		so.integer("instanceIdFrom", false)
		so.integer("sendingTime", true)
		o.err = so.err
	}
	if o.err == nil && identity != "" && identity != instanceID {
		o.fail("platform.illegal_parameter", "ci_server_identity %q is not the server's instanceId %q", identity, instanceID)
	}
	list, ok := top["events"].([]any)
	if o.err == nil && (!ok || len(list) == 0) {
		o.fail("platform.missing_required_field", `"events" must be a non-empty array`)
	}
	var events []ciEvent
	for i := 0; o.err == nil && i < len(list); i++ {
		em, ok := list[i].(map[string]any)
		if !ok {
			o.fail("platform.illegal_field_value", "events[%d] is not an object", i)
			break
		}
		ev, eerr := readEvent(&jsonObj{m: em, what: fmt.Sprintf("events[%d]", i)})
		if eerr != nil {
			o.err = eerr
			break
		}
		events = append(events, ev)
	}
	if o.err != nil {
		writeErr(w, o.err)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	server := s.serverByInstance(instanceID)
	if server == nil {
		writeErr(w, notFound(fmt.Sprintf("events: no ci_server has the instance_id %q (server.instanceId)", instanceID)))
		return
	}
	// Check everything before storing anything.
	started := map[string]bool{}
	for i, ev := range events {
		if !eventBuilds(ev.typ) {
			continue
		}
		if s.jobByCIID(server.id, ev.project) == nil {
			writeErr(w, notFound(fmt.Sprintf("events[%d]: ci_server %q has no job %q (project); create the pipeline (or the ci_job) first", i, instanceID, ev.project)))
			return
		}
		for j, c := range ev.causes {
			if c.JobCIID != "" && s.jobByCIID(server.id, c.JobCIID) == nil {
				writeErr(w, notFound(fmt.Sprintf("events[%d]: causes[%d] names job %q, which ci_server %q does not have", i, j, c.JobCIID, instanceID)))
				return
			}
		}
		key := ev.project + "\x00" + ev.build
		if ev.typ == "started" {
			started[key] = true
		}
		if ev.typ == "finished" && !started[key] {
			rec := s.builds[buildKey{instanceID, ev.project, ev.build}]
			if rec == nil || rec.Status == "queued" {
				writeError(w, http.StatusBadRequest, "platform.illegal_field_value",
					fmt.Sprintf("events[%d]: finished event for build %q of %q, which never started (send its started event first)", i, ev.build, ev.project), true)
				return
			}
		}
	}
	touched := map[*buildRec]bool{}
	for _, ev := range events {
		if !eventBuilds(ev.typ) {
			continue
		}
		job := s.jobByCIID(server.id, ev.project)
		rec, created := s.buildRecord(buildKey{instanceID, ev.project, ev.build})
		if created {
			rec.Build = Build{ServerCIID: instanceID, JobCIID: ev.project, BuildCIID: ev.build, Status: "queued", Result: "unavailable"}
		} else if !touched[rec] {
			touch(rec.entity)
		}
		if !touched[rec] {
			touched[rec] = true
			rec.Puts++
		}
		b := &rec.Build
		b.Name = cmp.Or(ev.number, b.Name, ev.build)
		if ev.hasStart {
			b.StartTime = ev.start
		}
		switch ev.typ {
		case "queued":
			if b.Status != "queued" {
				continue // a queued event never takes a build back
			}
		case "started":
			b.Status, b.Result, b.Duration = "running", "unavailable", 0
			b.Causes, b.Parameters = ev.causes, ev.params
		case "finished":
			b.Status, b.Result, b.Duration = "finished", ev.result, ev.duration
			if ev.causes != nil {
				b.Causes = ev.causes
			}
			if ev.params != nil {
				b.Parameters = ev.params
			}
		}
		rec.Via = "events"
		rec.last = time.Now()
		s.attachToPipeline(server.id, job, ev.causes)
		rec.syncEntity(job, server, b.Status == "finished")
	}
	w.WriteHeader(http.StatusOK)
}

// eventBuilds reports whether an event type makes or changes a build.
func eventBuilds(typ string) bool { return typ == "queued" || typ == "started" || typ == "finished" }

// readEvent validates one CIEvent (section 7).
func readEvent(o *jsonObj) (ciEvent, *errorBody) {
	o.only(eventFields...)
	var ev ciEvent
	ev.typ, _ = o.str("eventType", true, 1, 40)
	if o.err == nil && !eventTypes[ev.typ] {
		o.fail("platform.illegal_field_value", "eventType %q is not one of queued, started, finished, scm, deleted, removed_from_queue, renamed, change_exec_state, undefined", ev.typ)
	}
	builds := eventBuilds(ev.typ)
	ev.project, _ = o.str("project", true, 1, 255)
	ev.build, _ = o.str("buildCiId", builds, 1, 255)
	o.str("projectDisplayName", false, 1, 255)
	ev.number, _ = o.str("number", false, 1, 255)
	ev.start, ev.hasStart = o.integer("startTime", ev.typ == "started" || ev.typ == "finished")
	ev.duration, ev.hasDuration = o.integer("duration", ev.typ == "finished")
	o.integer("estimatedDuration", false)
	result, hasResult := o.str("result", ev.typ == "finished", 1, 20)
	o.boolean("testResultExpected")
	o.boolean("skipValidation")
	o.boolean("isVirtualProject")
	for _, k := range []string{"parentCiId", "branchName", "branch", "itemType", "previousProject", "previousProjectDisplayName", "commonHashId", "stateLogicalName", "customReportUrl"} {
		o.str(k, false, 0, 4000)
	}
	if o.err == nil {
		switch {
		case hasResult && !buildResults[result]:
			o.fail("platform.illegal_field_value", "result %q is not one of success, failure, unstable, aborted, unavailable", result)
		case ev.hasStart && ev.start < 0:
			o.fail("platform.illegal_field_value", "startTime %d is negative", ev.start)
		case ev.hasDuration && ev.typ != "finished":
			o.fail("platform.illegal_field_value", "duration belongs to finished events, not to %s", ev.typ)
		case ev.hasDuration && ev.duration < 0:
			o.fail("platform.illegal_field_value", "duration %d is negative", ev.duration)
		}
	}
	if v, ok := o.m["phaseType"]; ok && o.err == nil && v != "post" && v != "internal" {
		o.fail("platform.illegal_field_value", "phaseType must be post or internal")
	}
	if v, ok := o.m["multiBranchType"]; ok && o.err == nil && v != "PARENT" && v != "CHILD" {
		o.fail("platform.illegal_field_value", "multiBranchType must be PARENT or CHILD")
	}
	ev.result = result
	ev.params = readParams(o)
	if o.err == nil {
		if v, ok := o.m["causes"]; ok && v != nil {
			ev.causes = readEventCauses(o, v, 0)
		}
	}
	return ev, o.err
}

// readEventCauses reads CIEventCause objects: {type, user?, userId?,
// userName?, project, buildCiId, causes}. An upstream cause needs project and
// buildCiId; only the top level is kept (the build's direct causes).
func readEventCauses(o *jsonObj, v any, depth int) []Cause {
	arr, ok := v.([]any)
	if !ok {
		o.fail("platform.illegal_field_value", "causes must be an array")
		return nil
	}
	if depth > 20 {
		o.fail("platform.illegal_field_value", "causes nest more than 20 levels")
		return nil
	}
	out := []Cause{}
	for i, cv := range arr {
		m, ok := cv.(map[string]any)
		if !ok {
			o.fail("platform.illegal_field_value", "causes[%d] is not an object", i)
			return nil
		}
		co := &jsonObj{m: m, what: fmt.Sprintf("%s causes[%d]", o.what, i)}
		co.only("type", "user", "userId", "userName", "project", "buildCiId", "causes")
		c := Cause{}
		c.Type, _ = co.str("type", true, 1, 20)
		if co.err == nil && !causeTypes[c.Type] {
			co.fail("platform.illegal_field_value", "type %q is not one of scm, user, timer, upstream, undefined", c.Type)
		}
		up := c.Type == "upstream"
		c.JobCIID, _ = co.str("project", up, 1, 255)
		c.BuildCIID, _ = co.str("buildCiId", up, 1, 255)
		c.User, _ = co.str("user", false, 0, 255)
		co.str("userId", false, 0, 255)
		co.str("userName", false, 0, 255)
		if nested, ok := m["causes"]; ok && nested != nil && co.err == nil {
			readEventCauses(co, nested, depth+1)
		}
		if co.err != nil {
			o.err = co.err
			return nil
		}
		out = append(out, c)
	}
	return out
}
