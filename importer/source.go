package importer

import (
	"errors"
	"time"

	"github.com/octane-import/octane-import/internal/glob"
)

// Source is one directory to import from.
type Source struct {
	Dir       string
	Include   []string // default ["**/*.xml"]
	Exclude   []string
	Manifests []string // default ["**/octane-build.yaml", "**/octane-build.yml", "**/octane-build.json"]
	MaxAge    time.Duration
	Timezone  string         // the zone of zone-less report timestamps under it ("" = the machine's)
	Zone      *time.Location // Timezone, loaded (nil = the machine's)
	Line      int            // line of the source in the file (0 when built in)

	include, exclude, manifests globList // compiled by Compile (Load does it)
	compiledOK                  bool
}

// Default source globs.
var (
	DefaultInclude   = []string{"**/*.xml"}
	DefaultManifests = []string{"**/octane-build.yaml", "**/octane-build.yml", "**/octane-build.json"}
)

var defaultIncludeGlobs, defaultManifestGlobs = mustGlobs(DefaultInclude), mustGlobs(DefaultManifests)

func mustGlobs(pats []string) globList {
	g, errs := compileGlobs(pats)
	if len(errs) > 0 {
		panic(errs[0]) // only for the built-in lists, checked by the tests
	}
	return g
}

// Compile checks the source's globs and keeps them compiled, so that
// IsReport and IsManifest do not compile them on each call. Sources read by
// Load are already compiled; call it on a Source built in code.
func (s *Source) Compile() error {
	var all []error
	inc, errs := compileGlobs(s.Include)
	all = append(all, errs...)
	exc, errs := compileGlobs(s.Exclude)
	all = append(all, errs...)
	man, errs := compileGlobs(s.Manifests)
	all = append(all, errs...)
	if len(all) > 0 {
		return errors.Join(all...)
	}
	if len(s.Include) == 0 {
		inc = defaultIncludeGlobs
	}
	if len(s.Manifests) == 0 {
		man = defaultManifestGlobs
	}
	s.include, s.exclude, s.manifests = inc, exc, man
	s.compiledOK = true
	return nil
}

func (s *Source) compiled() (inc, exc, man globList) {
	if s.compiledOK {
		return s.include, s.exclude, s.manifests
	}
	c := *s
	if err := c.Compile(); err != nil {
		// A bad glob matches nothing; Compile and Load report it.
		return nil, nil, nil
	}
	return c.include, c.exclude, c.manifests
}

// IsManifest reports whether rel (a slash path relative to Dir) is a build
// manifest of this source: it matches a manifest glob and no exclude glob.
func (s Source) IsManifest(rel string) bool {
	_, exc, man := s.compiled()
	return man.any(rel) && !exc.any(rel)
}

// IsReport reports whether rel (a slash path relative to Dir) is a report of
// this source: it matches an include glob, no exclude glob, and is not a
// manifest.
func (s Source) IsReport(rel string) bool {
	inc, exc, man := s.compiled()
	return inc.any(rel) && !exc.any(rel) && !man.any(rel)
}

// globList is a list of compiled source globs (internal/glob's dialect).
type globList []*glob.Glob

func compileGlobs(pats []string) (globList, []error) {
	var out globList
	var errs []error
	for _, s := range pats {
		g, err := glob.Compile(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, g)
	}
	return out, errs
}

func (g globList) any(rel string) bool {
	for _, p := range g {
		if p.Match(rel) {
			return true
		}
	}
	return false
}
