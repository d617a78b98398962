package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/duration"
	"github.com/octane-import/octane-import/internal/glob"
	"github.com/octane-import/octane-import/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree (from either front end), fills a Manifest
// and collects every problem on the way.
type decoder struct {
	yamlnode.Checker
}

func newDecoder(file string) *decoder {
	return &decoder{yamlnode.Checker{File: file, Kind: "manifest", Hint: nestedHint}}
}

// Known keys, per mapping. The docs, the JSON Schema and the tests check
// themselves against these lists.
var (
	topKeys = []string{"version", "apiVersion", "server", "pipeline", "job", "build", "parameters", "causes", "reports",
		"release", "release_id", "milestone_id", "environment", "test_fields", "product_areas", "backlog_items", "run_link"}
	serverKeys    = []string{"instance_id", "name", "type", "url"}
	pipelineKeys  = []string{"name", "root_job"}
	jobKeys       = []string{"id", "name"}
	buildKeys     = []string{"id", "name", "started", "duration", "status", "result"}
	parameterKeys = []string{"name", "type", "value"}
	causeKeys     = []string{"job", "build"}
)

func (d *decoder) parse(data []byte, asJSON bool) *Manifest {
	if len(data) > MaxSize {
		d.ErrorAt(0, 0, "", "larger than %d bytes: not a manifest", MaxSize)
		return nil
	}
	var root *yaml.Node
	if asJSON {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if !utf8.Valid(data) {
			// encoding/json would quietly turn the bytes into U+FFFD.
			line, col, b := firstInvalidUTF8(data)
			d.ErrorAt(line, col, "", "invalid JSON: not valid UTF-8 (byte 0x%02x)", b)
			return nil
		}
		n, err := parseJSON(data)
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				r := &jsonReader{data: data, lines: lineStarts(data)}
				line, col := r.position(se.offset)
				d.ErrorAt(line, col, "", "%s", se.msg)
			} else {
				d.ErrorAt(0, 0, "", "invalid JSON: %v", err)
			}
			return nil
		}
		root = n
	} else {
		root = d.Read(data)
		if len(d.Problems) > 0 {
			return nil
		}
	}
	if yamlnode.IsNull(root) {
		d.ErrorAt(1, 1, "", "empty manifest: it needs at least version, server.instance_id, job.id and build.id")
		return nil
	}
	return d.manifest(root)
}

// nestedOwner says under which section a misplaced top-level key belongs.
var nestedOwner = map[string]string{
	"instance_id": "server", "url": "server", "root_job": "pipeline", "id": "job or build",
	"started": "build", "duration": "build", "status": "build", "result": "build",
	"milestone": "milestone_id", "name": "server, pipeline, job or build",
}

// nestedHint says, for an unknown top-level key, the section it belongs under.
func nestedHint(path, key string) string {
	if path != "" {
		return ""
	}
	owner, ok := nestedOwner[key]
	switch {
	case !ok:
		return ""
	case owner == "milestone_id":
		return " (the milestone is given by id: milestone_id)"
	}
	return fmt.Sprintf(" (it belongs under %s:)", owner)
}

// text reads a single-line string of 1..MaxLen characters that Octane's XML
// and JSON can carry. Empty strings count as absent for optional fields.
func (d *decoder) text(n *yaml.Node, path string) (string, bool) {
	s, ok := d.Scalar(n, path, "a string")
	if !ok || s == "" {
		return "", false
	}
	return s, d.checkText(n, path, s)
}

func (d *decoder) checkText(n *yaml.Node, path, s string) bool {
	if c := utf8.RuneCountInString(s); c > MaxLen {
		d.Errorf(n, path, "%d characters long; Octane takes at most %d", c, MaxLen)
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff || r == utf8.RuneError {
			d.Errorf(n, path, "contains the control or invalid character %U, which Octane cannot store in a name or id", r)
			return false
		}
	}
	return true
}

// idName reads the section key of the manifest (job, build): its id, required, and its
// name; it returns the section's fields for the caller to read the rest.
func (d *decoder) idName(root *yaml.Node, top map[string]yamlnode.Pair, key string, keys []string) (id, name string, section map[string]yamlnode.Pair) {
	e, ok := top[key]
	if !ok || yamlnode.IsNull(e.Value) {
		d.required(root, key+".id")
		return "", "", nil
	}
	s := d.Mapping(e.Value, key, keys)
	if s == nil {
		return "", "", nil
	}
	if v, ok := s["id"]; ok {
		id, _ = d.text(v.Value, key+".id")
	}
	if id == "" && !d.HasProblem(key+".id") {
		d.required(e.Value, key+".id")
	}
	if v, ok := s["name"]; ok {
		name, _ = d.text(v.Value, key+".name")
	}
	return id, name, s
}

// required reports a missing required field, at the mapping that lacks it.
func (d *decoder) required(parent *yaml.Node, path string) {
	d.Errorf(parent, path, "required field is missing")
}

// id reads an Octane entity id: a positive integer, or a string of digits.
func (d *decoder) id(n *yaml.Node, path string) (int64, bool) {
	s, ok := d.Scalar(n, path, "an id (a positive integer)")
	if !ok {
		return 0, false
	}
	tag := n.ShortTag()
	if (tag == "!!int" || tag == "!!str") && isDigits(s) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err == nil && v > 0 {
			return v, true
		}
	}
	d.Errorf(n, path, "expected an id (a positive integer), got %s", yamlnode.Describe(n))
	return 0, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ids reads a list of ids.
func (d *decoder) ids(n *yaml.Node, path string) []int64 {
	if yamlnode.IsNull(n) {
		return nil
	}
	out := []int64{}
	seen := map[int64]bool{}
	for _, it := range d.List(n, path, "a list of ids") {
		c, p := it.Node, it.Path
		v, ok := d.id(c, p)
		if !ok {
			if yamlnode.IsNull(c) {
				d.Errorf(c, p, "expected an id (a positive integer), got null")
			}
			continue
		}
		if seen[v] {
			d.Errorf(c, p, "id %d is listed twice", v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// enum reads one of allowed, case-insensitively, and returns its canonical
// spelling.
func (d *decoder) enum(n *yaml.Node, path string, allowed []string) (string, bool) {
	s, ok := d.Scalar(n, path, "one of "+strings.Join(allowed, ", "))
	if !ok || s == "" {
		return "", false
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, true
		}
	}
	d.Errorf(n, path, "%q is not one of %s", yamlnode.Truncate(s), strings.Join(allowed, ", "))
	return "", false
}

// Bounds for dates: Octane takes epoch milliseconds as a long; a date before
// 1973 as milliseconds is almost surely a value in seconds.
var (
	minEpochMs int64 = 100_000_000_000                                                  // 1973-03-03
	maxEpochMs       = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli() // RFC 3339's last year
)

const (
	rfc3339Example = "2026-11-20T09:14:03Z"
	zonelessLayout = "2006-01-02T15:04:05.999999999"
)

// timestamp reads an RFC 3339 date-time with a zone, or epoch milliseconds.
func (d *decoder) timestamp(n *yaml.Node, path string) (time.Time, bool) {
	s, ok := d.Scalar(n, path, "a date (RFC 3339 or epoch milliseconds)")
	if !ok || s == "" {
		return time.Time{}, false
	}
	tag := n.ShortTag()
	if tag == "!!float" {
		d.Errorf(n, path, "epoch milliseconds must be an integer, got %s", s)
		return time.Time{}, false
	}
	if isDigits(s) || (tag == "!!int" && strings.HasPrefix(s, "-")) {
		v, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil || v > maxEpochMs:
			d.Errorf(n, path, "epoch milliseconds %s are past the year 9999", yamlnode.Truncate(s))
		case v < 0:
			d.Errorf(n, path, "epoch milliseconds must not be negative, got %s", s)
		case v < minEpochMs:
			d.Errorf(n, path, "%s is before 1973 as epoch milliseconds; was it epoch seconds? (use milliseconds: %s000)", s, s)
		default:
			return time.UnixMilli(v).UTC(), true
		}
		return time.Time{}, false
	}
	// RFC 3339 allows a space for the 'T'; YAML timestamps often use it.
	t := s
	if len(t) > 10 && t[10] == ' ' {
		t = t[:10] + "T" + t[11:]
	}
	if v, err := time.Parse(time.RFC3339Nano, t); err == nil {
		if v.Before(time.Unix(0, 0)) {
			d.Errorf(n, path, "%q is before 1970", s)
			return time.Time{}, false
		}
		return v.UTC(), true
	}
	if _, err := time.Parse(zonelessLayout, t); err == nil {
		d.Errorf(n, path, "%q has no time zone; add Z for UTC or an offset such as +01:00 (like %s)", s, rfc3339Example)
		return time.Time{}, false
	}
	if _, err := time.Parse("2006-01-02", t); err == nil {
		d.Errorf(n, path, "%q has no time of day; write an RFC 3339 date-time such as %s", s, rfc3339Example)
		return time.Time{}, false
	}
	d.Errorf(n, path, "%q is not an RFC 3339 date-time (like %s) nor epoch milliseconds", yamlnode.Truncate(s), rfc3339Example)
	return time.Time{}, false
}

func (d *decoder) manifest(root *yaml.Node) *Manifest {
	root = yamlnode.Resolve(root)
	if root.Kind != yaml.MappingNode {
		d.Errorf(root, "", "a manifest must be a mapping of keys to values, got %s", yamlnode.Describe(root))
		return nil
	}
	top := d.Mapping(root, "", topKeys)
	m := &Manifest{Status: StatusFinished}

	d.version(root, top, m)

	// server
	if e, ok := top["server"]; ok && !yamlnode.IsNull(e.Value) {
		if s := d.Mapping(e.Value, "server", serverKeys); s != nil {
			if v, ok := s["instance_id"]; ok {
				m.Server.InstanceID, _ = d.text(v.Value, "server.instance_id")
			}
			if m.Server.InstanceID == "" && !d.HasProblem("server.instance_id") {
				d.required(e.Value, "server.instance_id")
			}
			if v, ok := s["name"]; ok {
				m.Server.Name, _ = d.text(v.Value, "server.name")
			}
			if v, ok := s["type"]; ok {
				m.Server.Type, _ = d.text(v.Value, "server.type")
			}
			if v, ok := s["url"]; ok {
				m.Server.URL = d.url(v.Value, "server.url")
			}
		}
	} else {
		d.required(root, "server.instance_id")
	}

	// job and build: an id (required) and a name; the build also its times and outcome
	m.JobID, m.JobName, _ = d.idName(root, top, "job", jobKeys)
	var build map[string]yamlnode.Pair
	if m.BuildID, m.BuildName, build = d.idName(root, top, "build", buildKeys); build != nil {
		if v, ok := build["started"]; ok {
			m.Started, _ = d.timestamp(v.Value, "build.started")
		}
		if v, ok := build["duration"]; ok {
			m.Duration, _ = d.Duration(v.Value, "build.duration", duration.Accept{Millis: true})
		}
		if v, ok := build["status"]; ok {
			if st, ok := d.enum(v.Value, "build.status", Statuses); ok {
				m.Status = st
			}
		}
		if v, ok := build["result"]; ok {
			m.Result, _ = d.enum(v.Value, "build.result", Results)
		}
	}

	// pipeline
	if e, ok := top["pipeline"]; ok && !yamlnode.IsNull(e.Value) {
		if s := d.Mapping(e.Value, "pipeline", pipelineKeys); s != nil {
			if v, ok := s["name"]; ok {
				m.Pipeline, _ = d.text(v.Value, "pipeline.name")
			}
			if v, ok := s["root_job"]; ok {
				m.RootJob, _ = d.text(v.Value, "pipeline.root_job")
			}
		}
	}

	if e, ok := top["parameters"]; ok {
		m.Parameters = d.parameters(e.Value, "parameters")
	}
	if e, ok := top["causes"]; ok {
		m.Causes = d.causes(e.Value, "causes")
	}
	m.Reports = []string{DefaultReports}
	if e, ok := top["reports"]; ok && !yamlnode.IsNull(e.Value) {
		m.Reports, m.globs = d.reports(e.Value, "reports")
	} else {
		m.globs = []*glob.Glob{glob.MustCompile(DefaultReports)}
	}

	// Octane context of the test runs.
	if e, ok := top["release"]; ok {
		m.Release, _ = d.text(e.Value, "release")
	}
	if e, ok := top["run_link"]; ok {
		if s, ok := d.Scalar(e.Value, "run_link", "a link template"); ok {
			if len(s) > 2048 {
				d.Errorf(e.Value, "run_link", "%d characters long; a link takes at most 2048", len(s))
			} else {
				m.RunLink = s
			}
		}
	}
	if e, ok := top["release_id"]; ok && !yamlnode.IsNull(e.Value) {
		m.ReleaseID, _ = d.id(e.Value, "release_id")
	}
	if m.Release != "" && m.ReleaseID != 0 {
		e := top["release_id"]
		d.Errorf(e.KeyNode, "release_id", "give either release (a name) or release_id, not both: Octane takes one")
	}
	if e, ok := top["milestone_id"]; ok && !yamlnode.IsNull(e.Value) {
		m.Milestone, _ = d.id(e.Value, "milestone_id")
	}
	if e, ok := top["environment"]; ok {
		m.Environment = d.environment(e.Value, "environment")
	}
	if e, ok := top["test_fields"]; ok {
		m.TestFields = d.testFields(e.Value, "test_fields")
	}
	if e, ok := top["product_areas"]; ok {
		m.ProductAreas = d.ids(e.Value, "product_areas")
	}
	if e, ok := top["backlog_items"]; ok {
		m.BacklogItems = d.ids(e.Value, "backlog_items")
	}

	// Defaults, remembered as such: a value the file did not give ranks below a rule's.
	m.defaulted = map[string]bool{}
	fill := func(field string, v *string, def string) {
		if *v == "" {
			*v = def
			m.defaulted[field] = true
		}
	}
	fill("server.name", &m.Server.Name, m.Server.InstanceID)
	fill("job.name", &m.JobName, m.JobID)
	fill("build.name", &m.BuildName, m.BuildID)
	fill("pipeline.root_job", &m.RootJob, m.JobID)
	fill("pipeline.name", &m.Pipeline, m.RootJob)
	return m
}

// version reads version: 1 or apiVersion: octane-import/v1 (one is required).
func (d *decoder) version(root *yaml.Node, top map[string]yamlnode.Pair, m *Manifest) {
	ve, hasV := top["version"]
	ae, hasA := top["apiVersion"]
	if hasV && !yamlnode.IsNull(ve.Value) {
		s, ok := d.Scalar(ve.Value, "version", "the number 1")
		if ok {
			tag := ve.Value.ShortTag()
			if (tag == "!!int" || tag == "!!str") && isDigits(s) {
				if v, err := strconv.Atoi(s); err == nil && v == Version {
					m.Version = v
				} else {
					d.Errorf(ve.Value, "version", "unsupported version %s: this octane-import reads version %d", yamlnode.Truncate(s), Version)
				}
			} else {
				d.Errorf(ve.Value, "version", "expected the number %d, got %s", Version, yamlnode.Describe(ve.Value))
			}
		}
	}
	if hasA && !yamlnode.IsNull(ae.Value) {
		s, ok := d.Scalar(ae.Value, "apiVersion", "the string "+APIVersion)
		if ok {
			if s == APIVersion {
				if !d.HasProblem("version") {
					m.Version = Version
				}
			} else {
				d.Errorf(ae.Value, "apiVersion", "unsupported apiVersion %q: this octane-import reads %q", yamlnode.Truncate(s), APIVersion)
			}
		}
	}
	if (!hasV || yamlnode.IsNull(ve.Value)) && (!hasA || yamlnode.IsNull(ae.Value)) {
		d.required(root, "version")
	}
}

func (d *decoder) url(n *yaml.Node, path string) string {
	s, ok := d.Scalar(n, path, "a URL")
	if !ok || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.Errorf(n, path, "%q is not an absolute http or https URL", yamlnode.Truncate(s))
		return ""
	}
	if !d.checkText(n, path, s) {
		return ""
	}
	return s
}

// parameters reads a list of {name, type, value}, or the short form: a
// mapping of name to value with the type taken from the YAML value.
func (d *decoder) parameters(n *yaml.Node, path string) []Parameter {
	if yamlnode.IsNull(n) {
		return nil
	}
	out := []Parameter{}
	seen := map[string]int{}
	addParam := func(p Parameter, at *yaml.Node, ppath string) {
		if line, dup := seen[p.Name]; dup {
			d.Errorf(at, ppath, "parameter %q is given twice (first at line %d)", yamlnode.Truncate(p.Name), line)
			return
		}
		seen[p.Name] = at.Line
		out = append(out, p)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, e := range d.Pairs(n, path) {
			p := yamlnode.Join(path, e.Key)
			if !d.checkText(e.KeyNode, p, e.Key) {
				continue
			}
			if e.Key == "" {
				d.Errorf(e.KeyNode, p, "a parameter name must not be empty")
				continue
			}
			v, _ := d.Scalar(e.Value, p, "a parameter value (string, number or boolean)")
			typ := "string"
			if e.Value.Kind == yaml.ScalarNode {
				switch e.Value.ShortTag() {
				case "!!bool":
					typ = "boolean"
				case "!!int", "!!float":
					typ = "number"
				}
			}
			addParam(Parameter{Name: e.Key, Type: typ, Value: v}, e.KeyNode, p)
		}
	case yaml.SequenceNode:
		for _, it := range d.List(n, path, "a list") {
			c, p := it.Node, it.Path
			s := d.Mapping(c, p, parameterKeys)
			if s == nil {
				continue
			}
			var param Parameter
			if e, ok := s["name"]; ok {
				param.Name, _ = d.text(e.Value, p+".name")
			}
			if param.Name == "" {
				if !d.HasProblem(p + ".name") {
					d.required(c, p+".name")
				}
				continue
			}
			param.Type = "string"
			if e, ok := s["type"]; ok {
				if t, ok := d.enum(e.Value, p+".type", ParameterTypes); ok {
					param.Type = t
				}
			}
			if e, ok := s["value"]; ok {
				param.Value, _ = d.Scalar(e.Value, p+".value", "a parameter value (string, number or boolean)")
			}
			addParam(param, c, p+".name")
		}
	default:
		d.Errorf(n, path, "expected a list of {name, type, value} or a mapping of name to value, got %s", yamlnode.Describe(n))
	}
	return out
}

func (d *decoder) causes(n *yaml.Node, path string) []Cause {
	if yamlnode.IsNull(n) {
		return nil
	}
	out := []Cause{}
	for _, it := range d.List(n, path, "a list of {job, build}") {
		c, p := it.Node, it.Path
		s := d.Mapping(c, p, causeKeys)
		if s == nil {
			continue
		}
		var cause Cause
		if e, ok := s["job"]; ok {
			cause.Job, _ = d.text(e.Value, p+".job")
		}
		if e, ok := s["build"]; ok {
			cause.Build, _ = d.text(e.Value, p+".build")
		}
		if cause.Job == "" && !d.HasProblem(p+".job") {
			d.Errorf(c, p+".job", "required field is missing: a cause names the upstream job and build")
		}
		if cause.Build == "" && !d.HasProblem(p+".build") {
			d.Errorf(c, p+".build", "required field is missing: a cause names the upstream job and build")
		}
		if cause.Job != "" && cause.Build != "" {
			out = append(out, cause)
		}
	}
	return out
}

// reports reads the report globs: a list of strings, or one string.
func (d *decoder) reports(n *yaml.Node, path string) ([]string, []*glob.Glob) {
	out, globs := []string{}, []*glob.Glob{}
	for _, it := range d.ListOrValue(n, path, "a list of globs") {
		c, p := it.Node, it.Path
		s, ok := d.Scalar(c, p, "a glob")
		if !ok || s == "" {
			d.Errorf(c, p, "a report glob must not be empty")
			continue
		}
		g, ok := d.reportGlob(c, p, s)
		if !ok {
			continue
		}
		out = append(out, g.String())
		globs = append(globs, g)
	}
	return out, globs
}

// isDrive reports whether s starts with a Windows drive ("C:", "C:/…").
func isDrive(s string) bool {
	if len(s) < 2 || s[1] != ':' {
		return false
	}
	c := s[0] | 0x20
	return c >= 'a' && c <= 'z' && (len(s) == 2 || s[2] == '/' || s[2] == '\\')
}

func (d *decoder) reportGlob(n *yaml.Node, p, s string) (*glob.Glob, bool) {
	switch {
	case strings.Contains(s, `\`):
		d.Errorf(n, p, "%q contains a backslash: separate folders with /, and write a literal * ? [ { as [*] [?] [[] [{]", yamlnode.Truncate(s))
		return nil, false
	case strings.HasPrefix(s, "/") || isDrive(s):
		d.Errorf(n, p, "%q is absolute: report globs are relative to the manifest's folder", yamlnode.Truncate(s))
		return nil, false
	}
	clean := path.Clean(s)
	if clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(s, "/../") || strings.HasSuffix(s, "/..") {
		d.Errorf(n, p, "%q leaves the manifest's folder: a manifest owns only reports at or below it", yamlnode.Truncate(s))
		return nil, false
	}
	g, err := glob.Compile(clean)
	if err != nil {
		d.Errorf(n, p, "%v", err)
		return nil, false
	}
	return g, true
}

// environment reads taxonomy type: value pairs.
func (d *decoder) environment(n *yaml.Node, path string) map[string]string {
	if yamlnode.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "expected a mapping of taxonomy type to value (like OS: Linux), got %s", yamlnode.Describe(n))
		return nil
	}
	out := map[string]string{}
	for _, e := range d.Pairs(n, path) {
		p := yamlnode.Join(path, e.Key)
		if e.Key == "" {
			d.Errorf(e.KeyNode, p, "a taxonomy type must not be empty")
			continue
		}
		if !d.checkText(e.KeyNode, p, e.Key) {
			continue
		}
		v, ok := d.text(e.Value, p)
		if !ok {
			if !d.HasProblem(p) {
				d.Errorf(e.Value, p, "a taxonomy value must not be empty")
			}
			continue
		}
		out[e.Key] = v
	}
	return out
}

// testFields reads Test_Level, Test_Type, Testing_Tool_Type and Framework
// (keys matched case-insensitively, stored in Octane's spelling).
func (d *decoder) testFields(n *yaml.Node, path string) map[string]string {
	if yamlnode.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "expected a mapping of test field type to value (like Test_Level: Unit Test), got %s", yamlnode.Describe(n))
		return nil
	}
	out := map[string]string{}
	first := map[string]int{}
	for _, e := range d.Pairs(n, path) {
		p := yamlnode.Join(path, e.Key)
		typ := ""
		for _, t := range TestFieldTypes {
			if strings.EqualFold(t, e.Key) {
				typ = t
			}
		}
		if typ == "" {
			d.Errorf(e.KeyNode, p, "unknown test field type; Octane takes %s", strings.Join(TestFieldTypes, ", "))
			continue
		}
		if line, dup := first[typ]; dup {
			d.Errorf(e.KeyNode, p, "%s is given twice (first at line %d)", typ, line)
			continue
		}
		first[typ] = e.KeyNode.Line
		v, ok := d.text(e.Value, p)
		if !ok {
			if !d.HasProblem(p) {
				d.Errorf(e.Value, p, "a test field value must not be empty")
			}
			continue
		}
		out[typ] = v
	}
	return out
}
