package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/octane-import/octane-import/config"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // some files failed
	exitUsage   = 2 // usage or configuration error
	exitSignals = 130
)

// exitError carries an exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// Version information, set at build time with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = ""
	commit  = ""
	date    = ""
)

func versionString() string {
	v, c, d := version, commit, date
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.time":
				if d == "" {
					d = s.Value
				}
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	return fmt.Sprintf("octane-import %s (commit %s, built %s)", v, orDash(c), orDash(d))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// app holds what every command shares: the streams and the global flags.
type app struct {
	stdout, stderr io.Writer
	errw           *stderrWriter // stderr, which clears a progress bar before a line
	builtIn        string        // what the summary says when no configuration file was found
	stderrTTY      bool
	env            func(string) (string, bool)
	hostname       func() (string, error)

	configPath  string
	configSet   bool
	statePath   string
	output      string
	verbose     int
	quiet       bool
	logFormat   string
	noColor     bool
	cpuProfile  string
	stopProfile func()
	logger      *slog.Logger
}

func newApp(stdout, stderr io.Writer) *app {
	errw := &stderrWriter{raw: stderr}
	a := &app{stdout: stdout, stderr: errw, errw: errw, env: os.LookupEnv, hostname: os.Hostname}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	return a
}

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if a.stopProfile != nil {
		a.stopProfile()
	}
	if err != nil && ctx.Err() != nil && !errors.As(err, new(*exitError)) {
		err = &exitError{code: exitSignals, err: errors.New("interrupted")}
	}
	if err != nil && err.Error() != "" {
		fmt.Fprintln(a.stderr, "octane-import:", err)
	}
	return exitStatus(err)
}

// exitStatus is the one place an error becomes an exit status: 0 for none, an exitError's
// own code, and 2 for anything else (what cobra itself refuses: an unknown flag or command
// is a usage error). A JSON summary's exit_code is the same value.
func exitStatus(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "octane-import",
		Short: "Import JUnit reports and build manifests from disk into OpenText ALM Octane",
		Long: `octane-import takes CI results already written to disk (JUnit XML reports and YAML/JSON
build manifests) and puts them into OpenText ALM Octane as CI servers, pipelines, builds and
test runs. It never sends a result twice: an on-disk ledger (--state) remembers every file.

Every flag can also be set in the environment as OCTANE_IMPORT_<FLAG> (upper case, dashes
as underscores, e.g. OCTANE_IMPORT_STATE, OCTANE_IMPORT_MAX_RUNS_PER_PAYLOAD). Precedence:
flag, then environment, then the configuration file's settings, then the built-in default.
Octane credentials come from the configuration (by reference) or OCTANE_CLIENT_ID and
OCTANE_CLIENT_SECRET.

Exit status: 0 all files imported, 1 some files failed, 2 usage or configuration error,
130 interrupted (Ctrl-C).`,
		Example: `  # try it with no server: an in-process stand-in Octane
  octane-import scan --sandbox ./reports

  # see what a configuration does with your files before a backfill
  octane-import explain --config octane-import.yaml /drops/payments/unit/1042/TEST-a.xml
  octane-import scan --dry-run /drops

  # import for real, then look at the ledger
  octane-import scan /drops
  octane-import status`,
		Version:           versionString(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup(cmd)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "octane-import.yaml", "configuration file; when the default is absent, a built-in rule applies")
	pf.StringVar(&a.statePath, "state", "", "ledger: a file, or a postgres:// URL shared by several instances (default: settings.state, else octane-import.state next to the configuration)")
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	pf.CountVarP(&a.verbose, "verbose", "v", "more detail on stderr (repeat for debug)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "only errors on stderr")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format on stderr: text or json")
	pf.BoolVar(&a.noColor, "no-color", false, "no colour (also NO_COLOR)")
	pf.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance reports)")
	_ = pf.MarkHidden("cpuprofile")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("text", "json"))
	_ = root.RegisterFlagCompletionFunc("log-format", fixedCompletion("text", "json"))

	root.AddCommand(
		a.scanCommand(),
		a.watchCommand(),
		a.explainCommand(),
		a.validateCommand(),
		a.statusCommand(),
		a.retryCommand(),
		a.ledgerCommand(),
		a.sandboxCommand(),
	)
	return root
}

// setup applies environment defaults (OCTANE_IMPORT_*) under the flags and makes the logger.
// Precedence: flag, then environment, then configuration file, then built-in default.
func (a *app) setup(cmd *cobra.Command) error {
	// Every flag can come from the environment as OCTANE_IMPORT_<NAME> (dashes as
	// underscores): --max-runs-per-payload is OCTANE_IMPORT_MAX_RUNS_PER_PAYLOAD.
	flags := cmd.Flags()
	var envErr error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil || f.Name == "help" || f.Name == "version" {
			return
		}
		name := envName(f.Name)
		if v, ok := a.env(name); ok && v != "" {
			if err := flags.Set(f.Name, v); err != nil {
				envErr = usageErr("%s=%q: %v", name, v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	a.configSet = flags.Changed("config")
	if v, ok := a.env("NO_COLOR"); ok && v != "" { // no-color.org: set and not empty
		a.noColor = true
	}
	switch a.output {
	case "text", "json":
	default:
		return usageErr("--output must be text or json, not %q", a.output)
	}
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return usageErr("--cpuprofile: %v", err)
		}
		a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	return a.makeLogger()
}

// makeLogger makes the logger for the verbosity and format chosen.
func (a *app) makeLogger() error {
	level := slog.LevelWarn
	switch {
	case a.quiet:
		level = slog.LevelError
	case a.verbose == 1:
		level = slog.LevelInfo
	case a.verbose > 1:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch a.logFormat {
	case "text":
		a.logger = slog.New(slog.NewTextHandler(a.stderr, opts))
	case "json":
		a.logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
	default:
		return usageErr("--log-format must be text or json, not %q", a.logFormat)
	}
	return nil
}

// loadConfig reads the configuration file; with no file at the default path, the built-in
// configuration applies (said at info level). A file named explicitly must exist.
func (a *app) loadConfig() (*config.File, error) {
	cfg, err := config.Load(a.configPath, a.configSet, a.hostname, a.env)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if cfg.Path == "" {
		a.builtIn = builtInNote(a.configPath, cfg)
		a.logger.Info("no configuration file: the built-in rule applies", "looked_for", a.configPath, "rule", cfg.Rules[0].Name)
	}
	type at struct{ line, col int }
	unresolved := map[at]bool{} // said when a command connects (validate lists them)
	for _, t := range cfg.Targets {
		for _, p := range t.Unresolved {
			unresolved[at{p.Line, p.Column}] = true
		}
	}
	for _, w := range cfg.Warnings {
		if !unresolved[at{w.Line, w.Column}] {
			a.logger.Warn("configuration: " + w.String())
		}
	}
	return cfg, nil
}

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	return "OCTANE_IMPORT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (a *app) jsonOutput() bool { return strings.EqualFold(a.output, "json") }

// stderrWriter is stderr for everything but the progress bar: before a line (a log line, a
// failed file) it clears the bar, so that the two never share a line.
type stderrWriter struct {
	mu     sync.Mutex
	raw    io.Writer
	before func()
}

func (w *stderrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.before != nil {
		w.before()
	}
	return w.raw.Write(p)
}

// setBefore sets what runs before each line written (nil: nothing).
func (w *stderrWriter) setBefore(f func()) {
	w.mu.Lock()
	w.before = f
	w.mu.Unlock()
}

// fixedCompletion completes a flag with its only values (never file names).
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// builtInNote says which built-in rule applies when there is no configuration file.
func builtInNote(looked string, cfg *config.File) string {
	r := cfg.Rules[0]
	if r.CI != nil {
		return fmt.Sprintf("No configuration file (%s): the built-in rule %q applies: server %s, job %s, build %s, from %s's environment.",
			looked, r.Name, r.CI.Server.InstanceID, r.CI.Job, r.CI.Build, r.CI.System)
	}
	return fmt.Sprintf("No configuration file (%s): the built-in rule %q applies: the build is the report's folder (looking through %s), the job the folder above.",
		looked, r.Name, "surefire-reports, test-results, reports, junit ...")
}
