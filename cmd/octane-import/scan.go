package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// importFlags are the flags of the commands that import (scan, retry, watch).
type importFlags struct {
	dryRun         bool
	sandbox        bool
	since, until   string
	failNoTests    bool
	concurrency    int
	skipErrors     bool
	maxRuns        int
	retries        int
	sinceT, untilT time.Time
}

func (f *importFlags) register(cmd *cobra.Command, dryRun bool) {
	fl := cmd.Flags()
	if dryRun {
		fl.BoolVar(&f.dryRun, "dry-run", false, "read and map everything and print the plan; send nothing, write nothing")
	}
	fl.BoolVar(&f.sandbox, "sandbox", false, "send to an in-process stand-in Octane instead of the configured targets (nothing leaves the machine)")
	fl.StringVar(&f.since, "since", "", "only builds that started at or after this time (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&f.until, "until", "", "only builds that started before this time (RFC 3339 or YYYY-MM-DD)")
	fl.BoolVar(&f.failNoTests, "fail-on-no-tests", false, "exit 1 when no test runs were found")
	fl.IntVar(&f.concurrency, "concurrency", 0, "payloads in flight at once (default: settings.concurrency, else 4)")
	fl.BoolVar(&f.skipErrors, "skip-errors", false, "ask Octane to skip unresolvable references instead of failing the payload (settings.skip_errors)")
	fl.IntVar(&f.maxRuns, "max-runs-per-payload", 0, "test runs per test-results request (default: settings.max_runs_per_payload, else 5000)")
	fl.IntVar(&f.retries, "retries", 0, "attempts per request when Octane fails temporarily, with back-off (default 8, about a minute and a half in all)")
}

// parse checks the flag values and the paths named (a mistyped one is a usage error).
func (f *importFlags) parse(paths []string) error {
	if err := pathsExist(paths); err != nil {
		return err
	}
	var err error
	if f.sinceT, err = parseTime(f.since); err != nil {
		return usageErr("--since: %v", err)
	}
	if f.untilT, err = parseTime(f.until); err != nil {
		return usageErr("--until: %v", err)
	}
	if !f.sinceT.IsZero() && !f.untilT.IsZero() && !f.untilT.After(f.sinceT) {
		return usageErr("--until (%s) must be after --since (%s)", f.until, f.since)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)", s)
}

func (a *app) scanCommand() *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "scan [flags] [PATH...]",
		Short: "Import the reports and manifests under PATHs (or the configured sources) once",
		Long: `scan makes one pass: discover, read, map, group into builds, record in the ledger, submit,
report, exit. Run it as a post-build step on one build's folder, or as a backfill over years
of history: files already imported are skipped (the ledger remembers them), a crash or an
interrupted run resumes where it stopped, and nothing is sent twice.`,
		Example: `  octane-import scan --sandbox testdata/builds
  octane-import scan --dry-run /drops
  octane-import scan --since 2026-01-01 --output json /drops > import.jsonl
  octane-import scan --config ci.yaml --fail-on-no-tests build/test-results`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.parse(args); err != nil {
				return err
			}
			return a.runImport(cmd.Context(), &f, func(ctx context.Context, im *importer.Importer) (*importer.Summary, error) {
				return im.Scan(ctx, args)
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

// session is what one importing command sets up and tears down: configuration, ledger,
// clients (or the sandbox).
type session struct {
	cfg     *mapping.Config
	ledger  *ledger.Ledger
	sandbox *sandbox.Server
	mu      sync.Mutex
	clients map[string]*octane.Client
	tmpDir  string
}

func (a *app) openSession(f *importFlags) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, clients: map[string]*octane.Client{}}
	path := a.ledgerPath(cfg)
	if f.sandbox && a.statePath == "" && cfg.Settings.State == "" {
		// The in-process sandbox forgets everything when the command ends; so does its ledger,
		// or a second run would skip files the new sandbox never saw.
		dir, err := os.MkdirTemp("", "octane-import-sandbox-")
		if err != nil {
			return nil, err
		}
		s.tmpDir = dir
		path = filepath.Join(dir, "ledger.db")
	}
	s.ledger, err = ledger.Open(path, ledger.Options{ReadOnly: f.dryRun})
	if err != nil {
		s.close()
		if errors.Is(err, ledger.ErrLocked) {
			return nil, &exitError{code: exitUsage, err: err}
		}
		return nil, err
	}
	if f.sandbox && !f.dryRun {
		s.sandbox, err = sandbox.Start(sandbox.Options{Logger: a.logger})
		if err != nil {
			s.close()
			return nil, err
		}
		a.logger.Info("sandbox Octane started", "url", s.sandbox.URL())
	}
	return s, nil
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range s.clients {
		_ = c.Close(ctx)
	}
	if s.ledger != nil {
		s.ledger.Close()
	}
	if s.sandbox != nil {
		s.sandbox.Close()
	}
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

// client returns the Octane client of a target, made on first use.
func (a *app) client(s *session, f *importFlags, target string) (importer.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[target]; ok {
		return c, nil
	}
	cfg := octane.Config{Logger: a.logger}
	if s.sandbox != nil {
		opts := s.sandbox.Options()
		cfg.URL, cfg.SharedSpace, cfg.Workspace = s.sandbox.URL(), opts.SharedSpace, opts.Workspace
		cfg.ClientID, cfg.ClientSecret = opts.Credentials[0].ID, opts.Credentials[0].Secret
		cfg.Poll = octane.PollPolicy{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond} // it is local
		cfg.RateLimit = -1                                                                    // and needs no pacing
	} else {
		t, ok := s.cfg.Target(target)
		if !ok {
			return nil, fmt.Errorf("no target named %q in the configuration", target)
		}
		cfg.URL, cfg.SharedSpace, cfg.Workspace = t.URL, t.SharedSpace, t.Workspace
		cfg.ClientID, cfg.ClientSecret, cfg.User, cfg.Password = t.ClientID, t.ClientSecret, t.User, t.Password
		cfg.Proxy, cfg.NoProxy, cfg.CAFile, cfg.Insecure = t.Proxy, t.NoProxy, t.CAFile, t.Insecure
		cfg.ApplyEnv(a.env) // OCTANE_URL, OCTANE_CLIENT_ID ... fill what the configuration leaves empty
		if cfg.URL == "" {
			return nil, fmt.Errorf("target %q has no url: write one in the configuration, set OCTANE_URL (with OCTANE_SHARED_SPACE, OCTANE_WORKSPACE, OCTANE_CLIENT_ID, OCTANE_CLIENT_SECRET), or try --sandbox", target)
		}
	}
	if f.retries > 0 {
		cfg.Retry.MaxAttempts = f.retries
	}
	if r := s.cfg.Settings.RateLimit; r > 0 {
		cfg.RateLimit = r
	}
	if n := concurrency(f, s.cfg); n > 0 {
		cfg.Concurrency = n
	}
	c, err := octane.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	s.clients[target] = c
	return c, nil
}

// checkTargets makes the client of every target before anything is read, so that a target
// that cannot work (no url, no credentials, a bad CA file) is a configuration error at once.
func (a *app) checkTargets(s *session, f *importFlags) error {
	for _, t := range s.cfg.Targets {
		if _, err := a.client(s, f, t.Name); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	return nil
}

func concurrency(f *importFlags, cfg *mapping.Config) int {
	if f.concurrency > 0 {
		return f.concurrency
	}
	return cfg.Settings.Concurrency
}

// importerFor builds the importer of one command run.
func (a *app) importerFor(s *session, f *importFlags, rep importer.Reporter) (*importer.Importer, error) {
	maxRuns := f.maxRuns
	if maxRuns == 0 {
		maxRuns = s.cfg.Settings.MaxRunsPerPayload
	}
	return importer.New(importer.Options{
		Config: s.cfg,
		Ledger: s.ledger,
		Client: func(target string) (importer.Client, error) {
			return a.client(s, f, target)
		},
		DryRun:            f.dryRun,
		Since:             f.sinceT,
		Until:             f.untilT,
		Senders:           concurrency(f, s.cfg),
		MaxRunsPerPayload: maxRuns,
		MaxPayloadBytes:   s.cfg.Settings.MaxPayloadBytes,
		SkipErrors:        f.skipErrors || s.cfg.Settings.SkipErrors,
		Logger:            a.logger,
		Reporter:          rep,
		Env:               a.env,
	})
}

// runImport is scan and retry: set up, run, print, choose the exit status.
func (a *app) runImport(ctx context.Context, f *importFlags, do func(context.Context, *importer.Importer) (*importer.Summary, error)) error {
	s, err := a.openSession(f)
	if err != nil {
		return err
	}
	defer s.close()
	if !f.dryRun {
		if err := a.checkTargets(s, f); err != nil {
			return err
		}
	}
	out := a.newPrinter()
	im, err := a.importerFor(s, f, out)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	sum, err := do(ctx, im)
	err = importOutcome(ctx, f, sum, err)
	out.finish(sum, s, exitStatus(err))
	return err
}

// importOutcome turns what an importing command did into the error that decides its exit
// status (nil: 0). The process and the JSON summary both take the status from it.
func importOutcome(ctx context.Context, f *importFlags, sum *importer.Summary, err error) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return &exitError{code: exitSignals, err: errors.New("interrupted; the ledger keeps what was done, run the same command again to go on")}
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	case sum.Failures() > 0 || len(sum.Errors) > 0:
		return &exitError{code: exitFailed}
	case f.failNoTests && sum.Runs.Total() == 0 && sum.Outcomes[importer.Unchanged] == 0:
		return &exitError{code: exitFailed, err: errors.New("no test runs found (--fail-on-no-tests)")}
	}
	return nil
}

// pathsExist makes a mistyped path a usage error (exit 2), not a failed import.
func pathsExist(paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return usageErr("%v", err)
		}
	}
	return nil
}
