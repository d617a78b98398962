package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/octane-import/octane-import/manifest"
)

// Input is what Decide knows about one report.
type Input struct {
	// Path is the report's absolute path (OS separators; rules see it in slash form).
	Path string
	// Root is the folder a rule's path pattern is relative to: the innermost configured
	// source holding the report, or, for a report outside every source, the folder named on
	// the command line (a named file: its folder). See docs/configuration.md, "Paths".
	Root string
	// Zone reads zone-less report timestamps when the rule sets no timezone: the source's
	// timezone, nil for the machine's.
	Zone *time.Location
	// ModTime is the report's modification time.
	ModTime time.Time
	// Manifest is the build manifest that owns the report, nil when none.
	Manifest *manifest.Manifest
	// Report is what the report itself says.
	Report ReportFacts
	// Env looks up environment variables (nil: the process's).
	Env func(string) (string, bool)
}

// ReportFacts is what a report says about its build, as the reader found it.
type ReportFacts struct {
	Properties map[string]string // JUnit suite-level properties (the first value of each name)
	Start      time.Time         // earliest suite or test case timestamp; zero when it has none
	Zoneless   bool              // Start was written without a zone (and read in the decision's Timezone)
	Duration   time.Duration     // how long its tests ran: latest end − earliest start, else the sum of the suites' times
	Runs       int               // test runs read
	Failed     int               // of which failed
}

// Server is the CI server a build belongs to.
type Server struct {
	InstanceID string `json:"instance_id"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	URL        string `json:"url,omitempty"`
}

// fields counts the values a description gives beyond the instance id (a name equal to the
// id says nothing): the "fullest" of two descriptions of one server has more.
func (s Server) fields() int {
	n := 0
	for _, v := range []string{s.Type, s.URL} {
		if v != "" {
			n++
		}
	}
	if s.Name != "" && s.Name != s.InstanceID {
		n++
	}
	return n
}

// Parameter is a build parameter (from the manifest).
type Parameter struct {
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// Cause is an upstream build that triggered this one (from the manifest).
type Cause struct {
	Job   string `json:"job"`
	Build string `json:"build"`
}

// Decision is everything octane-import sends for one report: where its runs go (target,
// CI server, pipeline, job, build), what is said of its build (start, duration, status,
// result, parameters, causes) and the fields every run gets. It is made once, by Decide;
// explain prints it, a dry run plans from it and the importer only converts it to the wire.
// The JSON form (`explain --output json`) uses the snake_case tags.
type Decision struct {
	Rule     string            `json:"rule"`      // rule name or "rule N"
	RuleLine int               `json:"rule_line"` // 0 for the built-in default
	Captures map[string]string `json:"captures,omitempty"`
	Target   string            `json:"target"`
	Root     string            `json:"root"`               // the folder the rule's path was matched under
	Manifest string            `json:"manifest,omitempty"` // the manifest's path, when one owns the report

	Server      Server `json:"server"`
	Pipeline    string `json:"pipeline"`
	RootJob     string `json:"root_job"`
	RootJobName string `json:"root_job_name"`
	Job         string `json:"job"`
	JobName     string `json:"job_name"`
	Build       string `json:"build"`
	BuildName   string `json:"build_name"`

	Start      time.Time     `json:"start,omitzero"`
	Timezone   string        `json:"timezone,omitempty"` // zone-less report timestamps were read in this zone
	Zoneless   bool          `json:"zoneless,omitempty"` // the start came from a zone-less timestamp
	Duration   time.Duration `json:"duration_ns,omitempty"`
	Status     string        `json:"status"`           // running or finished
	Result     string        `json:"result,omitempty"` // "" only when nothing says (no runs read)
	Parameters []Parameter   `json:"parameters,omitempty"`
	Causes     []Cause       `json:"causes,omitempty"`
	BuildURL   string        `json:"build_url,omitempty"`   // the build's page in the CI; each run links to it
	RunLink    string        `json:"run_link,omitempty"`    // the template of each run's link (RunURL), when set
	TestNaming string        `json:"test_naming,omitempty"` // how classnames split, when the rule says ("" = the target's)

	Release      string            `json:"release,omitempty"`
	ReleaseID    int64             `json:"release_id,omitempty"`
	Milestone    int64             `json:"milestone,omitempty"`
	Environment  map[string]string `json:"environment,omitempty"`
	TestFields   map[string]string `json:"test_fields,omitempty"`
	ProductAreas []int64           `json:"product_areas,omitempty"`
	BacklogItems []int64           `json:"backlog_items,omitempty"`

	zone    *time.Location // the zone of zone-less report timestamps (see InZone)
	runLink *template      // RunLink, compiled
	linkCtx *evalContext   // what RunLink's other references resolve to

	// From says where each value came from, by field: "manifest", "rule", "report" (the
	// report's own timestamps, times or runs), "mtime" (the file's modification time),
	// "source" (the source's setting) or "default". Keys: server, pipeline, root_job, job,
	// build, start, duration, status, result, parameters, causes, release, milestone,
	// timezone.
	From map[string]string `json:"from,omitempty"`
}

// Precedence ranks the places a value comes from: manifest over rule over report over the
// file's mtime over defaults, field by field. Merging the decisions of one build's reports
// keeps, for each field, the value of the highest rank (see Build).
func Precedence(from string) int {
	switch from {
	case "manifest":
		return 5
	case "rule":
		return 4
	case "source":
		return 3
	case "report":
		return 2
	case "mtime":
		return 1
	}
	return 0
}

// ServerPlace names where the decision's server description comes from, for messages:
// the manifest's path, or the rule.
func (d *Decision) ServerPlace() string {
	if d.From["server"] == "manifest" && d.Manifest != "" {
		return "manifest " + d.Manifest
	}
	if d.RuleLine > 0 {
		return fmt.Sprintf("rule %q (line %d)", d.Rule, d.RuleLine)
	}
	return fmt.Sprintf("rule %q (built in)", d.Rule)
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

func (r *Rule) matches(in Input, fields map[string]string, rel, abs string, env func(string) (string, bool)) (map[string]string, bool) {
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
		v := fields[c.key]
		if !c.w.match(v, v != "") {
			return nil, false
		}
	}
	for _, c := range r.property {
		v := in.Report.Properties[c.key]
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
		for k, v := range r.derive(in.Path) {
			caps[k] = v
		}
	}
	return caps, true
}

// Decide finds the first rule that matches the report and resolves every value it sends.
// With no match it returns an error wrapping ErrUnmatched.
func (rs Rules) Decide(in Input) (*Decision, error) {
	env := in.Env
	if env == nil {
		env = os.LookupEnv
	}
	abs := filepath.ToSlash(in.Path)
	rel := relPath(in.Path, in.Root)
	var fields map[string]string
	if in.Manifest != nil {
		fields = in.Manifest.Fields()
	}
	for _, r := range rs {
		caps, ok := r.matches(in, fields, rel, abs, env)
		if !ok {
			continue
		}
		ctx := &evalContext{
			captures: caps,
			manifest: fields,
			props:    in.Report.Properties,
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

// resolveDecision combines the manifest, the rule, the report and the defaults, field by
// field in that order of precedence (docs/configuration.md, "How the manifest and the rule
// combine"). A name always comes with its id: a name from one place is never attached to
// an id from another. Environment and test fields merge key by key (the manifest wins on a
// shared key); product areas and backlog items are the union of both lists.
func resolveDecision(r *Rule, ctx *evalContext, in Input) (*Decision, error) {
	s := &r.set
	m := in.Manifest
	d := &Decision{
		Rule:     r.label(),
		RuleLine: r.Line,
		Captures: ctx.captures,
		Target:   r.Target,
		Root:     in.Root,
		From:     map[string]string{},
	}
	if len(d.Captures) == 0 {
		d.Captures = nil
	}
	if m != nil {
		d.Manifest = m.Path
	}
	var problems []string
	ruleVal := func(t *template) string { return t.eval(ctx) }

	// Server: the manifest's when it has one (a manifest always names its server); the
	// values it leaves out come from the rule when the rule names the same server.
	ruleServer := Server{
		InstanceID: ruleVal(s.serverInstanceID),
		Name:       ruleVal(s.serverName),
		Type:       ruleVal(s.serverType),
		URL:        ruleVal(s.serverURL),
	}
	if m != nil {
		d.Server = Server{InstanceID: m.Server.InstanceID, Type: m.Server.Type, URL: m.Server.URL}
		if !m.Defaulted("server.name") {
			d.Server.Name = m.Server.Name
		}
		if ruleServer.InstanceID == d.Server.InstanceID {
			d.Server.Name = cmp.Or(d.Server.Name, ruleServer.Name)
			d.Server.Type = cmp.Or(d.Server.Type, ruleServer.Type)
			d.Server.URL = cmp.Or(d.Server.URL, ruleServer.URL)
		}
		d.From["server"] = "manifest"
	} else {
		d.Server, d.From["server"] = ruleServer, "rule"
	}
	d.Server.Name = cmp.Or(d.Server.Name, d.Server.InstanceID)

	// Job and build: id and name together.
	if m != nil {
		d.Job, d.JobName, d.From["job"] = m.JobID, m.JobName, "manifest"
		d.Build, d.BuildName, d.From["build"] = m.BuildID, m.BuildName, "manifest"
	} else {
		d.Job, d.JobName, d.From["job"] = ruleVal(s.job), ruleVal(s.jobName), "rule"
		d.Build, d.BuildName, d.From["build"] = ruleVal(s.build), ruleVal(s.buildName), "rule"
	}
	d.JobName = cmp.Or(d.JobName, d.Job)
	d.BuildName = cmp.Or(d.BuildName, d.Build)

	// Root job: the manifest's pipeline.root_job, else the job itself (a one-job pipeline).
	d.RootJob, d.RootJobName, d.From["root_job"] = d.Job, d.JobName, "default"
	if m != nil && !m.Defaulted("pipeline.root_job") && m.RootJob != d.Job {
		d.RootJob, d.RootJobName, d.From["root_job"] = m.RootJob, m.RootJob, "manifest"
	}

	// Pipeline: the manifest's pipeline.name, the rule's, else named after the root job.
	switch {
	case m != nil && !m.Defaulted("pipeline.name"):
		d.Pipeline, d.From["pipeline"] = m.Pipeline, "manifest"
	case ruleVal(s.pipeline) != "":
		d.Pipeline, d.From["pipeline"] = ruleVal(s.pipeline), "rule"
	default:
		d.Pipeline, d.From["pipeline"] = d.RootJobName, "default"
	}

	// Timezone of zone-less report timestamps: the rule's, the source's, the machine's.
	zone := time.Local
	d.From["timezone"] = "default"
	switch {
	case r.zone != nil:
		zone, d.From["timezone"] = r.zone, "rule"
	case in.Zone != nil:
		zone, d.From["timezone"] = in.Zone, "source"
	}
	d.Timezone, d.zone = ZoneName(zone), zone

	// Start: the manifest's, the rule's (a template, or mtime), the report's, the mtime.
	switch {
	case m != nil && !m.Started.IsZero():
		d.Start, d.From["start"] = m.Started, "manifest"
	case s.startMode == "template":
		t, err := parseStart(ruleVal(s.start))
		if err != nil {
			problems = append(problems, "set.start: "+err.Error())
		}
		d.Start, d.From["start"] = t, "rule"
	case s.startMode == "mtime" || in.Report.Start.IsZero():
		d.Start, d.From["start"] = in.ModTime, "mtime"
	default: // "suite", the default
		d.Start, d.From["start"] = in.Report.Start, "report"
		if in.Report.Zoneless {
			d.Start, d.Zoneless = d.InZone(in.Report.Start), true
		}
	}
	if !d.Start.IsZero() {
		d.Start = d.Start.UTC()
	}
	if !d.Zoneless {
		d.Timezone = "" // said only where it mattered
		delete(d.From, "timezone")
	}

	// Duration: the manifest's, else how long the report's tests ran.
	switch {
	case m != nil && m.Duration > 0:
		d.Duration, d.From["duration"] = m.Duration, "manifest"
	case in.Report.Duration > 0:
		d.Duration, d.From["duration"] = in.Report.Duration, "report"
	}

	// Status: the manifest's, else finished (a report on disk is a finished build).
	d.Status, d.From["status"] = "finished", "default"
	if m != nil && m.Status != "" {
		d.Status, d.From["status"] = m.Status, "manifest"
	}

	// Result: the manifest's, the rule's, else derived from the report's runs.
	switch {
	case m != nil && m.Result != "":
		d.Result, d.From["result"] = m.Result, "manifest"
	case s.result != "":
		d.Result, d.From["result"] = s.result, "rule"
	case in.Report.Runs > 0:
		d.Result, d.From["result"] = DeriveResult(in.Report.Failed), "report"
	}

	if u := ruleVal(s.buildURL); u != "" {
		d.BuildURL, d.From["build_url"] = u, "rule"
	}
	d.TestNaming = r.TestNaming

	// Each run's link: the manifest's run_link, the rule's, else the build's page.
	switch {
	case m != nil && m.RunLink != "":
		t, err := parseTemplate(m.RunLink)
		if err != nil {
			problems = append(problems, "manifest run_link: "+err.Error())
		} else {
			d.RunLink, d.runLink, d.From["run_link"] = m.RunLink, t, "manifest"
		}
	case s.runLink != nil:
		d.RunLink, d.runLink, d.From["run_link"] = s.runLink.src, s.runLink, "rule"
	}
	if d.runLink != nil {
		d.linkCtx = ctx
	}

	// Parameters and causes: only a manifest has them.
	if m != nil {
		for _, p := range m.Parameters {
			d.Parameters = append(d.Parameters, Parameter(p))
		}
		for _, c := range m.Causes {
			d.Causes = append(d.Causes, Cause(c))
		}
		if len(d.Parameters) > 0 {
			d.From["parameters"] = "manifest"
		}
		if len(d.Causes) > 0 {
			d.From["causes"] = "manifest"
		}
	}

	// Release and milestone.
	switch {
	case m != nil && (m.Release != "" || m.ReleaseID != 0):
		d.Release, d.ReleaseID, d.From["release"] = m.Release, m.ReleaseID, "manifest"
	case s.release != nil || s.releaseID != nil:
		d.Release = ruleVal(s.release)
		d.ReleaseID = idOrProblem(ruleVal(s.releaseID), "set.release_id", &problems)
		if d.Release != "" || d.ReleaseID != 0 {
			d.From["release"] = "rule"
		}
	}
	switch {
	case m != nil && m.Milestone != 0:
		d.Milestone, d.From["milestone"] = m.Milestone, "manifest"
	default:
		if d.Milestone = idOrProblem(ruleVal(s.milestone), "set.milestone", &problems); d.Milestone != 0 {
			d.From["milestone"] = "rule"
		}
	}

	// Fields that add up.
	var mEnv, mTest map[string]string
	var mAreas, mItems []int64
	if m != nil {
		mEnv, mTest, mAreas, mItems = m.Environment, m.TestFields, m.ProductAreas, m.BacklogItems
	}
	d.Environment = mergeFields(s.environment, mEnv, ctx)
	d.TestFields = mergeFields(s.testFields, mTest, ctx)
	d.ProductAreas = mergeIDs(mAreas, s.productAreas, ctx, "set.product_areas", &problems)
	d.BacklogItems = mergeIDs(mItems, s.backlogItems, ctx, "set.backlog_items", &problems)

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

// InZone reads the wall clock of a zone-less report timestamp in the decision's timezone
// (the rule's, the source's or the machine's).
func (d *Decision) InZone(t time.Time) time.Time {
	zone := d.zone
	if zone == nil {
		zone = time.Local
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone).UTC()
}

// RunURL is the link of one test run: RunLink with the run's package, class, name and
// suite, else the build's page ("" when neither is known).
func (d *Decision) RunURL(pkg, class, name, suite string) string {
	if d.runLink == nil {
		return d.BuildURL
	}
	c := *d.linkCtx
	c.run = map[string]string{"package": pkg, "class": class, "name": name, "suite": suite}
	return d.runLink.eval(&c)
}

// DeriveResult is a build's result when nothing says it: failure when a run failed.
func DeriveResult(failed int) string {
	if failed > 0 {
		return "failure"
	}
	return "success"
}

// ZoneName names a zone for people: its IANA name, with " (local)" for the machine's zone
// (named from TZ or /etc/localtime when the system gives no name).
func ZoneName(loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	name := loc.String()
	if loc != time.Local {
		return name
	}
	if name == "Local" {
		name = "the machine's zone"
		if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
			name = tz
		} else if target, err := os.Readlink("/etc/localtime"); err == nil {
			if _, zone, ok := strings.Cut(target, "zoneinfo/"); ok {
				name = zone
			}
		}
	}
	return name + " (local)"
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

func mergeFields(rule []namedTemplate, m map[string]string, ctx *evalContext) map[string]string {
	out := map[string]string{}
	for _, nt := range rule {
		if v := nt.t.eval(ctx); v != "" {
			out[nt.key] = v
		}
	}
	for k, v := range m {
		if k != "" && v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func mergeIDs(manifest []int64, rule []*template, ctx *evalContext, what string, problems *[]string) []int64 {
	var out []int64
	add := func(id int64) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, id := range manifest {
		add(id)
	}
	for _, t := range rule {
		s := t.eval(ctx)
		if strings.TrimSpace(s) == "" {
			continue
		}
		id, err := parseID(s)
		if err != nil {
			*problems = append(*problems, what+": "+err.Error())
			continue
		}
		add(id)
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
