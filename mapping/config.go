// Package mapping reads the configuration file (octane-import.yaml) and
// decides, for each report, where it goes: which Octane target, CI server,
// pipeline, job and build, and which extra fields its runs get.
//
// It knows nothing of HTTP and reads no report: its inputs are plain values
// (the manifest's fields, the report's JUnit properties, the file's path and
// times). The file format and the rules are documented in
// docs/configuration.md.
package mapping

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/octane-import/octane-import/internal/yamlnode"
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

// Settings are importer options that may come from the file instead of
// flags. A zero value means "not set": the command's default applies.
type Settings struct {
	State             string        `json:"state,omitempty"`
	Concurrency       int           `json:"concurrency,omitempty"`
	RateLimit         float64       `json:"rate_limit,omitempty"`
	MaxRunsPerPayload int           `json:"max_runs_per_payload,omitempty"`
	MaxPayloadBytes   int           `json:"max_payload_bytes,omitempty"`
	Settle            time.Duration `json:"settle,omitempty"`
	Poll              time.Duration `json:"poll,omitempty"`
	Reconcile         time.Duration `json:"reconcile,omitempty"`
	ManifestWait      time.Duration `json:"manifest_wait,omitempty"`
	SkipErrors        bool          `json:"skip_errors,omitempty"`
}

// Config is a loaded configuration file.
type Config struct {
	Path     string // the file it came from ("" for the built-in default)
	Targets  []Target
	Sources  []Source
	Rules    []*Rule
	Settings Settings
	// Warnings are problems that do not stop the file from loading, such as
	// an inline secret. `validate` prints them.
	Warnings []Problem
}

// Target returns the target with that name.
func (c *Config) Target(name string) (Target, bool) {
	for _, t := range c.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Problem is one mistake in a configuration file: its String form is
// "file:line:col: path: message".
type Problem = yamlnode.Problem

// LoadError holds every problem found in a configuration file, in file
// order; its Error prints one problem per line.
type LoadError = yamlnode.Error

// Load reads and checks a configuration file. Every problem is reported at
// once as a *LoadError; ${env:NAME} references read the process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// DefaultFile is the configuration file's name when --config is not given.
const DefaultFile = "octane-import.yaml"

// Parse checks a configuration given as bytes. path names it in problems and
// anchors relative paths (source dirs, state, ca_file, ${file:...}); env
// resolves ${env:NAME} (nil means os.LookupEnv).
func Parse(data []byte, path string, env func(string) (string, bool)) (cfg *Config, err error) {
	if env == nil {
		env = os.LookupEnv
	}
	baseDir := "."
	if path != "" {
		baseDir = filepath.Dir(path)
	}
	label := path
	if label == "" {
		label = "<config>"
	}
	defer func() {
		// No file may take the program down; a panic here is a bug, reported as a problem.
		if r := recover(); r != nil {
			cfg, err = nil, &LoadError{File: label, Problems: []Problem{{File: label, Msg: fmt.Sprintf("internal error reading the configuration file: %v", r)}}}
		}
	}()
	l := &loader{Checker: yamlnode.Checker{File: label, Kind: "configuration file", MergeKeys: true}, env: env, baseDir: baseDir}
	cfg = l.load(data)
	if len(l.Problems) > 0 {
		yamlnode.Sort(l.Problems)
		return nil, &LoadError{File: label, Problems: l.Problems}
	}
	yamlnode.Sort(l.warnings)
	cfg.Warnings = l.warnings
	cfg.Path = path
	return cfg, nil
}
