package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/internal/yamlnode"
	"github.com/octane-import/octane-import/mapping"
)

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
	BuildReporting    string        `json:"build_reporting,omitempty"` // builds (default) or events
	// Lease is how long a PostgreSQL ledger keeps the claims of an instance that stopped
	// renewing them (killed, host lost) before another takes its work over; default 30s.
	Lease time.Duration `json:"lease,omitempty"`
}

// File is a loaded configuration file.
type File struct {
	Path     string // the file it came from ("" for the built-in default)
	Targets  []Target
	Sources  []importer.Source
	Rules    mapping.Rules
	Settings Settings
	// Warnings are problems that do not stop the file from loading, such as
	// an inline secret. `validate` prints them.
	Warnings []Problem
}

// Target returns the target with that name.
func (c *File) Target(name string) (Target, bool) {
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

// LoadFile reads and checks a configuration file. Every problem is reported at
// once as a *LoadError; ${env:NAME} references read the process environment.
func LoadFile(path string) (*File, error) {
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
func Parse(data []byte, path string, env func(string) (string, bool)) (cfg *File, err error) {
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
