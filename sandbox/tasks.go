package sandbox

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Task statuses (section 8.1).
const (
	TaskQueued  = "queued"
	TaskRunning = "running"
	TaskSuccess = "success"
	TaskWarning = "warning"
	TaskFailed  = "failed"
)

// MaxTextLength is the longest attribute value or element text the stand-in's
// task processing reads: 512*512 characters, counted as Java counts them
// (UTF-16 units). The Octane CI SDK caps error text at this size "because
// Octane XML parser has limit size for reading attribute of XML file"
// (octane-ci-java-sdk commit 042ddc66, defect #2310022). The server's real
// limit is not documented (shared/octane-api.md section 13): the stand-in
// takes the SDK's figure as the server's, for every attribute and text, the
// stricter reading, and fails the whole task as a parser error would,
// whatever skip-errors says.
const MaxTextLength = 512 * 512

type task struct {
	id         string
	status     string
	details    []string
	skipErrors bool
	prep       *prepared // the validated payload, until it is processed
	posts      int
	runs       int
	forceFail  string        // FailNextTasks
	override   *TaskOverride // OverrideNextTasks
	until      time.Time
	log        []string
}

func terminal(status string) bool {
	return status == TaskSuccess || status == TaskWarning || status == TaskFailed
}

// TaskOverride is what the stand-in answers for a task instead of the
// outcome of processing it (OverrideNextTasks).
type TaskOverride struct {
	// Status is the task's status from the start of processing on; "" keeps
	// the real outcome. An unknown or non-final value (say "paused") stays
	// for good. Runs are stored only when it is "", success or warning.
	Status string
	// ErrorDetails is answered as errorDetails: any JSON value (an object,
	// an array, a number…); nil keeps the stand-in's own details.
	ErrorDetails any
}

// OverrideNextTasks makes the next n test-results tasks (new payloads, not
// dedup hits) answer o, to test a client against statuses and errorDetails
// shapes the stand-in never produces itself (shared/octane-api.md section
// 13: the status JSON beyond status, until, errorDetails and id is open).
func (s *Server) OverrideNextTasks(n int, o TaskOverride) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overrideNext = n
	s.override = o
}

// FailNextTasks makes the next n test-results tasks (new payloads, not
// dedup hits) end "failed" with errorDetails details, storing no runs.
func (s *Server) FailNextTasks(n int, details string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
	s.failDetails = details
}

// testResults serves …/test-results, …/test-results/xsd,
// …/test-results/{id} and …/test-results/{id}/log.
func (s *Server) testResults(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0:
		if r.Method != http.MethodPost {
			drain(r)
			writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", "test-results takes POST", false)
			return
		}
		s.postTestResults(w, r)
		return
	case len(rest) == 1 && rest[0] == "xsd" && r.Method == http.MethodGet:
		drain(r)
		w.Header().Set("Content-Type", "application/xml;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(schemaXSD()))
		return
	case (len(rest) == 1 || (len(rest) == 2 && rest[1] == "log")) && r.Method == http.MethodGet:
		drain(r)
		s.mu.Lock()
		t := s.taskByID(rest[0])
		var body map[string]any
		var logText string
		if t != nil {
			body = map[string]any{"id": t.id, "status": t.status}
			if len(t.details) > 0 {
				body["errorDetails"] = strings.Join(t.details, "\n")
			}
			if t.override != nil && t.override.ErrorDetails != nil && !t.until.IsZero() {
				body["errorDetails"] = t.override.ErrorDetails
			}
			if terminal(t.status) {
				body["until"] = t.until.UTC().Format("2006-01-02T15:04:05-0700")
			}
			logText = strings.Join(t.log, "\n") + "\n"
		}
		s.mu.Unlock()
		if t == nil {
			writeError(w, http.StatusNotFound, "platform.entity_not_found", fmt.Sprintf("No test-results task %q", rest[0]), false)
			return
		}
		if len(rest) == 2 {
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(logText))
			return
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	drain(r)
	writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", r.Method+" is not allowed on "+r.URL.Path, false)
}

func (s *Server) taskByID(id string) *task {
	for _, t := range s.tasks {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (s *Server) postTestResults(w http.ResponseWriter, r *http.Request) {
	skip := false
	for k, vals := range r.URL.Query() {
		if k != "skip-errors" {
			drain(r)
			writeError(w, http.StatusBadRequest, "platform.illegal_parameter",
				fmt.Sprintf("Unknown query parameter %q (the public resource takes only skip-errors)", k), false)
			return
		}
		if len(vals) != 1 || (vals[0] != "true" && vals[0] != "false") {
			drain(r)
			writeError(w, http.StatusBadRequest, "platform.illegal_parameter", "skip-errors must be true or false", false)
			return
		}
		skip = vals[0] == "true"
	}
	// Everything but the store's updates happens before the lock is taken,
	// so that payloads posted at once are read, validated and turned into
	// runs side by side: the lock is held for the dedup check, the task and
	// (without TaskDelay) the processing of references and the storing of
	// the runs.
	//
	// Dedup (section 8.1): the hash is of the decompressed payload, the XML
	// the server parses. Content-Encoding is undone before the application
	// sees the body, so the same XML gzipped twice with different gzip
	// headers is one payload. skip-errors is not part of the hash: a resend
	// with another flag returns the original task.
	body := &payloadSink{h: sha256.New()}
	if _, e := s.readBodyTo(r, "application/xml", body); e != nil {
		writeErr(w, e)
		return
	}
	doc := body.String()
	if body.Cap() > len(doc)+len(doc)/8+4096 {
		// The stored runs keep substrings of doc, and so all of its buffer:
		// not one grown without a size to go by (gzip members concatenated).
		doc = strings.Clone(doc)
	}
	tree, err := validatePayload(doc)
	if err != nil {
		writeError(w, http.StatusBadRequest, "testbox.xml_validation_error",
			"The payload does not conform to the test-results XSD: "+err.Error(), false)
		return
	}
	prep := prepare(tree)
	var sum [sha256.Size]byte
	body.h.Sum(sum[:0])
	s.mu.Lock()
	if t := s.byHash[sum]; t != nil {
		t.posts++
		answer := map[string]any{"status": t.status, "id": taskIDValue(t.id)}
		t.log = append(t.log, fmt.Sprintf("%s identical payload received again; not processed", time.Now().UTC().Format(time.RFC3339)))
		s.mu.Unlock()
		writeJSON(w, http.StatusAccepted, answer)
		return
	}
	t := &task{id: strconv.Itoa(s.nextTask), status: TaskQueued, skipErrors: skip, prep: prep, posts: 1}
	s.nextTask++
	if s.failNext > 0 {
		s.failNext--
		t.forceFail = s.failDetails
		if t.forceFail == "" {
			t.forceFail = "task failed (injected by the stand-in)"
		}
	}
	if s.overrideNext > 0 {
		s.overrideNext--
		o := s.override
		t.override = &o
	}
	t.log = append(t.log, fmt.Sprintf("%s queued (skip-errors=%t, %d bytes)", time.Now().UTC().Format(time.RFC3339), skip, len(doc)))
	s.tasks = append(s.tasks, t)
	s.byHash[sum] = t
	delay := s.opts.TaskDelay
	if delay <= 0 {
		s.process(t)
	}
	s.mu.Unlock()
	if delay > 0 {
		s.wg.Add(1)
		go s.runTask(t, delay)
	}
	// The documented answer: {"status":"queued","id":1103}, id a number.
	writeJSON(w, http.StatusAccepted, map[string]any{"status": TaskQueued, "id": taskIDValue(t.id)})
}

func taskIDValue(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// runTask advances a task queued → running → terminal, delay per step.
func (s *Server) runTask(t *task, delay time.Duration) {
	defer s.wg.Done()
	step := func() bool {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-s.ctx.Done():
			return false
		}
	}
	if !step() {
		return
	}
	s.mu.Lock()
	t.status = TaskRunning
	t.log = append(t.log, time.Now().UTC().Format(time.RFC3339)+" running")
	s.mu.Unlock()
	if !step() {
		return
	}
	s.mu.Lock()
	s.process(t)
	s.mu.Unlock()
}

// resolution of references while processing (section 8.2).
type resolver struct {
	s    *Server
	skip bool
}

// refProblems returns what cannot be resolved among the references held by
// n (a test_result or a test_run), and the release it names.
func (rv *resolver) refProblems(n *xnode) (problems []string, release string) {
	check := func(kind, typ, id string) {
		if rv.s.get(typ, id) == nil {
			problems = append(problems, fmt.Sprintf("%s id %s does not exist", kind, id))
		}
	}
	for _, k := range n.kids {
		id := strings.TrimSpace(k.attr("id"))
		switch k.name {
		case "suite_ref":
			check("suite_ref", "test_suite", id)
		case "program_ref":
			check("program_ref", "program", id)
		case "release_ref":
			check("release_ref", "release", id)
			release = id
		case "release":
			name := k.attr("name")
			if name == "_default_" {
				release = name
				continue
			}
			found := false
			for _, e := range rv.s.ents["release"] {
				if str(e, "name") == name {
					found, release = true, e.id
					break
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("release %q does not exist", name))
			}
		case "milestone_ref":
			check("milestone_ref", "milestone", id)
		case "backlog_items":
			for _, b := range k.kids {
				check("backlog_item_ref", "work_item", strings.TrimSpace(b.attr("id")))
			}
		case "product_areas":
			for _, b := range k.kids {
				check("product_area_ref", "product_area", strings.TrimSpace(b.attr("id")))
			}
		}
	}
	return problems, release
}

// pairs returns the type → value pairs of the item elements of n's
// container element (nil without one).
func pairs(n *xnode, container, item string) map[string]string {
	c := n.kid(container)
	if c == nil {
		return nil
	}
	out := make(map[string]string, len(c.kids))
	for _, k := range c.kids {
		if k.name == item {
			out[k.attr("type")] = k.attr("value")
		}
	}
	return out
}

// prepared is a validated payload turned into runs: all that processing it
// needs but the store, done before the server's lock is taken. The runs and
// their entities are allocated a payload at a time.
type prepared struct {
	root    *xnode
	tooLong string   // tooLong(root)
	nodes   []*xnode // the test_run and gherkin_test_run elements
	runs    []Run    // for each node, its Run but for what the store decides (task, build, release, id)
	ents    []entity // for each node, its run entity (addRun)
	lazy    []lazyRun
}

// prepare turns a validated payload into runs. It reads only the tree.
func prepare(root *xnode) *prepared {
	p := &prepared{root: root, tooLong: tooLong(root)}
	if p.tooLong != "" {
		return p
	}
	globalFields := merge(pairs(root, "test_fields", "test_field"), nil)
	globalEnv := merge(pairs(root, "environment", "taxonomy"), nil)
	p.nodes = root.kid("test_runs").kids
	p.runs = make([]Run, len(p.nodes))
	p.ents = make([]entity, len(p.nodes))
	p.lazy = make([]lazyRun, len(p.nodes))
	for i, rn := range p.nodes {
		run := &p.runs[i]
		// The attributes of test_run and gherkin_test_run (the schema lets
		// each have only its own).
		for _, a := range rn.attrs {
			switch a.name {
			case "name":
				run.Name = a.value
			case "status":
				run.Status = a.value
			case "duration":
				run.Duration, _ = parseLong(a.value)
			case "module":
				run.Module = a.value
			case "package":
				run.Package = a.value
			case "class":
				run.Class = a.value
			case "run_name":
				run.RunName = a.value
			case "external_report_url":
				run.ExternalReportURL = a.value
			case "started":
				run.Started, _ = parseLong(a.value)
			}
		}
		// A run without fields of its own shares the payload's maps: a
		// stored Run's maps are never changed, and read back as copies.
		run.TestFields, run.Environment = globalFields, globalEnv
		if f := pairs(rn, "test_fields", "test_field"); f != nil {
			run.TestFields = merge(globalFields, f)
		}
		if e := pairs(rn, "environment", "taxonomy"); e != nil {
			run.Environment = merge(globalEnv, e)
		}
		if rn.name == "test_run" {
			if e := rn.kid("error"); e != nil {
				run.HasError = true
				run.ErrorType, run.ErrorMessage, run.ErrorBody = e.attr("type"), e.attr("message"), e.text
			}
			if d := rn.kid("description"); d != nil {
				run.Description = d.text
			}
		} else {
			run.Gherkin = true
			if f := rn.kid("feature"); f != nil {
				run.Class, run.Package = f.attr("name"), f.attr("path")
				run.Started, _ = parseLong(f.attr("started"))
			}
		}
	}
	return p
}

// process turns a validated payload into runs and sets the terminal status.
// s.mu is held.
//
// Rules (section 8.2, and section 13 for the unknown build):
//   - a <build> triple that was never PUT: with skip-errors=false the task
//     fails and names the build (stricter choice, section 13: the real
//     behaviour is unknown); with skip-errors=true the runs are created
//     without a build link and the task ends "warning";
//   - an unresolvable reference at the test_result level: skip=false fails
//     the whole task (nothing stored); skip=true drops it, stores the runs,
//     "warning";
//   - an unresolvable reference inside one test_run: skip=false skips that
//     run, skip=true drops the reference; either way "warning".
func (s *Server) process(t *task) {
	now := time.Now()
	t.until = now
	defer func() {
		t.prep = nil // the payload is not needed any more
		t.log = append(t.log, fmt.Sprintf("%s %s, %d runs", now.UTC().Format(time.RFC3339), t.status, t.runs))
	}()
	if t.forceFail != "" {
		t.status = TaskFailed
		t.details = append(t.details, t.forceFail)
		return
	}
	if o := t.override; o != nil {
		defer func() {
			if o.Status != "" {
				t.status = o.Status
			}
		}()
		if o.Status != "" && o.Status != TaskSuccess && o.Status != TaskWarning {
			return // no runs: the task never ends, or ends without them
		}
	}
	p := t.prep
	root := p.root
	if msg := p.tooLong; msg != "" {
		t.status = TaskFailed
		t.details = append(t.details, msg)
		return
	}
	rv := &resolver{s: s, skip: t.skipErrors}
	warn := false
	var key *buildKey
	if b := root.kid("build"); b != nil {
		k := buildKey{b.attr("server_id"), b.attr("job_id"), b.attr("build_id")}
		if s.builds[k] == nil {
			msg := fmt.Sprintf("build server_id=%q job_id=%q build_id=%q does not exist (PUT analytics/ci/builds first)", k.server, k.job, k.build)
			if !t.skipErrors {
				t.status = TaskFailed
				t.details = append(t.details, msg)
				return
			}
			t.details = append(t.details, msg+"; runs stored without a build")
			warn = true
		} else {
			key = &k
		}
	}
	problems, globalRelease := rv.refProblems(root)
	if len(problems) > 0 {
		if !t.skipErrors {
			t.status = TaskFailed
			t.details = append(t.details, problems...)
			return
		}
		t.details = append(t.details, problems...)
		warn = true
		globalRelease = validOnly(s, globalRelease)
	}
	var buildEnt *entity
	if key != nil {
		buildEnt = s.builds[*key].entity
	}
	var created any = now.UTC().Format(time.RFC3339)
	for i, rn := range p.nodes {
		probs, release := rv.refProblems(rn)
		if len(probs) > 0 {
			warn = true
			if !t.skipErrors {
				t.details = append(t.details, fmt.Sprintf("test run %d (%s) skipped: %s", i, rn.attr("name"), strings.Join(probs, "; ")))
				continue
			}
			t.details = append(t.details, fmt.Sprintf("test run %d (%s): %s (reference ignored)", i, rn.attr("name"), strings.Join(probs, "; ")))
			release = validOnly(s, release)
		}
		if release == "" {
			release = globalRelease
		}
		run := &p.runs[i]
		run.TaskID, run.Release = t.id, release
		lazy := &p.lazy[i]
		lazy.run, lazy.created = run, created
		if key != nil {
			run.ServerCIID, run.JobCIID, run.BuildCIID = key.server, key.job, key.build
			lazy.build = buildEnt.id
		}
		e := &p.ents[i]
		e.lazy = lazy
		s.runs = append(s.runs, run)
		s.addRun(e)
		run.ID = e.id
		s.indexRun(run)
		t.runs++
	}
	switch {
	case warn:
		t.status = TaskWarning
	default:
		t.status = TaskSuccess
	}
}

// tooLong names the first attribute or text longer than MaxTextLength: in
// document order of the elements; within one, its attributes in the order
// of their names, then its text.
func tooLong(n *xnode) string {
	var first *xattr
	for i := range n.attrs {
		if a := &n.attrs[i]; textUnits(a.value) > MaxTextLength && (first == nil || a.name < first.name) {
			first = a
		}
	}
	if first != nil {
		return tooLongMsg(n, fmt.Sprintf("<%s %s>", n.name, first.name), first.value)
	}
	if textUnits(n.text) > MaxTextLength {
		return tooLongMsg(n, fmt.Sprintf("the text of <%s>", n.name), n.text)
	}
	for _, k := range n.kids {
		if msg := tooLong(k); msg != "" {
			return msg
		}
	}
	return ""
}

// textUnits is the length of v in UTF-16 units, or its length in bytes when
// that is at most MaxTextLength (there are at least as many bytes as units).
func textUnits(v string) int {
	if len(v) <= MaxTextLength {
		return len(v)
	}
	units := 0
	for _, r := range v {
		units += utf16.RuneLen(r) // r is never a surrogate: 1 or 2
	}
	return units
}

func tooLongMsg(n *xnode, what, v string) string {
	return fmt.Sprintf("line %d: %s has %d characters; the XML parser reads at most %d (nothing of this payload was stored)",
		n.line, what, textUnits(v), MaxTextLength)
}

func validOnly(s *Server, release string) string {
	if release == "_default_" || s.get("release", release) != nil {
		return release
	}
	return ""
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
