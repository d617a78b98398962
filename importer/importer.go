// Package importer is octane-import's engine: it discovers manifests and JUnit reports, reads
// and maps them, groups their runs into builds and test-results payloads, records everything
// in the ledger before sending, and submits to Octane in order (server, pipeline, build, test
// results) so that a crash or a restart resumes exactly where it stopped.
package importer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// Client is what the importer needs of an Octane target; *octane.Client implements it.
type Client interface {
	EnsureCIServer(ctx context.Context, s octane.CIServer) (octane.CIServer, error)
	EnsurePipeline(ctx context.Context, p octane.Pipeline) (octane.Pipeline, error)
	PutBuild(ctx context.Context, b octane.Build) error
	PostTestResults(ctx context.Context, gzipped []byte, skipErrors bool) (octane.Task, error)
	WaitTask(ctx context.Context, id string) (octane.Task, error)
	HasCIServer(ctx context.Context, instanceID string) (bool, error)
}

var _ Client = (*octane.Client)(nil)

// Options configure an Importer. Config and Ledger are required unless DryRun is set
// (a dry run may go without a ledger; with one it only reads it).
type Options struct {
	Rules   mapping.Rules // how a report becomes a decision
	Sources []Source      // the configured folders, with their patterns
	// TestNaming is each target's test identity style (docs/test-naming.md) where a rule
	// says none; missing targets use report.NamingSplit.
	TestNaming map[string]report.Naming
	Ledger     ledger.Store // the embedded ledger (*ledger.Ledger) or PostgreSQL (*ledger.Postgres)
	// Client returns the client for a target named in the configuration.
	Client func(target string) (Client, error)

	DryRun       bool
	Since, Until time.Time // zero: unbounded

	Readers           int // files read in parallel; default GOMAXPROCS
	Senders           int // payloads in flight; default 4
	MaxRunsPerPayload int // default 5000
	MaxPayloadBytes   int // uncompressed XML bytes per payload; default 8 MiB
	MaxOpenBuilds     int // builds with an unsealed payload at once; default 64
	MaxOpenBytes      int // bytes held in unsealed payloads at once; default 24 MiB
	SkipErrors        bool

	Logger   *slog.Logger
	Reporter Reporter
	Version  string // this octane-import's version (a shared ledger's instance list shows it)
	Env      func(string) (string, bool)

	// Lease is how long a PostgreSQL ledger keeps the claims of an instance that stopped
	// beating (default 30s); instances beat, and share each target's rate limit anew, every
	// third of it. Open passes it to the ledger.
	Lease time.Duration
	// Identities are the targets' identities (TargetIdentity), by name: a report is
	// imported to a target, and the ledger says when a target's Octane changed
	// (checkTargets). Open fills them from the targets; empty: not checked.
	Identities map[string]string
}

func (o *Options) defaults() {
	if o.Readers <= 0 {
		o.Readers = runtime.GOMAXPROCS(0)
	}
	if o.Senders <= 0 {
		o.Senders = 4
	}
	if o.MaxRunsPerPayload <= 0 {
		o.MaxRunsPerPayload = 5000
	}
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = 8 << 20
	}
	if o.MaxOpenBuilds <= 0 {
		o.MaxOpenBuilds = 64
	}
	if o.MaxOpenBytes <= 0 {
		o.MaxOpenBytes = 24 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Reporter == nil {
		o.Reporter = nopReporter{}
	}
	if o.Env == nil {
		o.Env = func(string) (string, bool) { return "", false }
	}
}

// Importer runs scans. One Importer may run several scans in turn (watch does).
type Importer struct {
	opt     Options
	sources []sourceDir // the configuration's sources, folders normalised
	res     *resources  // what Open opened, released by Close

	targetsChecked bool // checkTargets ran (once per Importer)
}

// New checks the options and returns an Importer.
func New(opt Options) (*Importer, error) {
	opt.defaults()
	if len(opt.Rules) == 0 {
		return nil, fmt.Errorf("importer: no rules")
	}
	if opt.Ledger == nil && !opt.DryRun {
		return nil, fmt.Errorf("importer: no ledger (only a dry run can go without one)")
	}
	if opt.Client == nil && !opt.DryRun {
		return nil, fmt.Errorf("importer: no Octane client")
	}
	return &Importer{opt: opt, sources: normalizeSources(opt.Sources)}, nil
}

// naming is the test identity style of a decision: its rule's, else its target's.
func (im *Importer) naming(d *mapping.Decision) report.Naming {
	if d.TestNaming != "" {
		if n, err := report.ParseNaming(d.TestNaming); err == nil {
			return n
		}
	}
	return im.opt.TestNaming[d.Target]
}
