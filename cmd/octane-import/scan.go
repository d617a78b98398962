package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer"
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
	paths          []string // the paths named that exist
	missing        []error  // the paths named that do not
}

// register adds the flags; once (scan, retry) adds those of a run that ends: --dry-run and
// --fail-on-no-tests.
func (f *importFlags) register(cmd *cobra.Command, once bool) {
	fl := cmd.Flags()
	if once {
		fl.BoolVar(&f.dryRun, "dry-run", false, "read and map everything and print the plan; send nothing, write nothing")
		fl.BoolVar(&f.failNoTests, "fail-on-no-tests", false, "exit 1 when no test runs were found")
	}
	fl.BoolVar(&f.sandbox, "sandbox", false, "send to an in-process stand-in Octane instead of the configured targets (nothing leaves the machine)")
	fl.StringVar(&f.since, "since", "", "only builds that started at or after this time (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&f.until, "until", "", "only builds that started before this time (RFC 3339 or YYYY-MM-DD)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "payloads in flight at once (default: settings.concurrency, else 4)")
	fl.BoolVar(&f.skipErrors, "skip-errors", false, "ask Octane to skip unresolvable references instead of failing the payload (settings.skip_errors)")
	fl.IntVar(&f.maxRuns, "max-runs-per-payload", 0, "test runs per test-results request (default: settings.max_runs_per_payload, else 5000)")
	fl.IntVar(&f.retries, "retries", 0, "attempts per request when Octane fails temporarily, with back-off (default 8, about a minute and a half in all)")
}

// parse checks the flag values and the paths named. A missing path is said at once and
// left out (the run then exits 1); when every path named is missing, it is a usage error.
func (f *importFlags) parse(paths []string) error {
	var err error
	if f.paths, f.missing, err = existing(paths); err != nil {
		return err
	}
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
			return a.runImport(cmd.Context(), &importOptions{flags: &f})
		},
	}
	f.register(cmd, true)
	return cmd
}

// importOptions are what scan and retry run with.
type importOptions struct {
	flags *importFlags // with the paths named
	retry bool         // retry instead of scan
}

// overrides are the flags (and OCTANE_IMPORT_* variables) that config.Resolve weighs
// against the file's settings.
func (a *app) overrides(f *importFlags) config.Overrides {
	return config.Overrides{
		State: a.statePath, Concurrency: f.concurrency, MaxRuns: f.maxRuns, Retries: f.retries,
		SkipErrors: f.skipErrors, DryRun: f.dryRun, Since: f.sinceT, Until: f.untilT,
		Env: a.env, Logger: a.logger,
	}
}

// openRun loads the configuration, resolves the command line against it, starts the
// in-process sandbox when asked, and opens the importer (ledger, clients). stop releases
// all of it.
func (a *app) openRun(ctx context.Context, f *importFlags, o config.Overrides, rep importer.Reporter) (im *importer.Importer, sb *sandbox.Server, run *config.Run, stop func(), err error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if f.sandbox && !f.dryRun {
		sb, err = sandbox.Start(sandbox.Options{Logger: a.logger})
		if err != nil {
			return nil, nil, nil, nil, err
		}
		a.logger.Info("sandbox Octane started", "url", sb.URL())
		so := sb.Options()
		o.Sandbox = &config.Sandbox{URL: sb.URL(), SharedSpace: so.SharedSpace, Workspace: so.Workspace,
			ClientID: so.Credentials[0].ID, ClientSecret: so.Credentials[0].Secret}
	} else if f.sandbox {
		o.Sandbox = &config.Sandbox{} // a dry run starts nothing, and keeps no ledger
	}
	run = config.Resolve(cfg, o)
	if len(run.Unusable) > 0 && !f.dryRun {
		if sb != nil {
			sb.Close()
		}
		return nil, nil, nil, nil, &exitError{code: exitUsage, err: errors.Join(run.Unusable...)}
	}
	run.Importer.Reporter = rep
	run.Importer.Version = versionString()
	im, err = importer.Open(ctx, run.Importer, run.Ledger, run.Targets)
	if err != nil {
		if sb != nil {
			sb.Close()
		}
		// A target that cannot work, a ledger another process holds, or one that cannot be
		// opened (a wrong URL or password, a database down or with a newer schema: the
		// database's own message, the password masked) stops the command before anything is
		// read or sent: exit 2 (interrupted meanwhile: 130, as execute decides).
		if !errors.As(err, new(*exitError)) && ctx.Err() == nil {
			err = &exitError{code: exitUsage, err: err}
		}
		return nil, nil, nil, nil, err
	}
	return im, sb, run, func() {
		im.Close()
		if sb != nil {
			sb.Close()
		}
	}, nil
}

// runImport is scan and retry: open the run, import, print, decide the exit status.
func (a *app) runImport(ctx context.Context, o *importOptions) error {
	out := a.newPrinter()
	ov := a.overrides(o.flags)
	ov.FailFast = true // a target down at the start: fail within seconds, the work stays queued
	im, sb, _, stop, err := a.openRun(ctx, o.flags, ov, out)
	if err != nil {
		return err
	}
	defer stop()
	a.sayMissing(o.flags.missing)
	var sum *importer.Summary
	if o.retry {
		sum, err = im.Retry(ctx, o.flags.paths)
	} else {
		sum, err = im.Scan(ctx, o.flags.paths)
	}
	for _, m := range o.flags.missing {
		sum.Errors = append(sum.Errors, m.Error()) // exit 1: a path named was not imported
	}
	err = importOutcome(ctx, o.flags, sum, err)
	out.finish(sum, sb, exitStatus(err))
	return err
}

// existing splits the paths named into those that exist and the errors of those that do
// not. None existing (of some named) is a usage error: there is nothing to do.
func existing(paths []string) (ok []string, missing []error, err error) {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, err)
			continue
		}
		ok = append(ok, p)
	}
	if len(paths) > 0 && len(ok) == 0 {
		return nil, missing, usageErr("%v", errors.Join(missing...))
	}
	return ok, missing, nil
}

// sayMissing reports the missing paths once, before the run.
func (a *app) sayMissing(missing []error) {
	for _, err := range missing {
		fmt.Fprintln(a.stderr, "octane-import:", err)
	}
}

// importOutcome turns what an importing command did into the error that decides its exit
// status (nil: 0). The process and the JSON summary both take the status from it.
func importOutcome(ctx context.Context, f *importFlags, sum *importer.Summary, err error) error {
	var refused *importer.TargetRefusedError
	switch {
	case errors.As(err, &refused):
		return &exitError{code: exitUsage, err: err}
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

func (a *app) retryCommand() *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "retry [flags] [PATH...]",
		Short: "Import again the files the ledger holds as failed or unmatched (all, or those under PATHs)",
		Long: `retry reads again every file the ledger records as failed or unmatched, after you fixed the
cause (the file, the configuration, a release missing in Octane), and sends it. Builds that
Octane refused are reported again. Files that import now leave the failed list.`,
		Example: `  octane-import status
  octane-import retry
  octane-import retry /drops/payments`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.parse(args); err != nil {
				return err
			}
			return a.runImport(cmd.Context(), &importOptions{flags: &f, retry: true})
		},
	}
	f.register(cmd, true)
	return cmd
}
