package importer

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
)

// buildSpec is everything octane-import reports about one build. It is kept in the ledger
// (as the build's Spec) so that a restart can send it without reading the files again.
type buildSpec struct {
	Target       string             `json:"target"`
	Server       mapping.Server     `json:"server"`
	Pipeline     string             `json:"pipeline"`
	RootJob      string             `json:"root_job"`
	RootJobName  string             `json:"root_job_name,omitempty"`
	Job          string             `json:"job"`
	JobName      string             `json:"job_name,omitempty"`
	Build        string             `json:"build"`
	BuildName    string             `json:"build_name,omitempty"`
	Start        time.Time          `json:"start"`
	End          time.Time          `json:"end"`                // latest end of a run seen (derived duration)
	Duration     time.Duration      `json:"duration,omitempty"` // from the manifest
	Status       string             `json:"status,omitempty"`
	Result       string             `json:"result,omitempty"` // "" = derive from the runs
	Parameters   []octane.Parameter `json:"parameters,omitempty"`
	Causes       []octane.Cause     `json:"causes,omitempty"`
	FromManifest bool               `json:"from_manifest,omitempty"`
}

// buildKey identifies a build across targets: target, server instance id, job, build id.
func buildKey(target, server, job, build string) string {
	return strings.Join([]string{target, server, job, build}, "\x1f")
}

func (s *buildSpec) key() string { return buildKey(s.Target, s.Server.InstanceID, s.Job, s.Build) }

func (s *buildSpec) id() BuildID {
	return BuildID{Server: s.Server.InstanceID, Job: s.Job, Build: s.Build}
}

// specFor describes the build a report belongs to from its mapping decision and manifest.
func specFor(d *mapping.Decision, m *manifest.Manifest) buildSpec {
	s := buildSpec{
		Target: d.Target, Server: d.Server, Pipeline: d.Pipeline,
		Job: d.Job, JobName: d.JobName, Build: d.Build, BuildName: d.BuildName,
		Start: d.Start, Result: d.Result,
	}
	if m != nil {
		s.FromManifest = true
		s.Duration = m.Duration
		s.Status = m.Status
		if m.Result != "" {
			s.Result = m.Result
		}
		if m.RootJob != "" {
			s.RootJob = m.RootJob
		}
		for _, p := range m.Parameters {
			s.Parameters = append(s.Parameters, octane.Parameter{Name: p.Name, Type: p.Type, Value: p.Value})
		}
		for _, c := range m.Causes {
			s.Causes = append(s.Causes, octane.Cause{JobCIID: c.Job, BuildCIID: c.Build})
		}
	}
	if s.RootJob == "" {
		s.RootJob = s.Job
	}
	if s.RootJob == s.Job {
		s.RootJobName = s.JobName
	}
	if s.Pipeline == "" {
		s.Pipeline = s.RootJob
	}
	return s
}

// merge widens the build's time span with one more file's runs.
func (s *buildSpec) merge(start, end time.Time) {
	if !start.IsZero() && (s.Start.IsZero() || start.Before(s.Start)) {
		s.Start = start
	}
	if end.After(s.End) {
		s.End = end
	}
}

// octaneBuild is the PUT analytics/ci/builds body for the build, given its runs so far.
func (s *buildSpec) octaneBuild(runs ledger.Counts) octane.Build {
	result := s.Result
	if result == "" {
		result = "success"
		if runs.Failed > 0 {
			result = "failure"
		}
	}
	dur := s.Duration
	if dur == 0 && !s.End.IsZero() && s.End.After(s.Start) {
		dur = s.End.Sub(s.Start)
	}
	status := s.Status
	if status == "" {
		status = "finished"
	}
	return octane.Build{
		ServerCIID: s.Server.InstanceID, JobCIID: s.Job, BuildCIID: s.Build, Name: s.BuildName,
		Start: s.Start, Duration: dur, Status: status, Result: result,
		Parameters: s.Parameters, Causes: s.Causes,
	}
}

func (s *buildSpec) marshal() json.RawMessage {
	data, err := json.Marshal(s)
	if err != nil {
		panic("importer: build spec does not marshal: " + err.Error()) // only plain fields: cannot happen
	}
	return data
}

func unmarshalSpec(b ledger.Build) (buildSpec, error) {
	var s buildSpec
	err := json.Unmarshal(b.Spec, &s)
	return s, err
}

// orderBuilds sorts builds oldest first, and puts every build after the builds its causes
// name (a pipeline's root build before the job builds it triggered), whatever their times.
func orderBuilds(builds []ledger.Build, specs map[string]buildSpec) []ledger.Build {
	sort.SliceStable(builds, func(i, j int) bool {
		if !builds[i].Start.Equal(builds[j].Start) {
			return builds[i].Start.Before(builds[j].Start)
		}
		return builds[i].Key < builds[j].Key
	})
	index := make(map[string]int, len(builds))
	for i, b := range builds {
		index[b.Key] = i
	}
	out := make([]ledger.Build, 0, len(builds))
	state := make([]byte, len(builds)) // 0 new, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return // done, or a cycle in the causes: keep the time order
		}
		state[i] = 1
		s := specs[builds[i].Key]
		for _, c := range s.Causes {
			if j, ok := index[buildKey(s.Target, s.Server.InstanceID, c.JobCIID, c.BuildCIID)]; ok {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, builds[i])
	}
	for i := range builds {
		visit(i)
	}
	return out
}
