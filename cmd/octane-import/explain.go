package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/mapping"
)

func (a *app) explainCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "explain [--config FILE] [PATH...]",
		Short: "Show what the rules make of each report: rule, captures, target, server, pipeline, job, build, fields",
		Long: `explain maps every report under the PATHs exactly as scan would (the same discovery, the same
manifests, the same reading, the same decision) and prints, for each, the rule that matched
(by its line), the captured values and everything the report resolves to, with where each
value came from; then the builds as they will be reported. Nothing is recorded or sent. Run
it before a backfill. With no PATH, the configuration's sources. With --output json, one
JSON object per file, then a summary holding the builds.`,
		Example: `  octane-import explain /drops/payments/unit/1042
  octane-import explain --output json /drops | jq -r 'select(.type=="file") | .decision.build'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, missing, err := existing(args)
			if err != nil {
				return err
			}
			a.sayMissing(missing)
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			im, err := importer.New(importer.Options{Rules: cfg.Rules, Sources: cfg.Sources, DryRun: true, Logger: a.logger, Env: a.env})
			if err != nil {
				return err
			}
			failed, files := 0, 0
			enc := json.NewEncoder(a.stdout)
			res, err := im.Explain(cmd.Context(), args, func(ex importer.Explanation) {
				files++
				if ex.Err != nil {
					failed++
				}
				if a.jsonOutput() {
					_ = enc.Encode(newExplainJSON(ex))
					return
				}
				writeExplanation(a.stdout, ex)
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			var exit error
			switch {
			case failed > 0:
				exit = &exitError{code: exitFailed, err: fmt.Errorf("%d of %d files could not be mapped", failed, files)}
			case len(missing) > 0:
				exit = &exitError{code: exitFailed, err: fmt.Errorf("%s not found", plural(len(missing), "path"))}
			}
			if a.jsonOutput() {
				_ = enc.Encode(explainSummaryJSON{Type: "summary", Files: files, Failed: failed, Builds: res.Builds,
					Warnings: res.Warnings, Exit: exitStatus(exit)})
				return exit
			}
			writeExplainedBuilds(a.stdout, res.Builds)
			for _, w := range res.Warnings {
				fmt.Fprintln(a.stderr, "warning:", w)
			}
			return exit
		},
	}
}

// explainJSON is one file of `explain --output json`.
type explainJSON struct {
	Type      string             `json:"type"`
	Path      string             `json:"path"`
	Root      string             `json:"root,omitempty"`
	Matched   bool               `json:"matched"`
	Decision  *mapping.Decision  `json:"decision,omitempty"`
	Runs      *runsJSON          `json:"runs,omitempty"`
	Warnings  []importer.Warning `json:"warnings,omitempty"`
	Error     string             `json:"error,omitempty"`
	Unmatched bool               `json:"unmatched,omitempty"`
}

type runsJSON struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

func newExplainJSON(ex importer.Explanation) explainJSON {
	e := explainJSON{Type: "file", Path: ex.Path, Root: ex.Root, Decision: ex.Decision, Matched: ex.Decision != nil, Warnings: ex.Warnings}
	if ex.Decision != nil {
		e.Runs = &runsJSON{ex.Runs.Passed, ex.Runs.Failed, ex.Runs.Skipped}
	}
	if ex.Err != nil {
		e.Error = ex.Err.Error()
		e.Unmatched = errors.Is(ex.Err, mapping.ErrUnmatched)
	}
	return e
}

// explainSummaryJSON ends `explain --output json`: the builds as they will be reported.
type explainSummaryJSON struct {
	Type     string           `json:"type"`
	Files    int              `json:"files"`
	Failed   int              `json:"failed"`
	Builds   []*mapping.Build `json:"builds"`
	Warnings []string         `json:"warnings,omitempty"`
	Exit     int              `json:"exit_code"`
}

// writeExplanation writes the text form of explain for one file: the rule that matched
// (with its line), the captures, and everything the decision resolves to, with where each
// value came from.
func writeExplanation(w io.Writer, ex importer.Explanation) {
	var b strings.Builder
	b.WriteString(ex.Path)
	b.WriteString("\n")
	row := func(key, val string) {
		fmt.Fprintf(&b, "  %-14s %s\n", key+":", val)
	}
	d := ex.Decision
	if d == nil {
		switch {
		case errors.Is(ex.Err, mapping.ErrUnmatched):
			row("unmatched", "no rule matched (add a rule, or a rule without match as a catch-all default)")
			if rel, err := filepath.Rel(ex.Root, ex.Path); err == nil && ex.Root != "" {
				row("root", ex.Root)
				row("matched as", filepath.ToSlash(rel))
			}
		case ex.Err != nil:
			row("error", ex.Err.Error())
		default:
			row("error", "no decision")
		}
		b.WriteString("\n")
		_, _ = io.WriteString(w, b.String())
		return
	}
	rule := d.Rule
	if d.RuleLine > 0 {
		rule += fmt.Sprintf(" (line %d)", d.RuleLine)
	} else {
		rule += " (built in)"
	}
	row("rule", rule)
	row("root", d.Root)
	if len(d.Captures) > 0 {
		row("captures", pairs(d.Captures))
	}
	if d.Manifest != "" {
		row("manifest", d.Manifest)
	}
	row("target", d.Target)
	srv := quoteIfNeeded(d.Server.InstanceID)
	var extra []string
	if d.Server.Name != "" && d.Server.Name != d.Server.InstanceID {
		extra = append(extra, "name "+quoteIfNeeded(d.Server.Name))
	}
	if d.Server.Type != "" {
		extra = append(extra, "type "+d.Server.Type)
	}
	if d.Server.URL != "" {
		extra = append(extra, "url "+d.Server.URL)
	}
	if len(extra) > 0 {
		srv += " (" + strings.Join(extra, ", ") + ")"
	}
	row("server", srv+from(d, "server"))
	row("pipeline", quoteIfNeeded(d.Pipeline)+from(d, "pipeline"))
	if d.RootJob != d.Job {
		row("root job", idName(d.RootJob, d.RootJobName)+from(d, "root_job"))
	}
	row("job", idName(d.Job, d.JobName)+from(d, "job"))
	row("build", idName(d.Build, d.BuildName)+from(d, "build"))
	if !d.Start.IsZero() {
		start := d.Start.UTC().Format(time.RFC3339)
		if d.Zoneless {
			row("start", fmt.Sprintf("%s  [%s; zone-less, read as %s]", start, d.From["start"], d.Timezone))
		} else {
			row("start", start+from(d, "start"))
		}
	}
	if d.Duration > 0 {
		row("duration", d.Duration.String()+from(d, "duration"))
	}
	row("status", d.Status+from(d, "status"))
	switch {
	case d.Result == "":
		row("result", "derived from the runs (any Failed gives failure)")
	case d.From["result"] == "report":
		row("result", fmt.Sprintf("%s  [report: %s]", d.Result, plural(ex.Runs.Failed, "failed run")))
	default:
		row("result", d.Result+from(d, "result"))
	}
	if len(d.Parameters) > 0 {
		parts := make([]string, len(d.Parameters))
		for i, p := range d.Parameters {
			parts[i] = quoteIfNeeded(p.Name) + "=" + quoteIfNeeded(p.Value)
		}
		row("parameters", strings.Join(parts, " ")+from(d, "parameters"))
	}
	if len(d.Causes) > 0 {
		parts := make([]string, len(d.Causes))
		for i, c := range d.Causes {
			parts[i] = c.Job + "#" + c.Build
		}
		row("causes", strings.Join(parts, ", ")+from(d, "causes"))
	}
	switch {
	case d.Release != "" && d.ReleaseID != 0:
		row("release", fmt.Sprintf("%s (id %d)", quoteIfNeeded(d.Release), d.ReleaseID)+from(d, "release"))
	case d.Release != "":
		row("release", quoteIfNeeded(d.Release)+from(d, "release"))
	case d.ReleaseID != 0:
		row("release", fmt.Sprintf("id %d", d.ReleaseID)+from(d, "release"))
	}
	if d.Milestone != 0 {
		row("milestone", fmt.Sprintf("id %d", d.Milestone)+from(d, "milestone"))
	}
	if len(d.Environment) > 0 {
		row("environment", pairs(d.Environment))
	}
	if len(d.TestFields) > 0 {
		row("test fields", pairs(d.TestFields))
	}
	if len(d.ProductAreas) > 0 {
		row("product areas", ids(d.ProductAreas))
	}
	if len(d.BacklogItems) > 0 {
		row("backlog items", ids(d.BacklogItems))
	}
	row("runs", fmt.Sprintf("%d passed, %d failed, %d skipped", ex.Runs.Passed, ex.Runs.Failed, ex.Runs.Skipped))
	for i, wn := range ex.Warnings {
		key := ""
		if i == 0 {
			key = "warnings"
		}
		if key == "" {
			fmt.Fprintf(&b, "  %-14s %s\n", "", wn)
		} else {
			row(key, wn.String())
		}
	}
	if ex.Err != nil {
		row("error", ex.Err.Error())
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

// writeExplainedBuilds ends explain's text: the builds as they will be reported.
func writeExplainedBuilds(w io.Writer, builds []*mapping.Build) {
	if len(builds) == 0 {
		return
	}
	fmt.Fprintf(w, "%s, as they will be reported:\n", capital(plural(len(builds), "build")))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tPIPELINE\tSTARTED\tDURATION\tRESULT\tREPORTS\tRUNS")
	for _, b := range builds {
		dur := "-"
		if b.Duration > 0 {
			dur = b.Duration.String()
		}
		fmt.Fprintf(tw, "%s/%s#%s\t%s\t%s\t%s\t%s\t%d\t%d\n", b.Server.InstanceID, b.Job, b.Build, b.Pipeline,
			fmtTime(b.Start), dur, b.Result, b.Reports, b.Runs)
	}
	tw.Flush()
}

func from(d *mapping.Decision, key string) string {
	if f := d.From[key]; f != "" {
		return "  [" + f + "]"
	}
	return ""
}

func idName(id, name string) string {
	if name == "" || name == id {
		return quoteIfNeeded(id)
	}
	return quoteIfNeeded(id) + " (name " + quoteIfNeeded(name) + ")"
}

func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = quoteIfNeeded(k) + "=" + quoteIfNeeded(m[k])
	}
	return strings.Join(parts, " ")
}

func ids(list []int64) string {
	parts := make([]string, len(list))
	for i, id := range list {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// quoteIfNeeded quotes values that would be ambiguous in the text form.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=,()[]") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}

// plural is "1 build", "2 builds", "no builds".
func plural(n int, noun string) string {
	switch n {
	case 0:
		return "no " + noun + "s"
	case 1:
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
