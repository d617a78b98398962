package importer

import (
	"encoding/json"
	"sort"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
)

// A build is described by mapping.Build: the decisions of its reports merged field by
// field. The ledger keeps it (as the build's Spec, JSON) so that a restart sends it without
// reading the files again and a report added later merges with what was sent before.

// buildKey identifies a build across targets: target, server instance id, job, build id.
func buildKey(target, server, job, build string) string {
	return mapping.BuildKey(target, server, job, build)
}

func idOf(b *mapping.Build) BuildID {
	return BuildID{Server: b.Server.InstanceID, Job: b.Job, Build: b.Build}
}

// wireBuild is the PUT analytics/ci/builds body of a build: the build as decided, nothing
// merged again here.
func wireBuild(b *mapping.Build) octane.Build {
	ob := octane.Build{
		ServerCIID: b.Server.InstanceID, JobCIID: b.Job, BuildCIID: b.Build, Name: b.BuildName,
		Start: b.Start, Duration: b.Duration, Status: b.Status, Result: b.Result,
		JobName: b.JobName, ServerType: b.Server.Type, ServerURL: b.Server.URL, // CI events carry them
	}
	if ob.Status == "" {
		ob.Status = "finished"
	}
	if ob.Result == "" {
		ob.Result = mapping.DeriveResult(b.Failed)
	}
	for _, p := range b.Parameters {
		ob.Parameters = append(ob.Parameters, octane.Parameter{Name: p.Name, Type: p.Type, Value: p.Value})
	}
	for _, c := range b.Causes {
		ob.Causes = append(ob.Causes, octane.Cause{JobCIID: c.Job, BuildCIID: c.Build})
	}
	return ob
}

func marshalBuild(b *mapping.Build) json.RawMessage {
	data, err := json.Marshal(b)
	if err != nil {
		panic("importer: build does not marshal: " + err.Error()) // only plain fields: cannot happen
	}
	return data
}

// forgotten is the spec of a build whose reports are to be read again from nothing
// (resetTarget): it adds nothing to the build they make.
var forgotten = json.RawMessage("null")

func unmarshalBuild(lb ledger.Build) (*mapping.Build, error) {
	if string(lb.Spec) == string(forgotten) {
		return &mapping.Build{}, nil
	}
	var b mapping.Build
	if err := json.Unmarshal(lb.Spec, &b); err != nil {
		return nil, err
	}
	if b.Reports == 0 {
		b.Reports = 1 // written by an earlier version, without the count
	}
	return &b, nil
}

// orderBuilds sorts builds oldest first, and puts every build after the builds its causes
// name (a pipeline's root build before the job builds it triggered), whatever their times.
func orderBuilds(builds []ledger.Build, specs map[string]*mapping.Build) []ledger.Build {
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
			if j, ok := index[buildKey(s.Target, s.Server.InstanceID, c.Job, c.Build)]; ok {
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

// serversOf resolves one description per CI server from every build to be sent: the
// fullest wins, and conflicting descriptions become warnings that name both places.
func serversOf(specs map[string]*mapping.Build) *mapping.Servers {
	var srv mapping.Servers
	for _, k := range sortedKeys(specs) {
		b := specs[k]
		srv.Add(b.Target, b.Server, b.ServerPlace, b.From["server"])
	}
	return &srv
}
