// Package manifest reads build manifests: small YAML or JSON files, written
// by a CI job next to its test reports, that describe one build (CI server,
// pipeline, job, build, timing, result, parameters, causes, which reports
// belong to it, and the Octane context of its test runs).
//
// The format is versioned (version: 1) and documented, field by field, in
// docs/manifest.md; docs/manifest.schema.json is its JSON Schema for editors.
// Every problem of a file is reported at once, each with file, line, column
// and the field's path (see Error).
package manifest

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/octane-import/octane-import/internal/glob"
	"github.com/octane-import/octane-import/internal/yamlnode"
)

// Version is the manifest format version this package reads.
const Version = 1

// APIVersion is the apiVersion string equivalent to "version: 1".
const APIVersion = "octane-import/v1"

// DefaultReports is the report glob used when a manifest has no reports key.
const DefaultReports = "**/*.xml"

// MaxSize is the largest manifest Parse and Load accept, in bytes.
const MaxSize = 1 << 20

// MaxLen is Octane's limit for names and ids (string255), in characters.
const MaxLen = 255

// Build statuses and results, as Octane's builds API spells them.
const (
	StatusRunning  = "running"
	StatusFinished = "finished"

	ResultSuccess     = "success"
	ResultFailure     = "failure"
	ResultUnstable    = "unstable"
	ResultAborted     = "aborted"
	ResultUnavailable = "unavailable"
)

// Statuses, Results, ParameterTypes and TestFieldTypes list the accepted
// enum values, in documentation order.
var (
	Statuses       = []string{StatusRunning, StatusFinished}
	Results        = []string{ResultSuccess, ResultFailure, ResultUnstable, ResultAborted, ResultUnavailable}
	ParameterTypes = []string{"unknown", "password", "boolean", "string", "number", "file", "axis"}
	TestFieldTypes = []string{"Test_Level", "Test_Type", "Testing_Tool_Type", "Framework"}
)

// Server is the CI server (Octane ci_server).
type Server struct {
	InstanceID string // required; Octane's instance_id, serverCiId in the builds API
	Name       string // defaults to InstanceID
	Type       string // server_type, e.g. "jenkins"; "" lets Octane use "unknown"
	URL        string // optional, absolute http(s) URL
}

// Parameter is one build parameter.
type Parameter struct {
	Name  string
	Type  string // one of ParameterTypes; defaults to "string"
	Value string
}

// Cause is an upstream build that triggered this one.
type Cause struct {
	Job   string // the upstream job's ci id
	Build string // the upstream build's ci id
}

// Manifest is one build, as read from a manifest file, with every default
// applied.
type Manifest struct {
	Path    string // absolute path of the file ("" when Parse was given no path)
	Version int

	Server   Server
	Pipeline string // pipeline name; defaults to RootJob
	RootJob  string // root job ci id; defaults to JobID

	JobID, JobName     string // JobName defaults to JobID
	BuildID, BuildName string // BuildName defaults to BuildID

	Started  time.Time     // zero if absent; always in UTC
	Duration time.Duration // zero if absent
	Status   string        // StatusRunning or StatusFinished (the default)
	Result   string        // one of Results, or "" for the importer to derive from the runs

	Parameters []Parameter // in file order
	Causes     []Cause

	// Reports are globs relative to the manifest's directory, slash-separated.
	// A manifest without a reports key gets [DefaultReports]; an explicit
	// empty list owns no report.
	Reports []string

	// RunLink is the template of each test run's link back to the CI, as a rule's
	// set.run_link (docs/configuration.md): {package}, {class}, {name}, {suite}, {env.X} ...
	RunLink string

	Release      string // release name (Octane <release name=…>), exclusive with ReleaseID
	ReleaseID    int64  // release id (<release_ref id=…>)
	Milestone    int64  // milestone id (<milestone_ref id=…>)
	Environment  map[string]string
	TestFields   map[string]string // keys are TestFieldTypes
	ProductAreas []int64
	BacklogItems []int64

	globs     []*glob.Glob    // compiled Reports, set by Parse
	defaulted map[string]bool // fields Parse filled with their default (see Defaulted)
}

// Defaulted reports whether Parse gave a field its default because the file left it out:
// "server.name", "job.name", "build.name", "pipeline.root_job" or "pipeline.name". Such a
// value ranks below a mapping rule's.
func (m *Manifest) Defaulted(field string) bool { return m.defaulted[field] }

// Names are the default manifest file names.
var Names = []string{"octane-build.yaml", "octane-build.yml", "octane-build.json"}

// IsManifestName reports whether a file's base name is one of the default
// manifest names (Names).
func IsManifestName(name string) bool {
	return slices.Contains(Names, filepath.Base(name))
}

// Load reads and parses the manifest at path.
func Load(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses a manifest. path names the file in errors ("<manifest>" when
// empty) and anchors the report globs; a path ending in .json is read as strict JSON, anything else
// as YAML (which JSON also is). On failure the error is an *Error listing
// every problem of the file.
func Parse(data []byte, path string) (m *Manifest, err error) {
	label := path
	if label == "" {
		label = "<manifest>"
	}
	d := newDecoder(label)
	defer func() {
		// No input may crash the caller; a panic here is a bug, reported as a problem.
		if r := recover(); r != nil {
			m = nil
			err = &Error{File: label, Problems: []Problem{{File: label, Msg: fmt.Sprintf("internal error reading the manifest: %v", r)}}}
		}
	}()
	m = d.parse(data, isJSON(path, data))
	if len(d.Problems) > 0 {
		yamlnode.Sort(d.Problems)
		return nil, &Error{File: label, Problems: d.Problems}
	}
	if path != "" {
		if abs, err := filepath.Abs(path); err == nil {
			m.Path = abs
		} else {
			m.Path = filepath.Clean(path)
		}
	}
	return m, nil
}

func isJSON(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// Owns reports whether the report at reportPath (absolute) belongs to this
// manifest: whether its path relative to the manifest's directory matches one
// of the Reports globs. A manifest never owns itself, nor any file with a
// manifest name, nor anything outside its directory.
func (m *Manifest) Owns(reportPath string) bool {
	if m.Path == "" || reportPath == "" {
		return false
	}
	rp, err := filepath.Abs(reportPath)
	if err != nil {
		return false
	}
	mp := filepath.Clean(m.Path)
	if rp == mp || IsManifestName(rp) {
		return false
	}
	rel, err := filepath.Rel(filepath.Dir(mp), rp)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	rel = filepath.ToSlash(rel)
	for _, g := range m.compiledGlobs() {
		if g.Match(rel) {
			return true
		}
	}
	return false
}

// compiledGlobs returns the Reports globs compiled, compiling them here when
// the Manifest was built by hand rather than by Parse. A nil Reports means
// the default.
func (m *Manifest) compiledGlobs() []*glob.Glob {
	if m.globs != nil && len(m.globs) == len(m.Reports) {
		return m.globs
	}
	reports := m.Reports
	if reports == nil {
		reports = []string{DefaultReports}
	}
	gs := make([]*glob.Glob, 0, len(reports))
	for _, r := range reports {
		if g, err := glob.Compile(path.Clean(r)); err == nil {
			gs = append(gs, g)
		}
	}
	return gs
}

// Fields flattens the manifest for rule matching and templates. Keys:
// "server.instance_id", "server.name", "server.type", "server.url",
// "pipeline", "root_job", "job", "job.name", "build", "build.name", "status",
// "result", "release" (each always present, "" when unset), "release_id",
// "milestone_id", "started" (RFC 3339, UTC), "duration" (a Go duration),
// "product_areas" and "backlog_items" (ids, comma-separated) (each present only
// when set), and "parameters.<NAME>", "environment.<TYPE>", "test_fields.<TYPE>".
func (m *Manifest) Fields() map[string]string {
	f := map[string]string{
		"server.instance_id": m.Server.InstanceID,
		"server.name":        m.Server.Name,
		"server.type":        m.Server.Type,
		"server.url":         m.Server.URL,
		"pipeline":           m.Pipeline,
		"root_job":           m.RootJob,
		"job":                m.JobID,
		"job.name":           m.JobName,
		"build":              m.BuildID,
		"build.name":         m.BuildName,
		"status":             m.Status,
		"result":             m.Result,
		"release":            m.Release,
	}
	if m.ReleaseID != 0 {
		f["release_id"] = strconv.FormatInt(m.ReleaseID, 10)
	}
	if m.Milestone != 0 {
		f["milestone_id"] = strconv.FormatInt(m.Milestone, 10)
	}
	if !m.Started.IsZero() {
		f["started"] = m.Started.UTC().Format(time.RFC3339Nano)
	}
	if m.Duration > 0 {
		f["duration"] = m.Duration.String()
	}
	if ids := joinIDs(m.ProductAreas); ids != "" {
		f["product_areas"] = ids
	}
	if ids := joinIDs(m.BacklogItems); ids != "" {
		f["backlog_items"] = ids
	}
	for _, p := range m.Parameters {
		f["parameters."+p.Name] = p.Value
	}
	for k, v := range m.Environment {
		f["environment."+k] = v
	}
	for k, v := range m.TestFields {
		f["test_fields."+k] = v
	}
	return f
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}
