package report

import (
	"io"
	"time"
)

// Options tune NewDecoder and ReadWith.
type Options struct {
	// Location is used for timestamps written without a zone (Surefire,
	// pytest and others write local time), and for zone abbreviations such
	// as "EST" in RFC 1123 dates. Nil means time.Local.
	Location *time.Location
	// Naming is how a testcase's classname becomes Octane's package and
	// class; the default, NamingSplit, is octane-import's own.
	Naming Naming
	// RerunWindow bounds how many failed runs are held back, waiting for a
	// rerun later in their suite (see Decoder): 0 means DefaultRerunWindow, a
	// negative value reads repeated test cases as runs of their own.
	RerunWindow int
}

// DefaultRerunWindow is how many failed runs a Decoder holds back at most,
// waiting for a rerun of the same test later in their suite. Held runs also
// never hold more than 8 MiB of text (names, messages, stack traces).
const DefaultRerunWindow = 1000

// maxHeldBytes bounds the text of the failed runs held back for reruns (a
// variable for tests).
var maxHeldBytes = 8 << 20

// Limits of what a Decoder keeps of suite-level properties (WarnPropertiesLimit).
const (
	maxHeadProperties = 4096
	maxHeadSuites     = 4096
	maxLateProperties = 1024
)

// A Decoder reads the test runs of one JUnit report from a stream, one at a
// time, without holding the report: its memory does not grow with the
// report's size.
//
// Head reads the report up to its first run and gives what the report said
// before it (suites, their attributes, timestamps and properties), so that a
// caller can decide where the report goes before it sees a run. Next then
// returns the runs, and io.EOF after the last one; Summary gives the counts,
// times and warnings of the whole report. A Decoder is not safe for
// concurrent use.
//
//	d := report.NewDecoder(f, path, report.Options{Location: loc})
//	head, err := d.Head()
//	// decide from head.Properties and head.Timestamp; d.SetNaming(...)
//	for {
//		run, err := d.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err // *Error; the runs given so far are not the whole report
//		}
//		encode(run) // run and what it points to are valid until the next call to Next
//	}
//	sum := d.Summary()
//
// Runs come in document order, with one exception: a failed run is held back
// until its suite ends, in case the same test (same classname and name) is
// run again later in the suite. Tools such as gotestsum --rerun-fails write a
// failed attempt and its rerun as two testcases, failures first; the attempts
// become one run with the last attempt's result (Flaky when it passed), the
// earlier failures in its Failure.Body or EarlierFailures. At most
// Options.RerunWindow failed runs (and 8 MiB of their text) are held at once;
// past that the oldest is passed on, with a WarnRerunWindow warning, and a
// later rerun of it is a run of its own. A repeat of a test whose earlier
// attempt passed or was skipped is not a rerun (go test -count=2,
// parameterised tests with equal names) and stays a run of its own.
type Decoder struct {
	p *parser
}

// NewDecoder returns a Decoder reading the report from rd; name is the file
// name used in errors and warnings. Nothing is read until Head or Next.
func NewDecoder(rd io.Reader, name string, opts Options) *Decoder {
	return &Decoder{p: newParser(rd, name, opts)}
}

// Head reads the report up to its first test case (or to its end, when it has
// none; or to the end of the first suite with a suite-level failure, when that
// comes first) and returns what it said before it. It returns the same Head when
// called again. Errors are *Error, as for Read: the report's beginning could
// not be read.
func (d *Decoder) Head() (*Head, error) {
	p := d.p
	for !p.headDone {
		if p.err != nil {
			return nil, p.err
		}
		p.advance()
	}
	return &p.head, nil
}

// Next returns the next run of the report, and io.EOF after the last. The
// run, and the slices and failure it points to, belong to the Decoder and are
// valid until the next call to Next: copy what you keep. Errors are *Error
// (a malformed or truncated report, a read error); they are final, and the
// runs returned before them are not the whole report.
func (d *Decoder) Next() (*Run, error) {
	p := d.p
	if !p.headDone {
		if _, err := d.Head(); err != nil {
			return nil, err
		}
	}
	if !p.running {
		p.running, p.headLog = true, nil
	}
	for {
		if p.outPos < len(p.out) {
			r := &p.out[p.outPos]
			p.outPos++
			p.deliver(r)
			return r, nil
		}
		p.out, p.outPos = p.out[:0], 0
		if p.err != nil {
			return nil, p.err
		}
		if p.done {
			return nil, io.EOF
		}
		p.advance()
	}
}

// Summary returns the counts, times and warnings of the report. It is
// complete once Next has returned io.EOF; before that it covers what has been
// read. The Summary is the Decoder's own and changes as it reads.
func (d *Decoder) Summary() *Summary {
	return &d.p.sum
}

// SetNaming changes the naming style of the runs. Call it after Head and
// before the first Next (when the naming depends on what Head showed); later,
// it applies to the test cases not yet read.
func (d *Decoder) SetNaming(n Naming) {
	p := d.p
	if p.naming != n {
		p.naming = n
		clear(p.splits)
	}
}

// SetLocation changes the location of zone-less timestamps (Options.Location).
// Called after Head and before the first Next, it applies to the whole
// report, as if given in Options: the timestamps of the Head (and of its
// Suites) are read again in loc, the Head changes in place, and the Summary
// and its warnings are what they would have been. (Not so when the report has
// more than 4,096 suites, or warnings, before its first test case: then, and
// when called later, it applies to the timestamps not yet read.) Nil means
// time.Local.
func (d *Decoder) SetLocation(loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	d.p.setLocation(loc)
}

// Head is what a report says before its first run (its first test case, or
// a suite-level failure that comes before any): enough to decide where the
// report goes before any run is read.
type Head struct {
	Path string `json:"path"`
	// Root is the root element: "testsuites", "testsuite" or "testrun".
	Root string `json:"root"`
	// Suites are the suites opened before the first test case, outermost
	// first, in document order: the root, the suites enclosing the first test
	// case, and any that ended before it (at most 4,096).
	Suites []Suite `json:"suites,omitempty"`
	// Properties are the root- and suite-level properties before the first
	// test case, in document order (at most 4,096). Properties that come
	// later are in Summary.LateProperties.
	Properties []Property `json:"properties,omitempty"`
	// Timestamp is the earliest suite timestamp among Suites; zero if none.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// ZoneLess says that Timestamp was written without a zone and read in Location.
	ZoneLess bool `json:"zone_less,omitempty"`
	// Location is where zone-less timestamps are read (Options.Location).
	Location *time.Location `json:"-"`
}

// Property returns the value of the first head property with that name.
func (h *Head) Property(name string) (string, bool) {
	for _, p := range h.Properties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Suite is a <testsuite>, or the <testsuites>/<testrun> container, as its
// start tag and its <properties> describe it.
type Suite struct {
	Name      string `json:"name,omitempty"`
	Container bool   `json:"container,omitempty"` // <testsuites> or <testrun>: not counted as a suite
	Depth     int    `json:"depth"`               // 0 for the root element
	Line      int    `json:"line"`
	// Timestamp is zero when absent, unreadable or a placeholder.
	Timestamp time.Time `json:"timestamp,omitzero"`
	ZoneLess  bool      `json:"zone_less,omitempty"` // Timestamp had no zone: read in Head.Location
	// Time is the time attribute; HasTime says whether the suite has one.
	Time       time.Duration `json:"time,omitempty"`
	HasTime    bool          `json:"has_time,omitempty"`
	Attributes []Property    `json:"attributes,omitempty"` // every attribute, in document order
	Properties []Property    `json:"properties,omitempty"` // its own <properties> before the first test case

	tsText string // the timestamp attribute, read again by SetLocation
}

// Summary is what a whole report held, once its runs have been read.
type Summary struct {
	Path string `json:"path"`
	// Counts are the runs by status, as Next returned them (a rerun merged
	// into one run counts once).
	Counts Counts `json:"counts"`
	// Testcases is the number of testcase elements (Counts.Total less the
	// synthetic suite-level runs, plus the attempts merged as reruns).
	Testcases int `json:"testcases"`
	// Suites is the number of <testsuite> elements, nested ones included;
	// SuitesTimestamped of them had a usable timestamp, SuitesTimed a time.
	Suites            int `json:"suites"`
	SuitesTimestamped int `json:"suites_timestamped"`
	SuitesTimed       int `json:"suites_timed"`
	// Start is the earliest suite timestamp; zero if none.
	Start time.Time `json:"start,omitzero"`
	// ZoneLess says that some timestamp of the report (suite or testcase) was
	// written without a zone and read in Location.
	ZoneLess bool           `json:"zone_less,omitempty"`
	Location *time.Location `json:"-"`
	// SuiteEnd is the latest timestamp + time of the suites that have both.
	SuiteEnd time.Time `json:"suite_end,omitzero"`
	// RunEnd is the latest start + duration of the runs with a start time
	// (their own timestamp, else their suite's).
	RunEnd time.Time `json:"run_end,omitzero"`
	// SuiteTime is the sum of the time attributes of the outermost timed
	// <testsuite> elements (a suite inside a suite with a time is not added
	// again); UnplacedTime is the part of it from suites without a timestamp.
	SuiteTime    time.Duration `json:"suite_time"`
	UnplacedTime time.Duration `json:"unplaced_time"`
	// RunTime is the sum of the durations of every attempt of every run.
	RunTime time.Duration `json:"run_time"`
	// LateProperties are the suite-level properties that came after the first
	// test case (not in Head.Properties), deduplicated, at most 1,024.
	LateProperties []Property `json:"late_properties,omitempty"`
	// Attachments are the [[ATTACHMENT|path]] markers in suites' system-out/err.
	Attachments []SuiteAttachment `json:"attachments,omitempty"`
	// Warnings are the reader's adjustments, in the order first met.
	Warnings []Warning `json:"warnings,omitempty"`
}

// Elapsed is how long the report's tests took: from Start to the later of
// SuiteEnd and RunEnd (plus UnplacedTime, the suites that cannot be placed in
// time) when suites have timestamps; otherwise the sum of the suites' times;
// otherwise the sum of the runs' durations.
func (s *Summary) Elapsed() time.Duration {
	if !s.Start.IsZero() {
		end := s.SuiteEnd
		if s.RunEnd.After(end) {
			end = s.RunEnd
		}
		if end.After(s.Start) {
			return end.Sub(s.Start) + s.UnplacedTime
		}
		return s.UnplacedTime
	}
	if s.SuiteTime > 0 {
		return s.SuiteTime
	}
	return s.RunTime
}
