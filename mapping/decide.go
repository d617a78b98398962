package mapping

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Input is what Decide knows about one report.
type Input struct {
	Path       string            // absolute path of the report (OS separators ok; matched in slash form)
	Root       string            // the scanned root (or source dir) the path is relative to
	ModTime    time.Time         // the report's modification time
	SuiteTime  time.Time         // earliest suite timestamp of the report, zero if none
	Manifest   map[string]string // the manifest's fields (see docs/configuration.md), nil when no manifest
	Properties map[string]string // JUnit suite-level properties
	Env        func(string) (string, bool)
}

// Server is the CI server a build belongs to.
type Server struct {
	InstanceID string `json:"instance_id"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	URL        string `json:"url,omitempty"`
}

// Decision is where one report goes. The JSON form (`explain --output
// json`) uses the snake_case tags.
type Decision struct {
	Rule         string            `json:"rule"`      // rule name or "rule N"
	RuleLine     int               `json:"rule_line"` // 0 for the built-in default
	Captures     map[string]string `json:"captures,omitempty"`
	Target       string            `json:"target"`
	Server       Server            `json:"server"`
	Pipeline     string            `json:"pipeline"`
	Job          string            `json:"job"`
	JobName      string            `json:"job_name"`
	Build        string            `json:"build"`
	BuildName    string            `json:"build_name"`
	Start        time.Time         `json:"start,omitzero"`        // manifest > rule
	Duration     time.Duration     `json:"duration_ns,omitempty"` // from the manifest only; 0 = unknown
	Result       string            `json:"result,omitempty"`      // "" = derive from the runs
	Release      string            `json:"release,omitempty"`
	ReleaseID    int64             `json:"release_id,omitempty"`
	Milestone    int64             `json:"milestone,omitempty"`
	Environment  map[string]string `json:"environment,omitempty"`
	TestFields   map[string]string `json:"test_fields,omitempty"`
	ProductAreas []int64           `json:"product_areas,omitempty"`
	BacklogItems []int64           `json:"backlog_items,omitempty"`
	// From says where each of server, pipeline, job, build, start, result
	// and release came from: "manifest", "rule", "default" (a derived
	// fallback), and for start "suite" or "mtime".
	From map[string]string `json:"from,omitempty"`
}

var (
	// ErrUnmatched is wrapped by Decide when no rule matches a report.
	ErrUnmatched = errors.New("no rule matched")
	// ErrIncomplete is wrapped by Decide when the matching rule (and the
	// manifest) leave the server instance id, the job or the build empty,
	// or give a value Octane would refuse. The partial decision is returned
	// with it, for explain.
	ErrIncomplete = errors.New("decision incomplete")
)

// maxIDLen is Octane's limit for job and build ids (XSD string255).
const maxIDLen = 255

// relPath is the slash path of p relative to root, or p without its
// leading slash when it is not under root.
func relPath(p, root string) string {
	if root != "" {
		if rel, err := filepath.Rel(root, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "." {
			return filepath.ToSlash(rel)
		}
	}
	return strings.TrimLeft(filepath.ToSlash(p), "/")
}

func (r *Rule) matches(in Input, rel, abs string, env func(string) (string, bool)) (map[string]string, bool) {
	caps := map[string]string{}
	if r.path != nil {
		c, ok := r.path.match(rel, abs)
		if !ok {
			return nil, false
		}
		for k, v := range c {
			caps[k] = v
		}
	}
	if r.re != nil {
		s := rel
		if strings.HasPrefix(r.Regexp, "^/") {
			s = abs
		}
		m := r.re.FindStringSubmatch(s)
		if m == nil {
			return nil, false
		}
		for i, name := range r.re.SubexpNames() {
			if name != "" {
				caps[name] = m[i]
			}
		}
	}
	if r.hasManifest != nil && *r.hasManifest != (in.Manifest != nil) {
		return nil, false
	}
	// A missing key and an empty value are the same thing: manifest.Fields
	// gives "" for what a manifest leaves unset.
	for _, c := range r.manifest {
		v := in.Manifest[c.key]
		if !c.w.match(v, v != "") {
			return nil, false
		}
	}
	for _, c := range r.property {
		v := in.Properties[c.key]
		if !c.w.match(v, v != "") {
			return nil, false
		}
	}
	for _, c := range r.env {
		v, _ := env(c.key)
		if !c.w.match(v, v != "") {
			return nil, false
		}
	}
	if r.derive != nil {
		for k, v := range r.derive(rel, in.Root) {
			caps[k] = v
		}
	}
	return caps, true
}

// Decide finds the first rule that matches the report and resolves its
// values. With no match it returns an error wrapping ErrUnmatched.
func (c *Config) Decide(in Input) (*Decision, error) {
	env := in.Env
	if env == nil {
		env = os.LookupEnv
	}
	abs := filepath.ToSlash(in.Path)
	rel := relPath(in.Path, in.Root)
	for _, r := range c.Rules {
		caps, ok := r.matches(in, rel, abs, env)
		if !ok {
			continue
		}
		ctx := &evalContext{
			captures: caps,
			manifest: in.Manifest,
			props:    in.Properties,
			env:      env,
			file:     fileValues(abs, rel, filepath.ToSlash(in.Root)),
		}
		d, err := resolveDecision(r, ctx, in)
		if err != nil {
			return d, fmt.Errorf("%s: %s (line %d): %w", in.Path, r.describe(), r.Line, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s: %w", in.Path, ErrUnmatched)
}

// resolveDecision combines the manifest and the rule. The manifest wins,
// one unit at a time: the server (when it has server.instance_id), the job
// (job, job_name), the build (build, build_name), the pipeline, start,
// duration, result, release (release or release_id) and milestone. The
// rule fills what the manifest leaves empty. Environment and test fields
// are merged key by key (the manifest wins on a shared key); product areas
// and backlog items are the union of both lists.
func resolveDecision(r *Rule, ctx *evalContext, in Input) (*Decision, error) {
	s := &r.set
	m := in.Manifest
	d := &Decision{
		Rule:     r.label(),
		RuleLine: r.Line,
		Captures: ctx.captures,
		Target:   r.Target,
		From:     map[string]string{},
	}
	if len(d.Captures) == 0 {
		d.Captures = nil
	}
	var problems []string

	// Server.
	if id := m["server.instance_id"]; id != "" {
		d.Server = Server{InstanceID: id, Name: m["server.name"], Type: m["server.type"], URL: m["server.url"]}
		d.From["server"] = "manifest"
	} else {
		d.Server = Server{
			InstanceID: s.serverInstanceID.eval(ctx),
			Name:       s.serverName.eval(ctx),
			Type:       s.serverType.eval(ctx),
			URL:        s.serverURL.eval(ctx),
		}
		d.From["server"] = "rule"
	}
	if d.Server.Name == "" {
		d.Server.Name = d.Server.InstanceID
	}

	// Job and build.
	d.Job, d.JobName, d.From["job"] = pick(m, "job", "job.name", s.job, s.jobName, ctx)
	d.Build, d.BuildName, d.From["build"] = pick(m, "build", "build.name", s.build, s.buildName, ctx)

	// Pipeline: manifest, rule, else the job's name.
	switch {
	case m["pipeline"] != "":
		d.Pipeline, d.From["pipeline"] = m["pipeline"], "manifest"
	case s.pipeline != nil && s.pipeline.eval(ctx) != "":
		d.Pipeline, d.From["pipeline"] = s.pipeline.eval(ctx), "rule"
	default:
		d.Pipeline, d.From["pipeline"] = d.JobName, "default"
	}

	// Start and duration.
	if v := m["started"]; v != "" {
		t, err := parseStart(v)
		if err != nil {
			problems = append(problems, "manifest started: "+err.Error())
		}
		d.Start, d.From["start"] = t, "manifest"
	} else {
		switch s.startMode {
		case "mtime":
			d.Start, d.From["start"] = in.ModTime, "mtime"
		case "template":
			v := s.start.eval(ctx)
			t, err := parseStart(v)
			if err != nil {
				problems = append(problems, "set.start: "+err.Error())
			}
			d.Start, d.From["start"] = t, "rule"
		default: // "suite"
			if !in.SuiteTime.IsZero() {
				d.Start, d.From["start"] = in.SuiteTime, "suite"
			} else {
				d.Start, d.From["start"] = in.ModTime, "mtime"
			}
		}
	}
	if v := m["duration"]; v != "" {
		dur, err := parseManifestDuration(v)
		if err != nil {
			problems = append(problems, "manifest duration: "+err.Error())
		}
		d.Duration = dur
	}

	// Result.
	if v := strings.ToLower(strings.TrimSpace(m["result"])); v != "" {
		if !contains(buildResults, v) {
			problems = append(problems, fmt.Sprintf("manifest result %q is not one of %s", v, strings.Join(buildResults, ", ")))
		}
		d.Result, d.From["result"] = v, "manifest"
	} else if s.result != "" {
		d.Result, d.From["result"] = s.result, "rule"
	} else {
		d.From["result"] = "derive"
	}

	// Release and milestone.
	if m["release"] != "" || m["release_id"] != "" {
		d.Release = m["release"]
		d.ReleaseID = idOrProblem(m["release_id"], "manifest release_id", &problems)
		d.From["release"] = "manifest"
	} else if s.release != nil || s.releaseID != nil {
		d.Release = s.release.eval(ctx)
		d.ReleaseID = idOrProblem(s.releaseID.eval(ctx), "set.release_id", &problems)
		d.From["release"] = "rule"
	}
	if v := m["milestone_id"]; v != "" {
		d.Milestone = idOrProblem(v, "manifest milestone_id", &problems)
	} else {
		d.Milestone = idOrProblem(s.milestone.eval(ctx), "set.milestone", &problems)
	}

	// Fields that add up.
	d.Environment = mergeFields(s.environment, m, "environment.", ctx)
	d.TestFields = mergeFields(s.testFields, m, "test_fields.", ctx)
	for k := range d.TestFields {
		if !contains(testFieldTypes, k) {
			problems = append(problems, fmt.Sprintf("manifest test field %q is not one of %s", k, strings.Join(testFieldTypes, ", ")))
		}
	}
	d.ProductAreas = mergeIDs(m["product_areas"], s.productAreas, ctx, "product_areas", &problems)
	d.BacklogItems = mergeIDs(m["backlog_items"], s.backlogItems, ctx, "backlog_items", &problems)
	if len(d.From) == 0 {
		d.From = nil
	}

	// What Octane needs.
	for _, f := range []struct{ name, v string }{
		{"server instance id", d.Server.InstanceID}, {"job", d.Job}, {"build", d.Build},
	} {
		switch {
		case strings.TrimSpace(f.v) == "":
			problems = append(problems, "no "+f.name+" (set it in the rule or the manifest)")
		case len(f.v) > maxIDLen:
			problems = append(problems, fmt.Sprintf("%s is %d characters long (Octane allows %d)", f.name, len(f.v), maxIDLen))
		}
	}
	if len(problems) > 0 {
		return d, fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(problems, "; "))
	}
	return d, nil
}

// pick resolves an id and its display name: the manifest's when it has the
// id, else the rule's; the name defaults to the id.
func pick(m map[string]string, idKey, nameKey string, id, name *template, ctx *evalContext) (string, string, string) {
	if v := m[idKey]; v != "" {
		n := m[nameKey]
		if n == "" {
			n = v
		}
		return v, n, "manifest"
	}
	v, n := id.eval(ctx), name.eval(ctx)
	if n == "" {
		n = v
	}
	return v, n, "rule"
}

func idOrProblem(s, what string, problems *[]string) int64 {
	if strings.TrimSpace(s) == "" {
		return 0
	}
	id, err := parseID(s)
	if err != nil {
		*problems = append(*problems, what+": "+err.Error())
	}
	return id
}

func mergeFields(rule []namedTemplate, m map[string]string, prefix string, ctx *evalContext) map[string]string {
	out := map[string]string{}
	for _, nt := range rule {
		if v := nt.t.eval(ctx); v != "" {
			out[nt.key] = v
		}
	}
	for k, v := range m {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" && v != "" {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func mergeIDs(manifest string, rule []*template, ctx *evalContext, what string, problems *[]string) []int64 {
	var out []int64
	seen := map[int64]bool{}
	add := func(s, from string) {
		if strings.TrimSpace(s) == "" {
			return
		}
		id, err := parseID(s)
		if err != nil {
			*problems = append(*problems, from+" "+what+": "+err.Error())
			return
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, s := range strings.Split(manifest, ",") {
		add(s, "manifest")
	}
	for _, t := range rule {
		add(t.eval(ctx), "set")
	}
	return out
}

// parseStart reads a start time: RFC 3339 or epoch milliseconds.
func parseStart(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty start time")
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 1<<53 {
			return time.Time{}, fmt.Errorf("start %q is out of range for epoch milliseconds", s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("start %q is neither RFC 3339 (2026-03-01T10:00:00Z) nor epoch milliseconds", s)
	}
	return t, nil
}

// parseManifestDuration reads a duration: whole milliseconds or a Go duration.
func parseManifestDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 && ms < 1<<40 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither milliseconds nor a duration such as 1h2m3s", s)
	}
	return d, nil
}

// Default is the configuration used when no file exists. It has one target,
// "sandbox", whose URL the command fills in, and one catch-all rule:
//
//   - the report's parent folder is the build and its grandparent the job,
//     relative to the scanned root; when the grandparent is the root itself
//     the job is the root folder's name, and a report directly in the root
//     gets the root folder's name as job and its own name without extension
//     as build;
//   - the server's instance id and name are hostname, its type "file";
//   - the pipeline is named after the job.
//
// A manifest, when present, wins over these values as with any rule.
func Default(hostname string) *Config {
	if hostname == "" {
		hostname = "octane-import"
	}
	r := &Rule{
		Name:     "default",
		index:    1,
		Target:   "sandbox",
		CatchAll: true,
		derive:   deriveJobBuild,
	}
	r.set = ruleSet{
		serverInstanceID: literal(hostname),
		serverName:       literal(hostname),
		serverType:       literal("file"),
		job:              reference("job"),
		build:            reference("build"),
		// No pipeline: it falls back to the job's name, which is the
		// manifest's job when there is one.
	}
	return &Config{
		Targets: []Target{{Name: "sandbox"}},
		Rules:   []*Rule{r},
	}
}

func literal(s string) *template {
	return &template{src: s, parts: []tmplPart{{lit: s}}}
}

func reference(ref string) *template {
	return &template{src: "{" + ref + "}", parts: []tmplPart{{ref: ref}}}
}

// deriveJobBuild gives the built-in rule's captures.
func deriveJobBuild(rel, root string) map[string]string {
	rootName := path.Base(strings.TrimRight(filepath.ToSlash(root), "/"))
	if rootName == "." || rootName == "/" || rootName == "" {
		rootName = "root"
	}
	dir := path.Dir(rel)
	if dir == "." {
		base := path.Base(rel)
		return map[string]string{"job": rootName, "build": strings.TrimSuffix(base, path.Ext(base))}
	}
	job := rootName
	if gp := path.Dir(dir); gp != "." {
		job = path.Base(gp)
	}
	return map[string]string{"job": job, "build": path.Base(dir)}
}
