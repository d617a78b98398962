package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/sandbox"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check the configuration file and print every problem in it",
		Long: `validate reads the configuration file and reports every problem at once, each with its line
and column: unknown keys, bad patterns, templates naming captures their rule does not have,
rules that can never match, missing secrets. Exit 0 when the file is good, 2 when not.`,
		Example: `  octane-import validate --config /etc/octane-import/octane-import.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Path == "" {
				fmt.Fprintf(a.stdout, "no configuration file at %s: the built-in default rule applies (job and build from the folders)\n", a.configPath)
				return nil
			}
			fmt.Fprintf(a.stdout, "%s: ok (%d targets, %d sources, %d rules)\n", cfg.Path, len(cfg.Targets), len(cfg.Sources), len(cfg.Rules))
			return nil
		},
	}
}

// statusJSON is `status --output json`, and watch's /status.
type statusJSON struct {
	Ledger string `json:"ledger"`
	ledger.Summary
	Failed []ledger.File `json:"failed"`
}

// ledgerStatus reads what status reports: the counts, and the files that did not make it
// (and, with all, those not yet settled).
func ledgerStatus(l *ledger.Ledger, all bool) (statusJSON, error) {
	sum, err := l.Summarize()
	if err != nil {
		return statusJSON{}, err
	}
	st := statusJSON{Ledger: l.Path(), Summary: sum, Failed: []ledger.File{}}
	err = l.Files(func(f ledger.File) bool {
		if f.State == ledger.Failed || f.State == ledger.Unmatched || (all && !f.State.Terminal()) {
			st.Failed = append(st.Failed, f)
		}
		return true
	})
	return st, err
}

func (a *app) statusCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print what the ledger holds: files by state, queued payloads, the failed files and why",
		Example: `  octane-import status
  octane-import status --state /var/lib/octane-import/ledger.db --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			path := a.ledgerPath(cfg)
			if _, err := os.Stat(path); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("no ledger at %s (nothing imported with it yet; --state names another)", path)}
			}
			l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
			if errors.Is(err, ledger.ErrLocked) {
				err = fmt.Errorf("%w (a running watch holds it: its --health-listen address serves the same report at /status)", err)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer l.Close()
			st, err := ledgerStatus(l, all)
			if err != nil {
				return err
			}
			sum, bad := st.Summary, st.Failed
			if a.jsonOutput() {
				return json.NewEncoder(a.stdout).Encode(st)
			}
			fmt.Fprintf(a.stdout, "Ledger %s\n\n", l.Path())
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "FILES\tCOUNT")
			for _, k := range sortedKeys(sum.Files) {
				fmt.Fprintf(tw, "%s\t%d\n", k, sum.Files[ledger.FileState(k)])
			}
			fmt.Fprintln(tw, "\nPAYLOADS\tCOUNT")
			for _, k := range sortedKeys(sum.Payloads) {
				fmt.Fprintf(tw, "%s\t%d\n", k, sum.Payloads[ledger.PayloadState(k)])
			}
			fmt.Fprintln(tw, "\nBUILDS\tCOUNT")
			for _, k := range sortedKeys(sum.Builds) {
				fmt.Fprintf(tw, "%s\t%d\n", k, sum.Builds[ledger.BuildState(k)])
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "\nTest runs imported: %d passed, %d failed, %d skipped.\n", sum.Runs.Passed, sum.Runs.Failed, sum.Runs.Skipped)
			if n := sum.Payloads[ledger.Pending] + sum.Payloads[ledger.PayloadSent]; n > 0 {
				fmt.Fprintf(a.stdout, "%d payloads are queued: the next scan (or retry) sends them.\n", n)
			}
			if len(bad) > 0 {
				fmt.Fprintf(a.stdout, "\n%d files did not make it (fix the cause, then `octane-import retry`):\n", len(bad))
				for _, f := range bad {
					fmt.Fprintf(a.stdout, "  %s: %s: %s\n", f.State, f.Path, f.Error)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list files not yet settled (parsed, sent)")
	return cmd
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
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
			return a.runImport(cmd.Context(), &f, func(ctx context.Context, im *importer.Importer) (*importer.Summary, error) {
				return im.Retry(ctx, args)
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func (a *app) sandboxCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "sandbox [--listen ADDR]",
		Short: "Serve a stand-in Octane (API and a read-only web page) to point the importer at",
		Long: `sandbox serves the same strict stand-in Octane that --sandbox runs in-process, as a server that
keeps running: point a configuration at it, import, and look at the servers, pipelines, builds
and test runs in a browser. It keeps everything in memory and forgets it when it stops.`,
		Example: `  octane-import sandbox --listen 127.0.0.1:8080
  # then, in a configuration file:
  #   targets:
  #     - name: sandbox
  #       url: http://127.0.0.1:8080
  #       shared_space: "1001"
  #       workspace: "1002"
  #       client_id: sandbox-client
  #       client_secret: ${env:OCTANE_CLIENT_SECRET}   # sandbox-secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := sandbox.Options{Logger: a.logger}
			srv := sandbox.New(opts)
			o := srv.Options()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			url := "http://" + ln.Addr().String()
			fmt.Fprintf(a.stdout, "Sandbox Octane listening on %s\n  shared space %s, workspace %s, API key %s / %s\n  open %s/ in a browser to see what it holds; Ctrl-C stops it.\n",
				url, o.SharedSpace, o.Workspace, o.Credentials[0].ID, o.Credentials[0].Secret, url)
			hs := &http.Server{Handler: srv}
			go func() {
				<-cmd.Context().Done()
				hs.Close()
			}()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	return cmd
}
