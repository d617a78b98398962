package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/report"
)

// Outcome is what happened to one file in one scan.
type Outcome string

// Outcomes, as printed and as written in JSON output.
const (
	Imported  Outcome = "imported"  // every run is in Octane (task success or warning)
	Unchanged Outcome = "unchanged" // imported (or refused) earlier and not changed since: nothing sent
	Failed    Outcome = "failed"    // unreadable, invalid, or refused by Octane; Error says why
	Unmatched Outcome = "unmatched" // no mapping rule matched it
	Empty     Outcome = "empty"     // a valid report without test cases
	Skipped   Outcome = "skipped"   // outside --since/--until
	Queued    Outcome = "queued"    // recorded and waiting in the ledger (Octane unreachable, or interrupted)
	Planned   Outcome = "planned"   // dry run: would be imported
)

// FileResult describes one file's outcome; it is also the JSON object of --output json.
type FileResult struct {
	Path       string        `json:"path"`
	Outcome    Outcome       `json:"outcome"`
	Rule       string        `json:"rule,omitempty"`
	Target     string        `json:"target,omitempty"`
	Build      *BuildID      `json:"build,omitempty"`
	Runs       ledger.Counts `json:"runs"`
	Task       string        `json:"task_id,omitempty"`
	TaskStatus string        `json:"task_status,omitempty"`
	Flaky      int           `json:"flaky,omitempty"` // runs that passed on a rerun (counted as passed too)
	Warnings   []Warning     `json:"warnings,omitempty"`
	Error      *ErrorInfo    `json:"error,omitempty"`

	held bool // skipped: another instance of a shared ledger holds the file's claim
}

// Warning is an adjustment made to a file on its way to Octane: a value the reader had to
// interpret (a time read as nanoseconds, a renamed test case ...) or that was cut to
// Octane's limits. It travels with the file into the output.
type Warning struct {
	Code    string `json:"code"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("line %d: %s", w.Line, w.Message)
	}
	return w.Message
}

// maxFileWarnings bounds the warnings kept per file; the rest are counted in one more.
const maxFileWarnings = 20

// fromReport are the report reader's adjustments of one report, with their codes (see
// docs/report-warnings.md), at most maxFileWarnings and a count of the rest.
func fromReport(ws []report.Warning) []Warning {
	var out []Warning
	for i, w := range ws {
		if i == maxFileWarnings {
			out = append(out, Warning{Code: "more", Message: fmt.Sprintf("%d more warnings", len(ws)-i)})
			break
		}
		msg := w.Message
		if w.Count > 1 {
			msg = fmt.Sprintf("%s (%d times)", msg, w.Count)
		}
		out = append(out, Warning{Code: w.Code, Line: w.Line, Message: msg})
	}
	return out
}

// BuildID names a build as Octane knows it.
type BuildID struct {
	Server string `json:"server"`
	Job    string `json:"job"`
	Build  string `json:"build"`
}

func (b BuildID) String() string { return b.Server + "/" + b.Job + "#" + b.Build }

// ErrorInfo is an error with the place it points at, when known.
type ErrorInfo struct {
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Phase         string // "looking" (the first look at each report's head, before a scan that sends reads them), "reading" or "sending"
	FilesTotal    int    // reports found by the first pass over the tree
	FilesDone     int
	PayloadsTotal int // payloads to send (this scan's and any left queued)
	PayloadsDone  int
	Runs          int
	Elapsed       time.Duration
}

// Reporter receives results and progress while a scan runs. Calls never overlap.
type Reporter interface {
	File(FileResult)
	Progress(Progress)
}

type nopReporter struct{}

func (nopReporter) File(FileResult)   {}
func (nopReporter) Progress(Progress) {}

// Summary is the outcome of a scan.
type Summary struct {
	Files      int                `json:"files"`
	Outcomes   map[Outcome]int    `json:"outcomes"`
	Runs       ledger.Counts      `json:"runs"`
	Builds     int                `json:"builds"`
	Payloads   int                `json:"payloads"`            // test-results payloads this run wrote to the ledger
	Sent       int                `json:"payloads_sent"`       // payloads this run sent to Octane (its own, or left queued before)
	Queued     int                `json:"payloads_queued"`     // payloads in the ledger still to be sent after the run
	Unanswered int                `json:"payloads_unanswered"` // payloads sent whose task Octane had not answered when the run ended
	Requests   int                `json:"requests,omitempty"`
	Elapsed    time.Duration      `json:"elapsed_ns"`
	Plan       *Plan              `json:"plan,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
	Adjusted   int                `json:"files_adjusted,omitempty"` // files with warnings (FileResult.Warnings)
	Flaky      int                `json:"flaky,omitempty"`          // imported runs that passed on a rerun (counted as passed too)
	Errors     []string           `json:"errors,omitempty"`         // failures not tied to one file (Octane unreachable ...)
	ByBuild    map[string]*BuildN `json:"-"`
	DryRun     bool               `json:"dry_run,omitempty"`
	Searched   []Searched         `json:"searched,omitempty"` // where the scan looked for reports
	Interrupt  bool               `json:"interrupted,omitempty"`

	held []string // the files skipped because another instance holds their claims (watch tries them again)
	err  error    // the first of Errors, as it was (watch tells a database outage from the rest)
}

// addError adds a failure not tied to one file.
func (s *Summary) addError(err error) {
	if s.err == nil {
		s.err = err
	}
	s.Errors = append(s.Errors, err.Error())
}

// Searched is a folder (or file) a scan looked in, with the patterns that make a report.
type Searched struct {
	Path     string   `json:"path"`
	Patterns []string `json:"patterns"`
}

// BuildN is one build's line in the summary table.
type BuildN struct {
	ID       BuildID       `json:"build"`
	Target   string        `json:"target"`
	Pipeline string        `json:"pipeline"`
	Start    time.Time     `json:"start"`
	Result   string        `json:"result"`
	Files    int           `json:"files"`
	Runs     ledger.Counts `json:"runs"`
	Payloads int           `json:"payloads"`
	State    string        `json:"state"`
	// Decided is the build as a dry run plans to report it (the decisions of its reports
	// merged): what explain shows and what is PUT.
	Decided *mapping.Build `json:"decided,omitempty"`
}

// Failures is the number of files that did not make it.
func (s *Summary) Failures() int {
	return s.Outcomes[Failed] + s.Outcomes[Unmatched] + s.Outcomes[Queued]
}

// Plan is what a dry run would send, per target.
type Plan struct {
	Targets []PlanTarget `json:"targets"`
}

// PlanTarget is the part of a plan for one Octane target.
type PlanTarget struct {
	Target    string          `json:"target"`
	Servers   []PlanServer    `json:"servers"`
	Pipelines []PlanPipeline  `json:"pipelines"`
	Builds    []*BuildN       `json:"builds"`
	Runs      ledger.Counts   `json:"runs"`
	Payloads  int             `json:"payloads"`
	Requests  int             `json:"requests"`
	extra     map[string]bool // dedupe
}

// PlanServer is a CI server in a plan.
type PlanServer struct {
	InstanceID string `json:"instance_id"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	URL        string `json:"url,omitempty"`
}

// PlanPipeline is a pipeline and its jobs in a plan.
type PlanPipeline struct {
	Server string   `json:"server"`
	Name   string   `json:"name"`
	Jobs   []string `json:"jobs"`
}

func (s *Summary) count(r FileResult) {
	if r.held {
		s.held = append(s.held, r.Path)
	}
	s.Files++
	s.Outcomes[r.Outcome]++
	if r.Outcome == Imported || r.Outcome == Planned {
		s.Runs.Add(r.Runs)
	}
}

func newSummary() *Summary {
	return &Summary{Outcomes: map[Outcome]int{}, ByBuild: map[string]*BuildN{}}
}

// SortedBuilds returns the summary's builds, oldest first.
func (s *Summary) SortedBuilds() []*BuildN {
	out := make([]*BuildN, 0, len(s.ByBuild))
	for _, b := range s.ByBuild {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out
}

// errorInfo turns an error into its JSON form, keeping the file and line of reader errors.
func errorInfo(err error) *ErrorInfo {
	if err == nil {
		return nil
	}
	info := &ErrorInfo{Message: err.Error()}
	var re *report.Error
	var me *manifest.Error
	var pe *fs.PathError
	switch {
	case errors.As(err, &re):
		info.File, info.Line = re.File, re.Line
	case errors.As(err, &me):
		info.File = me.File
		if len(me.Problems) > 0 {
			info.Line = me.Problems[0].Line
		}
	case errors.As(err, &pe):
		info.File = pe.Path
	}
	return info
}
