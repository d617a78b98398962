// Package config turns the configuration file and the command line into what one run of
// octane-import needs. It resolves, once and in one place, the precedence of every value
// that can be given several ways: a flag, then the environment (OCTANE_IMPORT_<FLAG>, which
// the command applies to its flags), then the file's settings, then the built-in default
// (the importer's and the Octane client's own defaults).
package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// Overrides are what the command line (flags and OCTANE_IMPORT_* variables) gives. A zero
// value, or a nil pointer, means "not given": the file's setting applies, else the default.
type Overrides struct {
	State        string
	Concurrency  int
	MaxRuns      int
	Retries      int
	SkipErrors   bool
	DryRun       bool
	Since, Until time.Time

	Settle, Poll, Reconcile, ManifestWait *time.Duration
	Marker                                string

	// FailFast: a target that does not answer at all when the run starts fails within
	// seconds (scan and retry: the work stays queued for the next run) instead of being
	// retried for minutes (watch, which waits for Octane to come back).
	FailFast bool

	// Sandbox, when set, replaces every target with an in-process stand-in Octane.
	Sandbox *Sandbox

	Env    func(string) (string, bool) // the process environment (OCTANE_URL ... fill a target)
	Logger *slog.Logger
}

// Sandbox is a stand-in Octane every target is pointed at (scan --sandbox).
type Sandbox struct {
	URL, SharedSpace, Workspace, ClientID, ClientSecret string
}

// Run is one command run, resolved: the importer's options, where the ledger is, and how
// to reach each target.
type Run struct {
	Importer importer.Options // Ledger and Client are set by importer.Open
	Ledger   string           // the ledger's path ("" for the sandbox's throw-away ledger)
	Targets  map[string]octane.Config
	Watch    importer.WatchOptions
	// Unusable are the targets whose values could not be resolved (a secret's environment
	// variable not set): an error for a command that connects, nothing for one that does not.
	Unusable []error
}

// Resolve applies the precedence flag > environment > settings > default to the file and
// the command line. It makes no connection and checks no credentials (a dry run needs
// none); importer.Open checks each target before anything is sent.
func Resolve(f *File, o Overrides) *Run {
	st := f.Settings
	r := &Run{
		Importer: importer.Options{
			Rules:             f.Rules,
			Sources:           f.Sources,
			DryRun:            o.DryRun,
			Since:             o.Since,
			Until:             o.Until,
			Senders:           first(o.Concurrency, st.Concurrency),
			MaxRunsPerPayload: first(o.MaxRuns, st.MaxRunsPerPayload),
			MaxPayloadBytes:   st.MaxPayloadBytes,
			SkipErrors:        o.SkipErrors || st.SkipErrors,
			Lease:             st.Lease,
			Logger:            o.Logger,
			Env:               o.Env,
		},
		Ledger:  LedgerPath(f, o),
		Targets: map[string]octane.Config{},
		Watch: importer.WatchOptions{
			Settle:       orSetting(o.Settle, st.Settle),
			Poll:         orSetting(o.Poll, st.Poll),
			Reconcile:    orSetting(o.Reconcile, st.Reconcile),
			ManifestWait: orSetting(o.ManifestWait, st.ManifestWait),
			Marker:       o.Marker,
		},
	}
	for _, t := range f.Targets {
		r.Targets[t.Name] = octaneConfig(t, f, o)
		if n, err := report.ParseNaming(t.TestNaming); err == nil && t.TestNaming != "" {
			if r.Importer.TestNaming == nil {
				r.Importer.TestNaming = map[string]report.Naming{}
			}
			r.Importer.TestNaming[t.Name] = n
		}
		if err := t.Usable(); err != nil && o.Sandbox == nil {
			r.Unusable = append(r.Unusable, &importer.TargetError{Target: t.Name, Err: err})
		}
	}
	return r
}

// octaneConfig is how to reach one target.
func octaneConfig(t Target, f *File, o Overrides) octane.Config {
	c := octane.Config{Logger: o.Logger}
	if sb := o.Sandbox; sb != nil {
		c.URL, c.SharedSpace, c.Workspace = sb.URL, sb.SharedSpace, sb.Workspace
		c.ClientID, c.ClientSecret = sb.ClientID, sb.ClientSecret
		c.Poll = octane.PollPolicy{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond} // it is local
		c.RateLimit = -1                                                                    // and needs no pacing
	} else {
		c.URL, c.SharedSpace, c.Workspace = t.URL, t.SharedSpace, t.Workspace
		c.ClientID, c.ClientSecret, c.User, c.Password = t.ClientID, t.ClientSecret, t.User, t.Password
		c.Proxy, c.NoProxy, c.CAFile, c.Insecure = t.Proxy, t.NoProxy, t.CAFile, t.Insecure
		c.ApplyEnv(o.Env) // OCTANE_URL, OCTANE_CLIENT_ID ... fill what the file leaves empty
	}
	c.Compression, c.ClientType, c.BuildReporting = t.Compression, t.ClientType, f.Settings.BuildReporting
	if o.Retries > 0 {
		c.Retry.MaxAttempts = o.Retries
	}
	if o.FailFast {
		c.Retry.FirstContact = firstContactAttempts
	}
	if r := f.Settings.RateLimit; r > 0 {
		c.RateLimit = r
	}
	if n := first(o.Concurrency, f.Settings.Concurrency); n > 0 {
		c.Concurrency = n
	}
	return c
}

// LedgerPath is where the ledger lives: --state, else settings.state (a path relative to
// the file, or a postgres:// URL), else octane-import.state beside the file (or in the
// current folder). With the sandbox and neither given, "": the run uses a throw-away
// ledger, since the in-process stand-in forgets everything when the command ends.
func LedgerPath(f *File, o Overrides) string {
	switch {
	case o.State != "":
		return o.State
	case f.Settings.State != "":
		if filepath.IsAbs(f.Settings.State) || f.Path == "" || ledger.IsURL(f.Settings.State) {
			return f.Settings.State
		}
		return filepath.Join(filepath.Dir(f.Path), f.Settings.State)
	case o.Sandbox != nil:
		return ""
	case f.Path != "":
		return filepath.Join(filepath.Dir(f.Path), "octane-import.state")
	}
	return "octane-import.state"
}

// Default is the configuration without a file: one target "sandbox" and the built-in rule,
// which in a CI job it recognises takes the build from the CI's environment
// (mapping.DefaultFor), and elsewhere from the folders.
func Default(hostname func() (string, error), env func(string) (string, bool)) *File {
	host := ""
	if hostname != nil {
		host, _ = hostname()
	}
	return &File{Targets: []Target{{Name: "sandbox"}}, Rules: mapping.DefaultFor(host, env)}
}

// Load reads the configuration file at path. With no file at the default path (given is
// false), the built-in configuration applies; a file named explicitly must exist.
func Load(path string, given bool, hostname func() (string, error), env func(string) (string, bool)) (*File, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) && !given {
		return Default(hostname, env), nil
	}
	return LoadFile(path)
}

// firstContactAttempts is how often a scan tries a target that never answered.
const firstContactAttempts = 2

func first(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

func orSetting(given *time.Duration, setting time.Duration) time.Duration {
	if given != nil {
		return *given
	}
	return setting
}
