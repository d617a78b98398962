package importer

import (
	"context"
	"sort"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
)

// Explanation is what the rules make of one report: the decision and what the report holds,
// or why there is none.
type Explanation struct {
	Path     string
	Root     string // the folder the rules matched the path under (see mapping.Input.Root)
	Decision *mapping.Decision
	Runs     ledger.Counts
	Warnings []Warning // what the reader adjusted
	Err      error
}

// Explained is what explain found beyond each file: every build as it will be reported
// (the decisions of its reports merged), and the CI servers with one description each.
type Explained struct {
	Builds   []*mapping.Build
	Warnings []string // conflicting descriptions of one CI server, naming both places
}

// Explain maps the reports under paths exactly as a scan would: the same discovery, the
// same manifests, the same reading and the same decision (Importer.read, which scan and
// watch use), and calls fn for each, in discovery order. Nothing is recorded or sent. It
// returns the builds the reports make, as a scan would report them.
func (im *Importer) Explain(ctx context.Context, paths []string, fn func(Explanation)) (*Explained, error) {
	roots, err := im.roots(paths)
	if err != nil {
		return nil, err
	}
	ms, _, err := im.loadManifests(ctx, roots, func(c candidate, err error) { fn(Explanation{Path: c.path, Err: err}) })
	if err != nil {
		return nil, err
	}
	builds := map[string]*mapping.Build{}
	seen := map[string]bool{}
	for _, r := range roots {
		err := r.walk(ctx, func(kind string, c candidate) error {
			if kind != "report" || seen[c.path] {
				return nil
			}
			seen[c.path] = true
			rr := im.read(ctx, c, ms, 0, false)
			ex := Explanation{Path: c.path, Root: c.place.base, Decision: rr.dec, Runs: rr.counts, Err: rr.err, Warnings: rr.warnings}
			if d := rr.dec; d != nil && rr.err == nil {
				if b, ok := builds[d.Key()]; ok {
					b.Add(d, rr.counts.Total(), rr.counts.Failed)
				} else {
					builds[d.Key()] = mapping.NewBuild(d, rr.counts.Total(), rr.counts.Failed)
				}
			}
			fn(ex)
			return nil
		}, func(path string, err error) { fn(Explanation{Path: path, Err: err}) })
		if err != nil {
			return nil, err
		}
	}
	out := &Explained{}
	for _, b := range builds {
		out.Builds = append(out.Builds, b)
	}
	sort.Slice(out.Builds, func(i, j int) bool {
		if !out.Builds[i].Start.Equal(out.Builds[j].Start) {
			return out.Builds[i].Start.Before(out.Builds[j].Start)
		}
		return out.Builds[i].Key() < out.Builds[j].Key()
	})
	srv := serversOf(builds)
	for _, b := range out.Builds {
		b.Server, _ = srv.Get(b.Target, b.Server.InstanceID)
	}
	out.Warnings = srv.Warnings
	return out, nil
}
