package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer/ledger"
)

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
		Long: `status reads the ledger (--state, else settings.state, else octane-import.state beside the
configuration) and prints how many files, payloads and builds are in each state, the test
runs imported, what stays queued for the next run, and every file that did not make it with
the reason. It sends nothing. With --output json, one object (also served by a running
watcher at /status on its --health-listen address).`,
		Example: `  octane-import status
  octane-import status --state /var/lib/octane-import/ledger.db --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			path := config.LedgerPath(cfg, config.Overrides{State: a.statePath})
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
				fmt.Fprintf(a.stdout, "%s queued: the next scan (or retry) sends %s.\n", plural(n, "payload"), map[bool]string{true: "it", false: "them"}[n == 1])
			}
			if len(bad) > 0 {
				fmt.Fprintf(a.stdout, "\n%s did not make it (fix the cause, then `octane-import retry`):\n", plural(len(bad), "file"))
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
