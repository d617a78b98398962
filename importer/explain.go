package importer

import (
	"context"
	"errors"
	"os"

	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/report"
)

// Explanation is what the rules make of one report: the decision, or why there is none.
type Explanation struct {
	Path     string
	Manifest string // the build manifest that owns the report, if any
	Decision *mapping.Decision
	Err      error
}

// Explain maps the reports under paths exactly as a scan would (same discovery, same manifest
// ownership, same report values) and calls fn for each, in discovery order. Nothing is
// recorded or sent.
func (im *Importer) Explain(ctx context.Context, paths []string, fn func(Explanation)) error {
	roots, err := im.roots(paths)
	if err != nil {
		return err
	}
	ms, _, err := im.loadManifests(ctx, roots, func(candidate, error) {})
	if err != nil {
		return err
	}
	for _, r := range roots {
		err := r.walk(ctx, func(kind string, c candidate) error {
			if kind != "report" {
				return nil
			}
			ex := Explanation{Path: c.path}
			ex.Decision, ex.Manifest, ex.Err = im.decide(c, ms)
			fn(ex)
			return nil
		}, func(path string, err error) { fn(Explanation{Path: path, Err: err}) })
		if err != nil {
			return err
		}
	}
	return nil
}

func (im *Importer) decide(c candidate, ms *manifests) (*mapping.Decision, string, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	rep, err := report.Read(f, c.path)
	if err != nil && !errors.Is(err, report.ErrEmpty) {
		return nil, "", err
	}
	in := mapping.Input{Path: c.path, Root: c.root.dir, ModTime: c.modTime, Env: im.opt.Env}
	if rep != nil {
		in.SuiteTime, in.Properties = rep.Timestamp, properties(rep)
	}
	m, err := ms.owner(c.path, c.root.dir)
	if err != nil {
		return nil, "", err
	}
	mpath := ""
	if m != nil {
		in.Manifest, mpath = m.Fields(), m.Path
	}
	d, err := im.opt.Config.Decide(in)
	return d, mpath, err
}
