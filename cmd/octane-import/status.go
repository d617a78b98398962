package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer/ledger"
)

// statusJSON is `status --output json`, and watch's /status.
type statusJSON struct {
	Ledger string `json:"ledger"`
	ledger.Summary
	Failed    []ledger.File     `json:"failed"`
	Instances []ledger.Instance `json:"instances"` // the processes working on the ledger now
	Through   *ledger.Holder    `json:"through,omitempty"`
}

// ledgerStatus reads what status reports: the counts, the files that did not make it
// (and, with all, those not yet settled), and the instances working on the ledger.
func ledgerStatus(ctx context.Context, l ledger.View, all bool) (statusJSON, error) {
	sum, err := l.Summarize()
	if err != nil {
		return statusJSON{}, err
	}
	st := statusJSON{Ledger: l.Path(), Summary: sum, Failed: []ledger.File{}, Through: l.Through()}
	states := []ledger.FileState{ledger.Failed, ledger.Unmatched}
	if all {
		states = append(states, ledger.Seen, ledger.Parsed, ledger.Sent)
	}
	err = l.FilesIn(states, func(f ledger.File) bool {
		st.Failed = append(st.Failed, f)
		return true
	})
	if err != nil {
		return st, err
	}
	st.Instances, err = l.Instances(ctx)
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
			if _, err := os.Stat(path); err != nil && !ledger.IsURL(path) {
				return &exitError{code: exitUsage, err: fmt.Errorf("no ledger at %s (nothing imported with it yet; --state names another)", path)}
			}
			// A ledger another process holds (a scan, a watch) is read through that process.
			l, err := ledger.OpenView(path)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer l.Close()
			st, err := ledgerStatus(cmd.Context(), l, all)
			if err != nil {
				return err
			}
			sum, bad := st.Summary, st.Failed
			if a.jsonOutput() {
				return json.NewEncoder(a.stdout).Encode(st)
			}
			fmt.Fprintf(a.stdout, "Ledger %s\n", l.Path())
			if h := st.Through; h != nil {
				fmt.Fprintf(a.stdout, "In use by pid %d on %s (%s) since %s: read through it.\n", h.PID, h.Host, strings.Join(h.Command, " "), h.Since.Local().Format(time.DateTime))
			}
			if len(st.Instances) > 1 || (len(st.Instances) == 1 && ledger.IsURL(path)) {
				fmt.Fprintf(a.stdout, "%s working on it:\n", capital(plural(len(st.Instances), "instance")))
				for _, in := range st.Instances {
					fmt.Fprintf(a.stdout, "  %s pid %d, %s, since %s, last seen %s, %d in flight\n", in.Host, in.PID, cmp.Or(in.Version, "-"),
						in.Started.Local().Format(time.DateTime), in.LastSeen.Local().Format(time.TimeOnly), in.InFlight)
				}
			}
			fmt.Fprintln(a.stdout)
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
			// With --all the list also holds the files not yet settled: those are on their way,
			// not to be retried, and said apart.
			var unsettled []ledger.File
			bad = slices.DeleteFunc(bad, func(f ledger.File) bool {
				if f.State == ledger.Failed || f.State == ledger.Unmatched {
					return false
				}
				unsettled = append(unsettled, f)
				return true
			})
			if len(bad) > 0 {
				fmt.Fprintf(a.stdout, "\n%s did not make it (fix the cause, then `octane-import retry`):\n", plural(len(bad), "file"))
				for _, f := range bad {
					fmt.Fprintf(a.stdout, "  %s: %s: %s\n", f.State, f.Path, f.Error)
				}
			}
			if len(unsettled) > 0 {
				fmt.Fprintf(a.stdout, "\n%s not yet settled (the next scan, or the running watch, goes on with them):\n", plural(len(unsettled), "file"))
				for _, f := range unsettled {
					fmt.Fprintf(a.stdout, "  %s: %s\n", f.State, f.Path)
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
