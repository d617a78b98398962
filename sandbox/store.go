package sandbox

import (
	"strconv"
	"time"
)

// ref is a reference field value.
type ref struct{ typ, id string }

// entity is one stored entity. Field values are string, int64, bool, nil,
// ref, or (for pipeline.jobs and ci_job.parameters) a JSON-able value.
// Read them with fields: a run's are made when first read (lazy).
type entity struct {
	typ  string
	id   string
	f    map[string]any
	lazy *lazyRun
}

// fields returns the entity's fields, making a run's from its Run the first
// time: most stored runs are never read as entities, and a map of twelve
// fields per run would be most of what the stand-in spends on a payload.
// Under the server's lock, as every read of fields.
func (e *entity) fields() map[string]any {
	if e.f == nil && e.lazy != nil {
		e.f = e.lazy.fields()
		e.lazy = nil
	}
	return e.f
}

// lazyRun is what the fields of a run entity are made of.
type lazyRun struct {
	run     *Run
	build   string // ci_build entity id; "" for none
	created any    // creation time (addRun)
}

func (l *lazyRun) fields() map[string]any {
	r := l.run
	f := map[string]any{
		"name": r.Name, "status": r.Status, "duration": r.Duration, "started": nil,
		"package": r.Package, "class_name": r.Class, "component": r.Module,
		"ci_build": ref{"ci_build", l.build}, "release": ref{"release", ""},
		"creation_time": l.created, "last_modified": l.created, "version_stamp": int64(1),
	}
	if r.Started != 0 {
		f["started"] = r.Started
	}
	if r.Release != "" && r.Release != "_default_" {
		f["release"] = ref{"release", r.Release}
	}
	return f
}

// collections maps a REST collection to its entity type.
var collections = map[string]string{
	"ci_servers":     "ci_server",
	"pipelines":      "pipeline",
	"ci_jobs":        "ci_job",
	"ci_builds":      "ci_build",
	"pipeline_nodes": "pipeline_node",
	"runs":           "run",
	"releases":       "release",
	"milestones":     "milestone",
	"taxonomy_nodes": "taxonomy_node",
	"work_items":     "work_item",
	"product_areas":  "product_area",
	"programs":       "program",
	"test_suites":    "test_suite",
}

// fieldKind is how a field is typed for queries and views.
type fieldKind int

const (
	fString fieldKind = iota
	fNumber
	fBool
	fRef    // reference; the string is the referenced type
	fObject // JSON value, not queryable
)

type fieldDef struct {
	kind    fieldKind
	refType string
}

var commonFields = map[string]fieldDef{
	"creation_time": {kind: fString}, "last_modified": {kind: fString}, "version_stamp": {kind: fNumber},
}

var typeFields = map[string]map[string]fieldDef{
	"ci_server": {
		"name": {kind: fString}, "instance_id": {kind: fString}, "url": {kind: fString}, "server_type": {kind: fString},
		"plugin_version": {kind: fString}, "is_connected": {kind: fBool},
	},
	"pipeline": {
		"name": {kind: fString}, "ci_server": {kind: fRef, refType: "ci_server"}, "root_job_ci_id": {kind: fString},
		"root_job_name": {kind: fString}, "root_job": {kind: fRef, refType: "ci_job"}, "jobs": {kind: fObject},
		"current_release": {kind: fRef, refType: "release"}, "multi_branch_type": {kind: fString},
		"notification_track": {kind: fBool}, "notification_track_tester": {kind: fBool},
	},
	"ci_job": {
		"name": {kind: fString}, "ci_id": {kind: fString}, "ci_server": {kind: fRef, refType: "ci_server"},
		"pipeline": {kind: fRef, refType: "pipeline"}, "parameters": {kind: fObject}, "branch": {kind: fString},
		"executor": {kind: fString}, "definition_id": {kind: fString},
	},
	"ci_build": {
		"name": {kind: fString}, "build_ci_id": {kind: fString}, "ci_job": {kind: fRef, refType: "ci_job"},
		"ci_server": {kind: fRef, refType: "ci_server"}, "start_time": {kind: fNumber}, "duration": {kind: fNumber},
		"status": {kind: fString}, "result": {kind: fString},
	},
	"pipeline_node": {
		"name": {kind: fString}, "pipeline": {kind: fRef, refType: "pipeline"}, "ci_job": {kind: fRef, refType: "ci_job"},
	},
	"run": {
		"name": {kind: fString}, "status": {kind: fString}, "duration": {kind: fNumber}, "started": {kind: fNumber},
		"package": {kind: fString}, "class_name": {kind: fString}, "component": {kind: fString},
		"ci_build": {kind: fRef, refType: "ci_build"}, "release": {kind: fRef, refType: "release"},
	},
}

var genericFields = map[string]fieldDef{"name": {kind: fString}, "description": {kind: fString}}

// fieldsOf returns the known fields of an entity type (without id and type).
func fieldsOf(typ string) map[string]fieldDef {
	m, ok := typeFields[typ]
	if !ok {
		m = genericFields
	}
	return m
}

func lookupField(typ, name string) (fieldDef, bool) {
	if name == "id" {
		return fieldDef{kind: fString}, true
	}
	if d, ok := fieldsOf(typ)[name]; ok {
		return d, true
	}
	d, ok := commonFields[name]
	return d, ok
}

type buildKey struct{ server, job, build string }

// buildRec is a build as PUT, with what the ci_build entity does not hold.
type buildRec struct {
	Build
	entity *entity
	seq    int // order of the first PUT
	last   time.Time
}

type store struct {
	nextID   int
	ents     map[string][]*entity // by type, creation order
	byID     map[string]*entity
	builds   map[buildKey]*buildRec
	buildSeq []*buildRec
	runs     []*Run
	byBuild  map[buildKey]*buildRuns // runs linked to each build, for the page
	unlinked int                     // runs stored without a build
	nextTask int
	tasks    []*task
	byHash   map[[32]byte]*task
}

func (st *store) init() {
	st.nextID = 2001
	st.nextTask = 1101
	st.ents = map[string][]*entity{}
	st.byID = map[string]*entity{}
	st.builds = map[buildKey]*buildRec{}
	st.byBuild = map[buildKey]*buildRuns{}
	st.byHash = map[[32]byte]*task{}
}

func (st *store) add(typ string, f map[string]any) *entity {
	id := strconv.Itoa(st.nextID)
	st.nextID++
	now := time.Now().UTC().Format(time.RFC3339)
	f["creation_time"] = now
	f["last_modified"] = now
	f["version_stamp"] = int64(1)
	e := &entity{typ: typ, id: id, f: f}
	st.ents[typ] = append(st.ents[typ], e)
	st.byID[id] = e
	return e
}

// addRun stores e, a run entity whose fields are made by its lazyRun, with
// the next id.
func (st *store) addRun(e *entity) {
	e.typ, e.id = "run", strconv.Itoa(st.nextID)
	st.nextID++
	st.ents["run"] = append(st.ents["run"], e)
	st.byID[e.id] = e
}

func touch(e *entity) {
	e.fields()["last_modified"] = time.Now().UTC().Format(time.RFC3339)
	if v, ok := e.fields()["version_stamp"].(int64); ok {
		e.fields()["version_stamp"] = v + 1
	}
}

func (st *store) get(typ, id string) *entity {
	e := st.byID[id]
	if e == nil || e.typ != typ {
		return nil
	}
	return e
}

func str(e *entity, k string) string {
	if e == nil {
		return ""
	}
	s, _ := e.fields()[k].(string)
	return s
}

func refID(e *entity, k string) string {
	if e == nil {
		return ""
	}
	r, _ := e.fields()[k].(ref)
	return r.id
}

// serverByInstance finds a ci_server by instance_id.
func (st *store) serverByInstance(iid string) *entity {
	for _, e := range st.ents["ci_server"] {
		if str(e, "instance_id") == iid {
			return e
		}
	}
	return nil
}

// jobByCIID finds a ci_job by its server id and ci_id.
func (st *store) jobByCIID(serverID, ciID string) *entity {
	for _, e := range st.ents["ci_job"] {
		if refID(e, "ci_server") == serverID && str(e, "ci_id") == ciID {
			return e
		}
	}
	return nil
}

// buildRuns indexes the runs of one build and counts them by status, so that
// the page costs O(builds) for the overview and O(runs of the build) for a
// build, not O(all runs).
type buildRuns struct {
	runs                           []*Run
	passed, failed, skipped, other int
}

// indexRun adds a stored run to the per-build index.
func (st *store) indexRun(run *Run) {
	if run.BuildCIID == "" {
		st.unlinked++
		return
	}
	k := buildKey{run.ServerCIID, run.JobCIID, run.BuildCIID}
	br := st.byBuild[k]
	if br == nil {
		br = &buildRuns{}
		st.byBuild[k] = br
	}
	br.runs = append(br.runs, run)
	switch run.Status {
	case "Passed":
		br.passed++
	case "Failed":
		br.failed++
	case "Skipped":
		br.skipped++
	default:
		br.other++
	}
}
