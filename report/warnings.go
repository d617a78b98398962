package report

import "fmt"

// A Warning is an adjustment the reader made to read a report: a value it had
// to guess, a test case it renamed, merged or made up, content it ignored.
// The report is still read; the warning says what was done instead.
//
// Warnings of one Code are given once per report, at the first occurrence,
// with Count saying how often the adjustment was made.
type Warning struct {
	File    string `json:"-"`    // the report, as named to NewDecoder or Read
	Code    string `json:"code"` // one of the Warn… constants; stable, for programs
	Line    int    `json:"line"` // of the first occurrence; 0 when it concerns the whole file
	Message string `json:"message"`
	Count   int    `json:"count"` // occurrences in the report, 1 or more
}

// String gives the warning as a log line: "file:line: message", and
// " (N times, first shown)" when it occurred more than once.
func (w Warning) String() string {
	s := w.File
	if w.Line > 0 {
		s = fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	s += ": " + w.Message
	if w.Count > 1 {
		s += fmt.Sprintf(" (%d times, first shown)", w.Count)
	}
	return s
}

// Warning codes. A code names one kind of adjustment and keeps its meaning
// from release to release; messages may be reworded.
const (
	// WarnXML11: an XML 1.1 declaration, read with the XML 1.0 rules.
	WarnXML11 = "xml-1.1"
	// WarnEncodingMismatch: the declared encoding contradicts the bytes (a
	// UTF-16 byte order mark, or "UTF-16" declared on 8-bit text); the bytes win.
	WarnEncodingMismatch = "encoding-mismatch"
	// WarnNoTests: the report holds no test case.
	WarnNoTests = "no-tests"
	// WarnSecondRoot: another JUnit root element after the first one; read as well.
	WarnSecondRoot = "second-root"
	// WarnElementAfterRoot: an element that is not JUnit after the root element; ignored.
	WarnElementAfterRoot = "element-after-root"
	// WarnTextAfterRoot: text after the root element (doctest prints there); ignored.
	WarnTextAfterRoot = "text-after-root"
	// WarnNestedTestcase: a <testcase> inside a <testcase>; read as a test of its own.
	WarnNestedTestcase = "nested-testcase"
	// WarnSkippedOutsideTestcase: a <skipped> that is not in a testcase; ignored.
	WarnSkippedOutsideTestcase = "skipped-outside-testcase"
	// WarnTimestampUnreadable: a timestamp that is not a date; start time unknown.
	WarnTimestampUnreadable = "timestamp-unreadable"
	// WarnTimestampPlaceholder: a timestamp before 1980 (0001-01-01, 1970-01-01
	// written for "unknown"); start time unknown.
	WarnTimestampPlaceholder = "timestamp-placeholder"
	// WarnTimestampZoneUnknown: a timestamp with a zone abbreviation (such as
	// "CET") that Options.Location does not define; read as a zone-less time
	// in Options.Location.
	WarnTimestampZoneUnknown = "timestamp-zone-unknown"
	// WarnTimeUnreadable: a time attribute that is not a number of seconds; duration 0.
	WarnTimeUnreadable = "time-unreadable"
	// WarnTimeNegative: a negative time; duration 0.
	WarnTimeNegative = "time-negative"
	// WarnTimeNanoseconds: an integer time of 1e6 or more, read as
	// nanoseconds (container-structure-test writes those).
	WarnTimeNanoseconds = "time-nanoseconds"
	// WarnTimeTooLarge: a time too large for a duration; duration 0.
	WarnTimeTooLarge = "time-too-large"
	// WarnTimeDecimalComma: a time written with a decimal comma ("1,5").
	WarnTimeDecimalComma = "time-decimal-comma"
	// WarnUnnamedTestcase: a testcase without a name, kept as "[unnamed testcase #N]".
	WarnUnnamedTestcase = "unnamed-testcase"
	// WarnSuiteError: an <error> directly in a suite (setup or teardown),
	// reported as a synthetic failed run "[suite error]".
	WarnSuiteError = "suite-error"
	// WarnSuiteFailure: a <failure> directly in a suite, reported as a
	// synthetic failed run "[suite failure]".
	WarnSuiteFailure = "suite-failure"
	// WarnRerunMerged: a test case repeated in its suite after a failed
	// attempt (gotestsum --rerun-fails): the attempts are one run with the last
	// attempt's result.
	WarnRerunMerged = "rerun-merged"
	// WarnRerunWindow: more failed runs than Options.RerunWindow (or more than
	// 8 MiB of their text) were waiting for a rerun at once; the oldest was
	// passed on, and a rerun of it later in the suite becomes a run of its own.
	WarnRerunWindow = "rerun-window"
	// WarnPropertiesLimit: more suite-level properties than the reader keeps
	// for Head (4,096) or, after the first test case, for Summary (1,024
	// distinct); the others are left out.
	WarnPropertiesLimit = "properties-limit"
	// WarnHeadSuitesLimit: more than 4,096 suites before the first test case;
	// Head.Suites lists the first 4,096 (the others still count in Summary).
	WarnHeadSuitesLimit = "head-suites-limit"
)
