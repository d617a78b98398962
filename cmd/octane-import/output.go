package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/sandbox"
)

// printer shows a scan as it runs and its summary at the end. Data (per-file JSON objects,
// the plan, the summary table) go to stdout; failures, progress and logs go to stderr.
type printer struct {
	a        *app
	json     *json.Encoder
	tty      bool // progress bar on stderr
	bar      *progressbar.ProgressBar
	phase    string
	lastLine time.Time
}

func (a *app) newPrinter() *printer {
	p := &printer{a: a}
	if a.jsonOutput() {
		p.json = json.NewEncoder(a.stdout)
	}
	p.tty = a.stderrTTY && !a.quiet
	return p
}

// newBar starts a progress bar (counts, rate and time left) for one phase.
func (p *printer) newBar(max int, what, unit string) {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	p.bar = progressbar.NewOptions(max,
		progressbar.OptionSetWriter(p.a.errw.raw),
		progressbar.OptionSetDescription(what+" ("+unit+")"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionEnableColorCodes(!p.a.noColor),
	)
	// A line written to stderr (a log line, a failed file) clears the bar first, so that
	// the two never share a line; the bar redraws on its next update.
	bar := p.bar
	p.a.errw.setBefore(func() { _ = bar.Clear() })
}

// File implements importer.Reporter.
func (p *printer) File(r importer.FileResult) {
	if p.json != nil {
		_ = p.json.Encode(fileJSON{Type: "file", FileResult: r})
		return
	}
	switch r.Outcome {
	case importer.Failed, importer.Unmatched:
		msg := string(r.Outcome)
		if r.Error != nil {
			msg = r.Error.Message
		}
		if strings.HasPrefix(msg, r.Path) {
			fmt.Fprintf(p.a.stderr, "%s: %s\n", r.Outcome, msg) // the message names the file (and line) already
		} else {
			fmt.Fprintf(p.a.stderr, "%s: %s: %s\n", r.Outcome, r.Path, msg)
		}
	default:
		if p.a.verbose > 0 {
			line := fmt.Sprintf("%s: %s", r.Outcome, r.Path)
			if r.Build != nil {
				line += "  → " + r.Build.String()
			}
			if r.Runs.Total() > 0 {
				line += fmt.Sprintf("  (%d passed, %d failed, %d skipped)", r.Runs.Passed, r.Runs.Failed, r.Runs.Skipped)
			}
			fmt.Fprintln(p.a.stderr, line)
		}
	}
	if p.a.verbose > 0 {
		for _, w := range r.Warnings {
			if w.Line > 0 {
				fmt.Fprintf(p.a.stderr, "  warning: %s:%d: %s\n", r.Path, w.Line, w.Message)
			} else {
				fmt.Fprintf(p.a.stderr, "  warning: %s: %s\n", r.Path, w.Message)
			}
		}
	}
}

type fileJSON struct {
	Type string `json:"type"`
	importer.FileResult
}

// Progress implements importer.Reporter.
func (p *printer) Progress(pr importer.Progress) {
	if p.tty {
		if pr.Phase != p.phase {
			p.phase = pr.Phase
			if pr.Phase == "sending" {
				p.newBar(pr.PayloadsTotal, "sending", "builds and payloads")
			} else {
				p.newBar(pr.FilesTotal, pr.Phase, "files")
				_ = p.bar.Set(pr.FilesDone)
			}
		}
		if pr.Phase == "sending" {
			_ = p.bar.Set(pr.PayloadsDone)
		} else {
			_ = p.bar.Set(pr.FilesDone)
		}
		return
	}
	if p.a.quiet || p.json != nil && p.a.verbose == 0 {
		return
	}
	// Plain lines, when stderr is not a terminal: only for runs long enough to need them.
	if pr.Elapsed < 10*time.Second || time.Since(p.lastLine) < 10*time.Second {
		return
	}
	p.lastLine = time.Now()
	p.a.logger.Info("progress", "phase", pr.Phase, "files", pr.FilesDone, "of", pr.FilesTotal, "runs", pr.Runs,
		"payloads", pr.PayloadsDone, "payloads_total", pr.PayloadsTotal, "elapsed", pr.Elapsed.Round(time.Second))
}

// finish prints the summary (and the plan of a dry run); exit is the process's exit status.
func (p *printer) finish(sum *importer.Summary, sb *sandbox.Server, exit int) {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.a.errw.setBefore(nil)
	}
	if sum == nil {
		return
	}
	for _, e := range sum.Errors {
		fmt.Fprintln(p.a.stderr, "error:", e)
	}
	for _, wn := range sum.Warnings {
		fmt.Fprintln(p.a.stderr, "warning:", wn)
	}
	if p.json != nil {
		_ = p.json.Encode(summaryJSON{Type: "summary", Summary: sum, Builds: sum.SortedBuilds(), Exit: exit})
		return
	}
	if p.a.quiet && exit == exitOK {
		return // -q: silence when all went well
	}
	w := p.a.stdout
	if sum.Plan != nil {
		writePlan(w, sum.Plan, p.a.verbose > 0)
	} else {
		writeBuilds(w, sum.SortedBuilds(), p.a.verbose > 0)
	}
	if p.a.builtIn != "" {
		fmt.Fprintln(w, p.a.builtIn)
	}
	writeTotals(w, sum)
	if sum.Adjusted > 0 && p.a.verbose == 0 && !p.a.quiet {
		fmt.Fprintf(p.a.stderr, "%s read with adjustments (-v lists them)\n", plural(sum.Adjusted, "file"))
	}
	if sb != nil {
		fmt.Fprintf(w, "\nSandbox Octane now holds %s, %s, %s, %s (it stops with this command; `octane-import sandbox` keeps one running).\n",
			plural(len(sb.Servers()), "CI server"), plural(len(sb.Pipelines()), "pipeline"), plural(len(sb.Builds()), "build"), plural(len(sb.Runs()), "test run"))
	}
}

type summaryJSON struct {
	Type string `json:"type"`
	*importer.Summary
	Builds []*importer.BuildN `json:"builds"`
	Exit   int                `json:"exit_code"`
}

// tableEnds is how many builds the summary shows at each end of a long table (all with -v).
const tableEnds = 10

func writeBuilds(w io.Writer, builds []*importer.BuildN, all bool) {
	if len(builds) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tPIPELINE\tSTARTED\tRESULT\tFILES\tPASSED\tFAILED\tSKIPPED\tSTATE")
	for i, b := range builds {
		if !all && len(builds) > 2*tableEnds+1 && i >= tableEnds && i < len(builds)-tableEnds {
			if i == tableEnds {
				fmt.Fprintf(tw, "(%d more)\t\t\t\t\t\t\t\t\n", len(builds)-2*tableEnds)
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", b.ID, b.Pipeline, fmtTime(b.Start), b.Result,
			b.Files, b.Runs.Passed, b.Runs.Failed, b.Runs.Skipped, orDash(b.State))
	}
	tw.Flush()
	if !all && len(builds) > 2*tableEnds+1 {
		fmt.Fprintf(w, "(%d builds in all; -v or --output json lists every one)\n", len(builds))
	}
	fmt.Fprintln(w)
}

func writePlan(w io.Writer, plan *importer.Plan, all bool) {
	fmt.Fprintln(w, "Dry run: nothing was sent. The plan:")
	for _, t := range plan.Targets {
		fmt.Fprintf(w, "\nTarget %s: %s, %s in %s, about %s\n",
			t.Target, plural(len(t.Builds), "build"), plural(t.Runs.Total(), "test run"), plural(t.Payloads, "test-results payload"), plural(t.Requests, "request"))
		for _, s := range t.Servers {
			fmt.Fprintf(w, "  CI server %s (%s", s.InstanceID, s.Name)
			if s.Type != "" {
				fmt.Fprintf(w, ", %s", s.Type)
			}
			fmt.Fprintln(w, ")")
		}
		for _, pp := range t.Pipelines {
			fmt.Fprintf(w, "  pipeline %q on %s, jobs: %s\n", pp.Name, pp.Server, strings.Join(pp.Jobs, ", "))
		}
		fmt.Fprintln(w)
		writeBuilds(w, t.Builds, all)
	}
}

func writeTotals(w io.Writer, sum *importer.Summary) {
	var parts []string
	for _, o := range []importer.Outcome{importer.Imported, importer.Planned, importer.Unchanged, importer.Empty,
		importer.Skipped, importer.Queued, importer.Unmatched, importer.Failed} {
		if n := sum.Outcomes[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) == 0 {
		var where []string
		for _, s := range sum.Searched {
			where = append(where, fmt.Sprintf("%s (patterns: %s)", s.Path, strings.Join(s.Patterns, ", ")))
		}
		fmt.Fprintf(w, "No reports found under %s. Nothing was imported; --fail-on-no-tests makes that an error (exit 1).\n",
			strings.Join(where, ", "))
		return
	}
	fmt.Fprintf(w, "Files: %s.\n", strings.Join(parts, ", "))
	flaky := ""
	if sum.Flaky > 0 {
		flaky = fmt.Sprintf(" (%d flaky: passed on a rerun)", sum.Flaky)
	}
	fmt.Fprintf(w, "Test runs: %d passed%s, %d failed, %d skipped in %s", sum.Runs.Passed, flaky, sum.Runs.Failed, sum.Runs.Skipped, plural(sum.Builds, "build"))
	if sum.Payloads > 0 || sum.Sent > 0 || sum.Requests > 0 {
		fmt.Fprintf(w, "; %s written, %d sent, %s", plural(sum.Payloads, "test-results payload"), sum.Sent, plural(sum.Requests, "request"))
	}
	fmt.Fprintf(w, "; %s.\n", sum.Elapsed.Round(time.Millisecond))
	if sum.Queued > 0 || sum.Unanswered > 0 {
		var left []string
		if sum.Queued > 0 {
			left = append(left, plural(sum.Queued, "payload")+" not yet sent")
		}
		if sum.Unanswered > 0 {
			left = append(left, plural(sum.Unanswered, "payload")+" sent and not yet answered by Octane")
		}
		what := "Left"
		if sum.Interrupt {
			what = "Interrupted"
		}
		fmt.Fprintf(w, "%s: %s stay in the ledger; the same command run again finishes them, sending nothing twice.\n", what, strings.Join(left, " and "))
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
