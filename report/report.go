// Package report reads one JUnit XML report, in any of the common dialects,
// into test runs ready to be mapped to Octane: a Decoder gives them one at a
// time (Head, then Next, then Summary) in memory that does not grow with the
// report; Read collects them into a Report.
//
// The reader is a single streaming pass of encoding/xml tokens over the input:
// the document is read once and never held whole in memory, system-out text is
// scanned for [[ATTACHMENT|path]] markers and then dropped, and only what a Run
// needs is kept. It accepts a <testsuites>, <testsuite> or Eclipse <testrun>
// root, nested suites, BOMs, UTF-16, ISO-8859-1 / windows-1252 and XML 1.1
// declarations, and refuses DOCTYPEs, non-XML, truncated XML and non-JUnit roots
// with an *Error naming the file and the line. What it had to adjust to read a
// report is a Warning with a stable code (the Warn… constants).
//
// Decisions where JUnit is silent (each is tested):
//   - Several results on one testcase give one Run: Failed beats Skipped beats
//     Passed. Failure keeps the first <failure>/<error> (Kind, Type, Message);
//     the others are appended to Failure.Body, each after a "--- kind type: message" line.
//   - <error> is a Failed run with Failure.Kind "error".
//   - <flakyFailure>/<flakyError> without a <failure>/<error> is a Passed run
//     with Flaky set, the flaky failures in EarlierFailures;
//     <rerunFailure>/<rerunError> are appended to Failure.Body. Reruns counts all four.
//   - A testcase repeated in its suite (same classname and name) after a
//     failed attempt is a rerun (gotestsum --rerun-fails writes those): the
//     attempts are one Run with the last attempt's result, Flaky when it
//     passed, the earlier failures in EarlierFailures (or in Failure.Body when
//     it failed again), Reruns counting the earlier attempts. A repeat after a
//     passed or skipped attempt (go test -count=2) stays a run of its own.
//     How far apart the attempts may be is bounded: see Decoder.
//   - A skip given only as an attribute (status="notrun"/"disabled"/"skipped"/
//     "ignored", result="skipped"/"suppressed") is Skipped; status="failed"/
//     "error"/"errored" without a child element is Failed.
//   - A suite-level <error>/<failure> (setup or teardown) becomes a synthetic
//     Failed Run with SuiteLevel set, Name "[suite error]" or "[suite failure]"
//     (" #2", " #3"… when there are several) and the suite name as classname.
//   - A testcase with an empty name is kept (never dropped: it is often a
//     failure in @BeforeAll) as "[unnamed testcase #N]", N counting unnamed
//     testcases in document order, with a warning.
//   - Package and Class come from the classname as Options.Naming says:
//     octane-import's own split by default, or as the official clients make
//     them (docs/test-naming.md).
//   - time is seconds: "1.5", "1,5" (decimal comma), "2,503.1" and "1.234,5"
//     (the last separator is the decimal one), "1e-05". An integer of 1e6 or
//     more is taken as nanoseconds (container-structure-test writes those),
//     with a warning. Missing or unreadable times are 0, negative times are 0
//     with a warning.
//   - Timestamps: ISO-8601 with or without zone, fraction or "T", date only,
//     RFC 1123, a trailing " UTC". Zone-less times are in Options.Location
//     (time.Local for Read), and Head, Suite and Summary say that they were
//     zone-less; a zone abbreviation ("EST") is looked up in Options.Location,
//     never in the machine's zone, and read as zone-less there when it is not
//     one of its zones. Times before 1980 (the 0001-01-01 and 1970-01-01
//     placeholders some tools write) count as unknown, with a warning.
//   - Content after the root element: text is ignored with a warning (doctest
//     prints to stdout); another JUnit root is read as well, with a warning.
//   - Module is left empty: JUnit has no such notion; mapping rules fill it.
package report

import "time"

// Status is the outcome of a run, spelled as Octane spells it.
type Status string

// The three statuses a Run can have.
const (
	Passed  Status = "Passed"
	Failed  Status = "Failed"
	Skipped Status = "Skipped"
)

// Property is a name/value pair from a <property> element (value attribute, or
// its text when there is none) or an extra testcase attribute.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Failure describes why a run failed.
type Failure struct {
	Kind    string `json:"kind"` // "failure" or "error"
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Body    string `json:"body,omitempty"` // the stack trace, and any further results
}

// Run is one test execution, the unit Octane stores.
type Run struct {
	Suite string `json:"suite,omitempty"` // innermost enclosing testsuite name
	// Classname is what Package and Class were made from, in the Naming of
	// the read: Options.Naming.Split(Classname) gives them. For NamingSplit it
	// is the classname attribute, else the class attribute, else the suite
	// name; for the other styles the classname attribute as written.
	Classname   string        `json:"classname,omitempty"`
	Module      string        `json:"module,omitempty"`
	Package     string        `json:"package,omitempty"`
	Class       string        `json:"class,omitempty"`
	Name        string        `json:"name"` // never empty
	Status      Status        `json:"status"`
	Duration    time.Duration `json:"duration"`         // >= 0
	Started     time.Time     `json:"started,omitzero"` // testcase timestamp, else its suite's; zero when unknown
	Failure     *Failure      `json:"failure,omitempty"`
	SkipMessage string        `json:"skip_message,omitempty"`
	Reruns      int           `json:"reruns,omitempty"` // flaky/rerun elements seen, and earlier attempts merged into this run
	// EarlierFailures are the failures of earlier attempts of a run that did
	// not fail in the end (Flaky, or Skipped on its last attempt), oldest
	// first: <flakyFailure>/<flakyError> (and <rerunFailure>/<rerunError>)
	// elements, and the failed attempts of a test case repeated in its suite.
	// A run that failed in the end has them in Failure.Body instead.
	EarlierFailures []Failure  `json:"earlier_failures,omitempty"`
	Properties      []Property `json:"properties,omitempty"`
	// Attributes holds the testcase attributes the model has no field for
	// (file, line, assertions, status, result, vendor attributes), in document order.
	Attributes  []Property `json:"attributes,omitempty"`
	Attachments []string   `json:"attachments,omitempty"` // [[ATTACHMENT|path]] in the testcase's system-out/err, deduplicated
	Line        int        `json:"line"`                  // line of the <testcase> (its last attempt's, for a rerun; or the suite-level element's)
	Flaky       bool       `json:"flaky,omitempty"`       // passed on a rerun
	SuiteLevel  bool       `json:"suite_level,omitempty"` // synthetic run for a suite-level <error>/<failure>

	seen   uint8    // result elements seen as direct children (seenFailure…); for tests
	shared bool     // the slices belong to the Decoder's buffers
	seq    int32    // position in document order
	prior  *[]uint8 // seen of the earlier attempts merged into this run; for tests
}

// Flags for Run.seen.
const (
	seenFailure uint8 = 1 << iota
	seenError
	seenSkipped
	seenMulti // more than one of the above elements
)

// SuiteAttachment is an [[ATTACHMENT|path]] marker in a suite's system-out/err.
type SuiteAttachment struct {
	Suite string `json:"suite"`
	Path  string `json:"path"`
}

// Report is one JUnit file.
type Report struct {
	Path        string            `json:"path"`
	Suites      int               `json:"suites"`               // <testsuite> elements, nested ones included
	Timestamp   time.Time         `json:"timestamp,omitzero"`   // earliest suite timestamp; zero if none
	Properties  []Property        `json:"properties,omitempty"` // suite-level (and root-level) properties in document order
	Runs        []Run             `json:"runs"`
	Attachments []SuiteAttachment `json:"attachments,omitempty"` // suite-level attachment markers
	Warnings    []Warning         `json:"warnings,omitempty"`    // the reader's adjustments; String gives "file:line: message"
}

// Property returns the first suite-level property with that name.
func (r *Report) Property(name string) (string, bool) {
	for _, p := range r.Properties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Counts summarises the runs of a report.
type Counts struct{ Total, Passed, Failed, Skipped, Flaky int }

// Counts counts the runs by status. Flaky runs are also counted as Passed.
// Synthetic suite-level runs count as Failed.
func (r *Report) Counts() Counts {
	var c Counts
	for i := range r.Runs {
		c.add(&r.Runs[i])
	}
	return c
}

// add counts one run.
func (c *Counts) add(r *Run) {
	c.Total++
	switch r.Status {
	case Passed:
		c.Passed++
	case Failed:
		c.Failed++
	case Skipped:
		c.Skipped++
	}
	if r.Flaky {
		c.Flaky++
	}
}
