package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Build is one build as the decisions of its reports describe it: what is PUT to Octane's
// builds API. A build's reports are decided one by one (Decide); Add merges each decision
// in, field by field, keeping the value of the highest Precedence, so that a manifest's
// start is never widened by a report's timestamps and a build's reports can be added in
// any order. Values derived from the reports (start, duration, result) are combined over
// every report: the earliest start, the latest end, failure when any run failed.
//
// Build is what the ledger keeps of a build between runs (as JSON), so that a report added
// in a later run merges with what earlier runs sent.
type Build struct {
	Target      string        `json:"target"`
	Server      Server        `json:"server"`
	ServerPlace string        `json:"server_place,omitempty"` // where Server was described (see Decision.ServerPlace)
	Pipeline    string        `json:"pipeline"`
	RootJob     string        `json:"root_job"`
	RootJobName string        `json:"root_job_name,omitempty"`
	Job         string        `json:"job"`
	JobName     string        `json:"job_name,omitempty"`
	Build       string        `json:"build"`
	BuildName   string        `json:"build_name,omitempty"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end,omitzero"` // latest end of a report (derived durations)
	Duration    time.Duration `json:"duration,omitempty"`
	Status      string        `json:"status,omitempty"`
	Result      string        `json:"result,omitempty"`
	Parameters  []Parameter   `json:"parameters,omitempty"`
	Causes      []Cause       `json:"causes,omitempty"`
	Runs        int           `json:"runs,omitempty"`   // runs of its reports so far
	Failed      int           `json:"failed,omitempty"` // of which failed (a derived result)
	Reports     int           `json:"reports,omitempty"`
	// From says where each value came from, as Decision.From does.
	From map[string]string `json:"from,omitempty"`
}

// BuildKey identifies a build across targets: target, server instance id, job, build id.
func BuildKey(target, server, job, build string) string {
	return strings.Join([]string{target, server, job, build}, "\x1f")
}

// Key is the build's BuildKey.
func (b *Build) Key() string { return BuildKey(b.Target, b.Server.InstanceID, b.Job, b.Build) }

// Key is the BuildKey of the build the decision sends to.
func (d *Decision) Key() string { return BuildKey(d.Target, d.Server.InstanceID, d.Job, d.Build) }

// NewBuild starts a build from the decision of one of its reports, with that report's runs
// (its decision's result may have been derived from them).
func NewBuild(d *Decision, runs, failed int) *Build {
	b := &Build{}
	b.Add(d, runs, failed)
	return b
}

// Add merges the decision of one more report of the build, with that report's runs.
func (b *Build) Add(d *Decision, runs, failed int) {
	o := &Build{Target: d.Target, Server: d.Server, ServerPlace: d.ServerPlace(), Pipeline: d.Pipeline,
		RootJob: d.RootJob, RootJobName: d.RootJobName, Job: d.Job, JobName: d.JobName, Build: d.Build, BuildName: d.BuildName,
		Start: d.Start, Duration: d.Duration, Status: d.Status, Result: d.Result, Parameters: d.Parameters, Causes: d.Causes,
		Runs: runs, Failed: failed, Reports: 1, From: d.From}
	if derived(d.From["duration"]) && !d.Start.IsZero() && d.Duration > 0 {
		o.End = d.Start.Add(d.Duration)
	}
	b.merge(o)
}

// Merge adds what an earlier run recorded of the same build (the ledger keeps it). The
// order of Add and Merge calls does not change the result.
func (b *Build) Merge(old *Build) {
	if old != nil && old.Reports > 0 {
		b.merge(old)
	}
}

func (b *Build) merge(o *Build) {
	if b.Reports == 0 {
		*b = *o
		b.From = make(map[string]string, len(o.From))
		for k, v := range o.From {
			b.From[k] = v
		}
		b.deriveResult()
		return
	}
	b.Reports += o.Reports
	b.Runs += o.Runs
	b.Failed += o.Failed
	take := func(field string) bool { return Precedence(o.From[field]) > Precedence(b.From[field]) }
	if take("server") {
		b.Server, b.ServerPlace, b.From["server"] = o.Server, o.ServerPlace, o.From["server"]
	}
	if take("job") {
		b.JobName, b.From["job"] = o.JobName, o.From["job"]
	}
	if take("build") {
		b.BuildName, b.From["build"] = o.BuildName, o.From["build"]
	}
	if take("root_job") {
		b.RootJob, b.RootJobName, b.From["root_job"] = o.RootJob, o.RootJobName, o.From["root_job"]
	}
	if take("pipeline") {
		b.Pipeline, b.From["pipeline"] = o.Pipeline, o.From["pipeline"]
	}
	if take("status") {
		b.Status, b.From["status"] = o.Status, o.From["status"]
	}
	if take("parameters") {
		b.Parameters, b.From["parameters"] = o.Parameters, o.From["parameters"]
	}
	if take("causes") {
		b.Causes, b.From["causes"] = o.Causes, o.From["causes"]
	}

	// Start: a given start (manifest, rule) stands; derived starts (report, mtime) combine
	// to the earliest. End: the latest end of any report.
	switch p, q := Precedence(o.From["start"]), Precedence(b.From["start"]); {
	case p > q:
		b.Start, b.From["start"] = o.Start, o.From["start"]
	case p == q && derived(o.From["start"]) && !o.Start.IsZero() && (b.Start.IsZero() || o.Start.Before(b.Start)):
		b.Start = o.Start
	}
	if o.End.After(b.End) {
		b.End = o.End
	}

	// Duration: a given one (manifest) stands; else from the start to the latest end.
	switch {
	case take("duration"):
		b.Duration, b.From["duration"] = o.Duration, o.From["duration"]
	case b.From["duration"] == "manifest":
	case !b.End.IsZero() && b.End.After(b.Start):
		b.Duration, b.From["duration"] = b.End.Sub(b.Start), "report"
	case o.Duration > b.Duration:
		b.Duration, b.From["duration"] = o.Duration, o.From["duration"]
	}
	if !derived(b.From["duration"]) && b.From["duration"] != "manifest" {
		delete(b.From, "duration")
	}

	// Result: a given one (manifest, rule) stands; else derived from every run of the build.
	if take("result") && Precedence(o.From["result"]) > Precedence("report") {
		b.Result, b.From["result"] = o.Result, o.From["result"]
	}
	b.deriveResult()
}

// deriveResult sets a result no manifest or rule gave from the build's runs.
func (b *Build) deriveResult() {
	if Precedence(b.From["result"]) <= Precedence("report") && b.Runs > 0 {
		b.Result, b.From["result"] = DeriveResult(b.Failed), "report"
	}
}

func derived(from string) bool { return from == "report" || from == "mtime" }

// Servers keeps one description per CI server (target and instance id). When two places
// describe one server differently, the fullest description (the most of name, type and url
// given) wins, the manifest's on a tie, and the conflict is a configuration warning that
// names both places.
type Servers struct {
	byKey    map[string]*serverDesc
	warned   map[string]bool
	Warnings []string
}

type serverDesc struct {
	Server
	place string
	from  string
}

// Add records one description of a server; it returns the description that wins so far.
func (s *Servers) Add(target string, srv Server, place, from string) Server {
	if s.byKey == nil {
		s.byKey, s.warned = map[string]*serverDesc{}, map[string]bool{}
	}
	key := target + "\x00" + srv.InstanceID
	cur, ok := s.byKey[key]
	if !ok {
		s.byKey[key] = &serverDesc{Server: srv, place: place, from: from}
		return srv
	}
	if cur.Server == srv {
		return srv
	}
	better := srv.fields() > cur.fields() || (srv.fields() == cur.fields() && Precedence(from) > Precedence(cur.from))
	pair := key + "\x00" + min(cur.place, place) + "\x00" + max(cur.place, place)
	if conflicts(cur.Server, srv) && !s.warned[pair] {
		s.warned[pair] = true // one warning per two places
		winner := cur.place
		if better {
			winner = place
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("CI server %q is described differently by %s (%s) and %s (%s); using the fuller one, from %s",
			srv.InstanceID, cur.place, describeServer(cur.Server), place, describeServer(srv), winner))
	}
	if better {
		s.byKey[key] = &serverDesc{Server: fill(srv, cur.Server), place: place, from: from}
	} else {
		cur.Server = fill(cur.Server, srv)
	}
	return s.byKey[key].Server
}

// Get returns the winning description of a server, if any was added.
func (s *Servers) Get(target, instanceID string) (Server, bool) {
	d, ok := s.byKey[target+"\x00"+instanceID]
	if !ok {
		return Server{}, false
	}
	return d.Server, true
}

// conflicts reports whether two descriptions give different values for one field.
func conflicts(a, b Server) bool {
	differ := func(x, y string) bool { return x != "" && y != "" && x != y }
	name := func(s Server) string {
		if s.Name == s.InstanceID {
			return ""
		}
		return s.Name
	}
	return differ(name(a), name(b)) || differ(a.Type, b.Type) || differ(a.URL, b.URL)
}

// fill completes a with what b gives and a leaves out.
func fill(a, b Server) Server {
	if a.Name == "" || a.Name == a.InstanceID {
		if b.Name != "" && b.Name != b.InstanceID {
			a.Name = b.Name
		}
	}
	if a.Type == "" {
		a.Type = b.Type
	}
	if a.URL == "" {
		a.URL = b.URL
	}
	return a
}

func describeServer(s Server) string {
	var parts []string
	if s.Name != "" && s.Name != s.InstanceID {
		parts = append(parts, "name "+quoteIfNeeded(s.Name))
	}
	if s.Type != "" {
		parts = append(parts, "type "+s.Type)
	}
	if s.URL != "" {
		parts = append(parts, "url "+s.URL)
	}
	if len(parts) == 0 {
		return "no name, type or url"
	}
	return strings.Join(parts, ", ")
}

// quoteIfNeeded quotes values that would be ambiguous in a message.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=,()[]") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
