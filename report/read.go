package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Read reads one JUnit report from rd. name is the file name used in errors
// and warnings. Errors are *Error, matching ErrEmpty, ErrNotJUnit,
// ErrMalformed, ErrDoctype or ErrEncoding with errors.Is (or wrapping the
// reader's own error).
//
// Read holds the whole report in memory; NewDecoder reads the same runs one
// at a time. Read returns them in document order.
func Read(rd io.Reader, name string) (*Report, error) {
	return ReadWith(rd, name, Options{})
}

// ReadFile opens and reads the report at path.
func ReadFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		msg := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			msg = pe.Op + ": " + pe.Err.Error()
		}
		return nil, &Error{File: path, Msg: msg, Err: err}
	}
	defer f.Close()
	return Read(f, path)
}

// ReadWith is Read with options. It collects what a Decoder gives.
func ReadWith(rd io.Reader, name string, opts Options) (*Report, error) {
	d := NewDecoder(rd, name, opts)
	rep := &Report{Path: name}
	d.p.allProps = &rep.Properties
	if _, err := d.Head(); err != nil {
		return nil, err
	}
	// Runs go into chunks that never move, and are copied once into a slice of
	// the exact size at the end: appending to one slice would copy (and keep
	// alive while copying) the whole slice at each growth. The failed runs the
	// Decoder held back for reruns come late: they go aside (late) and are
	// merged back into document order in that copy.
	var chunks [][]Run
	var cur, late []Run
	var last int32
	n := 0
	for {
		r, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if r.seq < last {
			late = append(late, *r)
			if r.shared {
				own(&late[len(late)-1])
			}
			n++
			continue
		}
		last = r.seq
		if len(cur) == cap(cur) {
			if len(cur) > 0 {
				chunks = append(chunks, cur)
			}
			cur = make([]Run, 0, min(8192, max(64, 2*cap(cur))))
		}
		cur = append(cur, *r)
		if r.shared {
			own(&cur[len(cur)-1])
		}
		n++
	}
	chunks = append(chunks, cur)
	slices.SortFunc(late, byPosition)
	runs := make([]Run, 0, n)
	for i, c := range chunks {
		for len(late) > 0 && len(c) > 0 {
			// Up to the next late run, the chunk is in order.
			k, _ := slices.BinarySearchFunc(c, late[0].seq, func(r Run, seq int32) int { return int(r.seq) - int(seq) })
			if k == len(c) {
				break // it goes after this chunk
			}
			runs = append(runs, c[:k]...)
			runs = append(runs, late[0])
			c, late = c[k:], late[1:]
		}
		runs = append(runs, c...)
		chunks[i] = nil
	}
	runs = append(runs, late...)
	sum := d.Summary()
	rep.Runs = runs
	rep.Suites, rep.Timestamp = sum.Suites, sum.Start
	rep.Attachments, rep.Warnings = sum.Attachments, sum.Warnings
	return rep, nil
}

func byPosition(a, b Run) int { return int(a.seq) - int(b.seq) }

// own gives a run its own copies of the slices it shares with the Decoder's
// buffers.
func own(r *Run) {
	r.Properties = slices.Clone(r.Properties)
	r.Attributes = slices.Clone(r.Attributes)
	r.Attachments = slices.Clone(r.Attachments)
	r.EarlierFailures = slices.Clone(r.EarlierFailures)
	r.shared = false
}

type kind uint8

const (
	kOther       kind = iota // an element we do not know, inside which suites and testcases are still looked for
	kIgnore                  // an element whose whole subtree is ignored
	kContainer               // <testsuites>, <testrun>
	kSuite                   // <testsuite>
	kCase                    // <testcase>
	kResult                  // <failure>, <error>, <skipped>, flaky…, rerun… in a testcase
	kSuiteResult             // <failure>, <error> directly in a suite
	kStack                   // <stackTrace> in a result: its text is the body
	kOutput                  // <system-out>, <system-err>
	kProps                   // <properties>
	kProp                    // <property>
)

type frame struct {
	name      string
	space     string // the prefix, as RawToken gives it
	kind      kind
	line      int
	caseLevel bool // kProps, kProp, kOutput: belongs to the innermost testcase
}

type suiteFrame struct {
	name      string
	container bool
	serial    int       // identifies the suite for reruns
	started   time.Time // own timestamp, else the nearest enclosing one
	timed     bool      // this suite or an enclosing one has a time attribute
	headIdx   int       // index in head.Suites, -1 when not there
	pending   []pendingResult
}

type pendingResult struct {
	elem                string // element name
	typ, message, value string // value: the property value attribute
	hasValue            bool
	line                int
}

type caseBuilder struct {
	run         Run
	first       *Failure
	extra       strings.Builder
	skipped     bool
	skipMsg     string
	flaky       int
	flakes      []Failure // flaky/rerun results, for a run that does not fail
	status, res string    // status= and result= attributes
	// Buffers reused from one test case to the next (Next's runs are valid
	// until the next call).
	attrs, props []Property
	attach       []string
}

// runKey identifies a test within a suite, for reruns.
type runKey struct {
	suite           int
	classname, name string
}

// heldRun is a failed run held back until its suite ends, in case it is rerun.
type heldRun struct {
	run   Run
	key   runKey
	size  int
	suite int
}

// headEvent is a warning given before the first Next, or (suite >= 0)
// the reading of a head suite's timestamp, which SetLocation does again.
type headEvent struct {
	code, msg string
	line      int
	suite     int
}

// maxHeadLog bounds headLog; past it, SetLocation applies only to what follows.
const maxHeadLog = 4096

type parser struct {
	name   string
	loc    *time.Location
	naming Naming
	window int
	er     *errReader
	dec    *xml.Decoder
	begun  bool

	err       error // sticky: Next returns it for good
	done      bool  // the document was read to its end
	headDone  bool
	head      Head
	stash     xml.Token // the token that makes the first run (a testcase's start tag, or a suite's end tag with suite-level failures), seen by Head
	stashLine int
	running   bool // Next has been called

	// Until the first Next, what produced warnings is logged, so that
	// SetLocation can read the head's timestamps again and give the warnings
	// a read in that location would have given (headLog is nil once that is
	// no longer possible).
	headLog    []headEvent
	replayable bool
	quiet      bool // a head suite's timestamp is being read: its warnings are in its event

	utf16 string // set when the input was transcoded from UTF-16

	stack      []frame
	suites     []*suiteFrame
	freeSuites []*suiteFrame
	cases      []*caseBuilder
	free       []*caseBuilder // builders to reuse
	serial     int

	out    []Run // runs ready for Next
	outPos int

	held      []heldRun      // failed runs waiting for a rerun, oldest first from heldStart
	heldStart int            // held[:heldStart] were passed on
	heldIdx   map[runKey]int // index in held
	heldBytes int
	seq       int32 // position of the last run finished, in document order

	result  pendingResult // the open result or property element
	body    []byte        // text of the open result (and its <stackTrace>) or property
	scanner attachmentScanner

	rootSeen bool
	unnamed  int

	sum      Summary
	warned   map[string]int // warning code → index in sum.Warnings
	allProps *[]Property    // Read: every suite-level property
	lateSeen map[Property]bool
	strs     map[string]string
	splits   map[string][3]string // classname → interned classname, package, class
}

func newParser(rd io.Reader, name string, opts Options) *parser {
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	window := opts.RerunWindow
	if window == 0 {
		window = DefaultRerunWindow
	}
	p := &parser{
		name:    name,
		loc:     loc,
		naming:  opts.Naming,
		window:  window,
		er:      &errReader{r: rd},
		heldIdx: map[runKey]int{},
		warned:  map[string]int{},
		strs:    map[string]string{},
		splits:  map[string][3]string{},
	}
	p.replayable = true
	p.head = Head{Path: name, Location: loc}
	p.sum = Summary{Path: name, Location: loc}
	return p
}

// warnf records a warning; a code already seen only counts the occurrence, so
// a 200,000-test report with one systematic problem gives one warning.
func (p *parser) warnf(code string, line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !p.running && !p.quiet {
		p.logHead(headEvent{code: code, msg: msg, line: line, suite: -1})
	}
	if i, ok := p.warned[code]; ok {
		p.sum.Warnings[i].Count++
		return
	}
	p.warned[code] = len(p.sum.Warnings)
	p.sum.Warnings = append(p.sum.Warnings, Warning{File: p.name, Code: code, Line: line, Message: msg, Count: 1})
}

// again counts one more occurrence of a warning already given, and reports
// whether it did: then the caller need not make the message. (Before the
// first Next every warning goes through warnf, for SetLocation's log.)
func (p *parser) again(code string) bool {
	if !p.running && !p.quiet {
		return false
	}
	i, ok := p.warned[code]
	if ok {
		p.sum.Warnings[i].Count++
	}
	return ok
}

func (p *parser) logHead(e headEvent) {
	if !p.replayable {
		return
	}
	if len(p.headLog) >= maxHeadLog {
		p.replayable, p.headLog = false, nil
		return
	}
	p.headLog = append(p.headLog, e)
}

// intern shares repeated short strings (suite names, classnames, attribute
// names) between runs. The table is bounded.
func (p *parser) intern(s string) string {
	if v, ok := p.strs[s]; ok {
		return v
	}
	if len(p.strs) < 1<<14 {
		p.strs[s] = s
	}
	return s
}

func (p *parser) fail(line int, sentinel error, format string, args ...any) error {
	return &Error{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// advance does one step: it opens the input, or handles one token, or
// finishes the report at its end. Errors go to p.err.
func (p *parser) advance() {
	if !p.begun {
		p.begun = true
		in, err := p.input(p.er)
		if err != nil {
			p.err = &Error{File: p.name, Msg: "read: " + err.Error(), Err: err}
			return
		}
		p.dec = xml.NewDecoder(in)
		p.dec.Strict = true
		p.dec.CharsetReader = p.charsetReader
		return
	}
	var tok xml.Token
	var line int
	if p.stash != nil {
		tok, line = p.stash, p.stashLine
		p.stash = nil
	} else {
		line, _ = p.dec.InputPos()
		// RawToken, not Token: Token copies every element for namespace
		// translation, which we do not need (names are matched on their
		// local part); end tags are matched against our own stack.
		t, err := p.dec.RawToken()
		if err != nil {
			if err == io.EOF {
				if n := len(p.stack); n > 0 {
					line, _ := p.dec.InputPos()
					f := p.stack[n-1]
					p.err = p.fail(line, ErrMalformed, "unexpected end of file: <%s> from line %d is not closed (truncated report)", f.name, f.line)
					return
				}
				p.finish()
				return
			}
			p.err = p.decodeError(err, line)
			return
		}
		tok = t
	}
	var err error
	switch t := tok.(type) {
	case xml.StartElement:
		err = p.start(t, line)
	case xml.EndElement:
		err = p.end(t, line)
	case xml.CharData:
		err = p.text(t, line)
	case xml.Directive:
		err = p.fail(line, ErrDoctype, "DOCTYPE or entity declaration refused (never resolved): <!%s", clip(string(t), 40))
	}
	if err != nil {
		p.err = err
	}
}

// finish ends a report read to its end.
func (p *parser) finish() {
	if !p.rootSeen {
		p.err = p.fail(0, ErrEmpty, "empty report: no XML element")
		return
	}
	p.releaseHeld(-1)
	if p.seq == 0 {
		p.warnf(WarnNoTests, 0, "the report holds no test cases")
	}
	if !p.headDone {
		p.finishHead()
	}
	p.done = true
}

func (p *parser) finishHead() {
	p.headDone = true
}

// clip shortens s, its spaces folded, to at most n bytes for a message, cut between
// characters (a cut inside one would make the message invalid UTF-8).
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}

func (p *parser) decodeError(err error, line int) error {
	if p.er.err != nil && errors.Is(err, p.er.err) {
		return &Error{File: p.name, Line: line, Msg: "read: " + err.Error(), Err: err}
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.HasPrefix(se.Msg, "unexpected EOF") {
			msg := "unexpected end of file (truncated report)"
			if n := len(p.stack); n > 0 {
				f := p.stack[n-1]
				msg = fmt.Sprintf("unexpected end of file: <%s> from line %d is not closed (truncated report)", f.name, f.line)
			}
			return p.fail(se.Line, ErrMalformed, "%s", msg)
		}
		if !p.rootSeen && len(p.stack) == 0 && se.Line <= 1 && strings.Contains(se.Msg, "invalid") {
			return p.fail(se.Line, ErrMalformed, "not XML: %s", se.Msg)
		}
		return p.fail(se.Line, ErrMalformed, "XML syntax error: %s", se.Msg)
	}
	if errors.Is(err, ErrEncoding) {
		return p.fail(line, ErrEncoding, "%s", strings.TrimPrefix(err.Error(), "xml: "))
	}
	return p.fail(line, ErrMalformed, "%s", strings.TrimPrefix(err.Error(), "xml: "))
}

func isRoot(name string) bool {
	return name == "testsuites" || name == "testsuite" || name == "testrun"
}

func isResult(name string) bool {
	switch name {
	case "failure", "error", "skipped", "flakyFailure", "flakyError", "rerunFailure", "rerunError":
		return true
	}
	return false
}

func attr(t xml.StartElement, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space != "xmlns" {
			return a.Value, true
		}
	}
	return "", false
}

func isXMLNS(a xml.Attr) bool { return a.Name.Space == "xmlns" || a.Name.Local == "xmlns" }

func (p *parser) classify(name string) kind {
	parent := kOther
	if n := len(p.stack); n > 0 {
		parent = p.stack[n-1].kind
	}
	switch parent {
	case kIgnore, kStack, kOutput, kProp:
		return kIgnore
	case kProps:
		if name == "property" {
			return kProp
		}
		return kIgnore
	case kResult, kSuiteResult:
		if name == "stackTrace" {
			return kStack
		}
		return kIgnore
	case kCase:
		switch {
		case isResult(name):
			return kResult
		case name == "system-out" || name == "system-err":
			return kOutput
		case name == "properties":
			return kProps
		case name == "testcase":
			return kCase
		}
		return kIgnore
	}
	// Root, container, suite or unknown wrapper.
	switch name {
	case "testsuites", "testrun":
		return kContainer
	case "testsuite":
		return kSuite
	case "testcase":
		return kCase
	case "properties":
		return kProps
	case "system-out", "system-err":
		return kOutput
	case "failure", "error":
		if parent == kSuite || parent == kContainer {
			return kSuiteResult
		}
	}
	return kOther
}

func (p *parser) start(t xml.StartElement, line int) error {
	name := t.Name.Local
	if len(p.stack) == 0 {
		switch {
		case !p.rootSeen && !isRoot(name):
			return p.fail(line, ErrNotJUnit, "root element <%s> is not JUnit (want <testsuites>, <testsuite> or <testrun>)", name)
		case !p.rootSeen:
			p.rootSeen = true
			p.head.Root = name
		case isRoot(name):
			if !p.again(WarnSecondRoot) {
				p.warnf(WarnSecondRoot, line, "another root element <%s> after the first one: read as well", name)
			}
		default:
			if !p.again(WarnElementAfterRoot) {
				p.warnf(WarnElementAfterRoot, line, "element <%s> after the root element ignored", name)
			}
			p.stack = append(p.stack, frame{name: name, space: t.Name.Space, kind: kIgnore, line: line})
			return nil
		}
	}
	k := p.classify(name)
	if k == kCase && !p.headDone {
		// The head ends here, before the first run: keep the tag for Next.
		p.stash, p.stashLine = t, line
		p.finishHead()
		return nil
	}
	f := frame{name: name, space: t.Name.Space, kind: k, line: line}
	switch k {
	case kContainer, kSuite:
		p.startSuite(t, k == kContainer, line)
	case kCase:
		if len(p.cases) > 0 {
			if !p.again(WarnNestedTestcase) {
				p.warnf(WarnNestedTestcase, line, "<testcase> inside a <testcase>: read as a test of its own")
			}
		}
		p.startCase(t, line)
	case kResult, kSuiteResult:
		p.result = pendingResult{elem: name, line: line}
		p.result.typ, _ = attr(t, "type")
		p.result.message, _ = attr(t, "message")
		p.body = p.body[:0]
	case kProps, kOutput:
		f.caseLevel = len(p.cases) > 0 && p.stack[len(p.stack)-1].kind == kCase
		if k == kOutput {
			p.scanner.reset()
		}
	case kProp:
		f.caseLevel = p.stack[len(p.stack)-1].caseLevel
		p.result = pendingResult{elem: name, line: line}
		p.result.typ, _ = attr(t, "name")
		p.result.value, p.result.hasValue = attr(t, "value")
		p.body = p.body[:0]
	}
	if name == "skipped" && k == kOther {
		if !p.again(WarnSkippedOutsideTestcase) {
			p.warnf(WarnSkippedOutsideTestcase, line, "<skipped> outside a testcase ignored")
		}
	}
	p.stack = append(p.stack, f)
	return nil
}

func (p *parser) startSuite(t xml.StartElement, container bool, line int) {
	var s *suiteFrame
	if n := len(p.freeSuites); n > 0 {
		s, p.freeSuites = p.freeSuites[n-1], p.freeSuites[:n-1]
		*s = suiteFrame{pending: s.pending[:0]}
	} else {
		s = &suiteFrame{}
	}
	p.serial++
	s.container, s.serial, s.headIdx = container, p.serial, -1
	var outer *suiteFrame
	if n := len(p.suites); n > 0 {
		outer = p.suites[n-1]
		s.started, s.timed = outer.started, outer.timed
	}
	var name, ts, tm string
	var hasTS, hasTime bool
	for _, a := range t.Attr {
		switch a.Name.Local {
		case "name":
			name = a.Value
		case "timestamp":
			ts, hasTS = a.Value, true
		case "time":
			tm, hasTime = a.Value, true
		}
	}
	inHead := !p.headDone && len(p.head.Suites) < maxHeadSuites
	if !p.headDone && !inHead {
		p.replayable, p.headLog = false, nil
	}
	var own time.Time
	var zoneLess bool
	if hasTS {
		if inHead {
			p.logHead(headEvent{suite: len(p.head.Suites), line: line})
			p.quiet = true
		}
		own, zoneLess = p.timestamp(ts, line)
		p.quiet = false
	}
	var d time.Duration
	if hasTime {
		d, _ = parseSeconds(tm)
	}
	if !own.IsZero() {
		s.started = own
	}
	if !container {
		p.sum.Suites++
		s.name = p.intern(name)
		if !own.IsZero() {
			p.sum.SuitesTimestamped++
			if p.sum.Start.IsZero() || own.Before(p.sum.Start) {
				p.sum.Start = own
			}
		}
		if hasTime {
			p.sum.SuitesTimed++
			if !s.timed {
				p.sum.SuiteTime += d
				if s.started.IsZero() {
					p.sum.UnplacedTime += d
				}
			}
			if !s.started.IsZero() {
				if e := s.started.Add(d); e.After(p.sum.SuiteEnd) {
					p.sum.SuiteEnd = e
				}
			}
			s.timed = true
		}
	}
	if !p.headDone {
		if inHead {
			s.headIdx = len(p.head.Suites)
			hs := Suite{Name: s.name, Container: container, Depth: len(p.suites), Line: line,
				Timestamp: own, ZoneLess: zoneLess && !own.IsZero(), Time: d, HasTime: hasTime, tsText: ts}
			if container {
				hs.Name = name
			}
			for _, a := range t.Attr {
				if !isXMLNS(a) {
					hs.Attributes = append(hs.Attributes, Property{Name: p.intern(a.Name.Local), Value: a.Value})
				}
			}
			p.head.Suites = append(p.head.Suites, hs)
			if !container && !own.IsZero() && (p.head.Timestamp.IsZero() || own.Before(p.head.Timestamp)) {
				p.head.Timestamp, p.head.ZoneLess = own, zoneLess
			}
		} else {
			if !p.again(WarnHeadSuitesLimit) {
				p.warnf(WarnHeadSuitesLimit, line, "more than %d suites before the first test case: the head lists the first %d", maxHeadSuites, maxHeadSuites)
			}
		}
	}
	p.suites = append(p.suites, s)
}

// timestamp reads a suite or testcase timestamp; zero when unknown.
func (p *parser) timestamp(s string, line int) (time.Time, bool) {
	t, zoneLess, issue := parseTimestamp(s, p.loc)
	switch issue {
	case tsUnreadable:
		if strings.TrimSpace(s) != "" {
			if !p.again(WarnTimestampUnreadable) {
				p.warnf(WarnTimestampUnreadable, line, "timestamp %q not understood: start time unknown", clip(s, 40))
			}
		}
		return time.Time{}, false
	case tsPlaceholder:
		if !p.again(WarnTimestampPlaceholder) {
			p.warnf(WarnTimestampPlaceholder, line, "timestamp %q is a placeholder: start time unknown", clip(s, 40))
		}
		return time.Time{}, false
	case tsZoneUnknown:
		if !p.again(WarnTimestampZoneUnknown) {
			p.warnf(WarnTimestampZoneUnknown, line, "timestamp %q: zone %s is not known in %s: read as a zone-less time there", clip(s, 40), zoneAbbrev(s), p.loc)
		}
	}
	if zoneLess {
		p.sum.ZoneLess = true
	}
	return t, zoneLess
}

// innermost returns the innermost suite (not container) name, the nearest
// known start time and the innermost suite or container.
func (p *parser) innermost() (suite string, started time.Time, frame *suiteFrame) {
	n := len(p.suites)
	if n == 0 {
		return "", time.Time{}, nil
	}
	frame = p.suites[n-1]
	for i := n - 1; i >= 0; i-- {
		if !p.suites[i].container {
			suite = p.suites[i].name
			break
		}
	}
	return suite, frame.started, frame
}

// split names a run from its classname: the classname interned, its package
// and class in the Naming. One map lookup per run: the table is bounded.
func (p *parser) split(classname string) (name, pkg, class string) {
	if v, ok := p.splits[classname]; ok {
		return v[0], v[1], v[2]
	}
	pkg, class = p.naming.Split(classname)
	name, pkg, class = p.intern(classname), p.intern(pkg), p.intern(class)
	if len(p.splits) < 1<<14 {
		p.splits[name] = [3]string{name, pkg, class}
	}
	return name, pkg, class
}

func (p *parser) startCase(t xml.StartElement, line int) {
	var c *caseBuilder
	if n := len(p.free); n > 0 {
		c, p.free = p.free[n-1], p.free[:n-1]
		*c = caseBuilder{attrs: c.attrs[:0], props: c.props[:0], attach: c.attach[:0]}
	} else {
		c = &caseBuilder{}
	}
	r := &c.run
	r.Line = line
	suite, started, _ := p.innermost()
	r.Suite, r.Started = suite, started
	var classname, class string
	var hasClassname bool
	for _, a := range t.Attr {
		if isXMLNS(a) {
			continue
		}
		switch a.Name.Local {
		case "name":
			r.Name = a.Value
		case "classname":
			classname, hasClassname = a.Value, true
		case "time":
			r.Duration = p.duration(a.Value, line)
		case "timestamp":
			if ts, _ := p.timestamp(a.Value, line); !ts.IsZero() {
				r.Started = ts
			}
		default:
			switch a.Name.Local {
			case "status":
				c.status = strings.ToLower(strings.TrimSpace(a.Value))
			case "result":
				c.res = strings.ToLower(strings.TrimSpace(a.Value))
			case "class":
				class = a.Value
			}
			c.attrs = append(c.attrs, Property{Name: p.intern(a.Name.Local), Value: p.intern(a.Value)})
		}
	}
	r.Classname, r.Package, r.Class = p.split(p.naming.classname(classname, hasClassname, class, suite))
	p.cases = append(p.cases, c)
}

func (p *parser) duration(s string, line int) time.Duration {
	d, issue := parseSeconds(s)
	switch issue {
	case durUnreadable:
		if !p.again(WarnTimeUnreadable) {
			p.warnf(WarnTimeUnreadable, line, "time %q is not a number of seconds: duration 0", clip(s, 40))
		}
	case durNegative:
		if !p.again(WarnTimeNegative) {
			p.warnf(WarnTimeNegative, line, "negative time %q: duration 0", clip(s, 40))
		}
	case durNanoseconds:
		if !p.again(WarnTimeNanoseconds) {
			p.warnf(WarnTimeNanoseconds, line, "time %q is too large for seconds: read as nanoseconds (%s)", clip(s, 40), d)
		}
	case durTooLarge:
		if !p.again(WarnTimeTooLarge) {
			p.warnf(WarnTimeTooLarge, line, "time %q is too large: duration 0", clip(s, 40))
		}
	case durDecimalComma:
		if !p.again(WarnTimeDecimalComma) {
			p.warnf(WarnTimeDecimalComma, line, "time %q read with a decimal comma (%s)", clip(s, 40), d)
		}
	}
	return d
}

func (p *parser) text(t xml.CharData, line int) error {
	if len(p.stack) == 0 {
		trimmed := bytes.TrimLeft(t, " \t\r\n")
		if len(trimmed) == 0 {
			return nil
		}
		line += bytes.Count(t[:len(t)-len(trimmed)], []byte("\n")) // the line the text starts on
		if !p.rootSeen {
			return p.fail(line, ErrMalformed, "not XML: text %q before any element", clip(string(t), 30))
		}
		if !p.again(WarnTextAfterRoot) {
			p.warnf(WarnTextAfterRoot, line, "text after the root element ignored: %q", clip(string(t), 30))
		}
		return nil
	}
	switch p.stack[len(p.stack)-1].kind {
	case kResult, kSuiteResult, kStack, kProp:
		p.body = append(p.body, t...)
	case kOutput:
		p.scanner.write(t)
	}
	return nil
}

func (p *parser) end(t xml.EndElement, line int) error {
	n := len(p.stack)
	if n == 0 {
		return p.fail(line, ErrMalformed, "XML syntax error: unexpected end element </%s>", qname(t.Name))
	}
	f := p.stack[n-1]
	if f.space != t.Name.Space || f.name != t.Name.Local {
		return p.fail(line, ErrMalformed, "XML syntax error: element <%s> from line %d closed by </%s>",
			qname(xml.Name{Space: f.space, Local: f.name}), f.line, qname(t.Name))
	}
	if (f.kind == kSuite || f.kind == kContainer) && !p.headDone && len(p.suites) > 0 && len(p.suites[len(p.suites)-1].pending) > 0 {
		// The suite's failures are the first runs: the head ends before them
		// (so that SetNaming and SetLocation apply to them). Keep the tag for Next.
		p.stash, p.stashLine = t, line
		p.finishHead()
		return nil
	}
	p.stack = p.stack[:n-1]
	switch f.kind {
	case kContainer, kSuite:
		p.endSuite()
	case kCase:
		p.endCase()
	case kResult:
		p.endResult(strings.TrimSpace(string(p.body)))
	case kSuiteResult:
		r := p.result
		r.value = strings.TrimSpace(string(p.body))
		if s := len(p.suites); s > 0 {
			p.suites[s-1].pending = append(p.suites[s-1].pending, r)
		}
	case kProp:
		name := strings.TrimSpace(p.result.typ)
		value := p.result.value
		if !p.result.hasValue {
			value = strings.TrimSpace(string(p.body))
		}
		prop := Property{Name: p.intern(name), Value: value}
		if f.caseLevel && len(p.cases) > 0 {
			c := p.cases[len(p.cases)-1]
			c.props = append(c.props, prop)
		} else {
			p.suiteProperty(prop, f.line)
		}
	case kOutput:
		if len(p.scanner.found) == 0 {
			break
		}
		if f.caseLevel && len(p.cases) > 0 {
			c := p.cases[len(p.cases)-1]
			c.attach = appendUnique(c.attach, p.scanner.found...)
			break
		}
		suite, _, _ := p.innermost()
		for _, path := range p.scanner.found {
			a := SuiteAttachment{Suite: suite, Path: path}
			if !slices.Contains(p.sum.Attachments, a) {
				p.sum.Attachments = append(p.sum.Attachments, a)
			}
		}
	}
	return nil
}

// suiteProperty records a root- or suite-level property: in the head before
// the first test case, in the summary's late properties after it.
func (p *parser) suiteProperty(prop Property, line int) {
	if p.allProps != nil {
		*p.allProps = append(*p.allProps, prop)
	}
	if !p.headDone {
		if len(p.head.Properties) >= maxHeadProperties {
			if !p.again(WarnPropertiesLimit) {
				p.warnf(WarnPropertiesLimit, line, "more than %d properties before the first test case: the first %d kept", maxHeadProperties, maxHeadProperties)
			}
			return
		}
		p.head.Properties = append(p.head.Properties, prop)
		if n := len(p.suites); n > 0 {
			if i := p.suites[n-1].headIdx; i >= 0 {
				p.head.Suites[i].Properties = append(p.head.Suites[i].Properties, prop)
			}
		}
		return
	}
	if p.lateSeen[prop] {
		return
	}
	if len(p.sum.LateProperties) >= maxLateProperties {
		if !p.again(WarnPropertiesLimit) {
			p.warnf(WarnPropertiesLimit, line, "more than %d distinct properties after the first test case: the first %d kept", maxLateProperties, maxLateProperties)
		}
		return
	}
	if p.lateSeen == nil {
		p.lateSeen = map[Property]bool{}
	}
	p.lateSeen[prop] = true
	p.sum.LateProperties = append(p.sum.LateProperties, prop)
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func (p *parser) endResult(body string) {
	if len(p.cases) == 0 {
		return
	}
	c := p.cases[len(p.cases)-1]
	r := p.result
	switch r.elem {
	case "failure", "error", "skipped":
		if c.run.seen&(seenFailure|seenError|seenSkipped) != 0 {
			c.run.seen |= seenMulti
		}
	}
	switch r.elem {
	case "failure", "error":
		if r.elem == "failure" {
			c.run.seen |= seenFailure
		} else {
			c.run.seen |= seenError
		}
		if c.first == nil {
			c.first = &Failure{Kind: r.elem, Type: r.typ, Message: r.message, Body: body}
			return
		}
	case "skipped":
		c.run.seen |= seenSkipped
		if !c.skipped {
			c.skipped = true
			c.skipMsg = r.message
			if strings.TrimSpace(c.skipMsg) == "" {
				c.skipMsg = body
			}
		}
		return
	case "flakyFailure", "flakyError":
		c.flaky++
		c.run.Reruns++
		c.flakes = append(c.flakes, Failure{Kind: strings.ToLower(strings.TrimPrefix(r.elem, "flaky")), Type: r.typ, Message: r.message, Body: body})
	case "rerunFailure", "rerunError":
		c.run.Reruns++
		c.flakes = append(c.flakes, Failure{Kind: strings.ToLower(strings.TrimPrefix(r.elem, "rerun")), Type: r.typ, Message: r.message, Body: body})
	}
	// A further result: kept in the body of the failure, if the run fails.
	fmt.Fprintf(&c.extra, "\n\n--- %s", r.elem)
	if r.typ != "" {
		fmt.Fprintf(&c.extra, " %s", r.typ)
	}
	if r.message != "" {
		fmt.Fprintf(&c.extra, ": %s", r.message)
	}
	if body != "" {
		c.extra.WriteString("\n")
		c.extra.WriteString(body)
	}
}

var attrSkips = map[string]bool{
	"notrun": true, "not_run": true, "disabled": true, "skipped": true, "skip": true,
	"ignored": true, "suppressed": true, "pending": true,
}

var attrFails = map[string]string{
	"failed": "failure", "fail": "failure", "failure": "failure",
	"error": "error", "errored": "error", "broken": "error",
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (p *parser) endCase() {
	n := len(p.cases)
	c := p.cases[n-1]
	p.cases[n-1] = nil
	p.cases = p.cases[:n-1]
	r := &c.run
	unnamed := strings.TrimSpace(r.Name) == ""
	if unnamed {
		p.unnamed++
		r.Name = fmt.Sprintf("[unnamed testcase #%d]", p.unnamed)
		if !p.again(WarnUnnamedTestcase) {
			p.warnf(WarnUnnamedTestcase, r.Line, "testcase without a name: kept as %q", r.Name)
		}
	}
	switch {
	case c.first != nil:
		r.Status = Failed
		r.Failure = c.first
		if c.skipped {
			fmt.Fprintf(&c.extra, "\n\n--- skipped")
			if c.skipMsg != "" {
				fmt.Fprintf(&c.extra, ": %s", c.skipMsg)
			}
		}
		if c.extra.Len() > 0 {
			r.Failure.Body = strings.TrimLeft(r.Failure.Body+c.extra.String(), "\n")
		}
	case c.skipped:
		r.Status = Skipped
		r.SkipMessage = c.skipMsg
	case attrSkips[c.res]:
		r.Status = Skipped
		r.SkipMessage = fmt.Sprintf("result=%q", c.res)
	case attrSkips[c.status]:
		r.Status = Skipped
		r.SkipMessage = fmt.Sprintf("status=%q", c.status)
	case attrFails[c.status] != "":
		r.Status = Failed
		r.Failure = &Failure{Kind: attrFails[c.status], Message: fmt.Sprintf("status=%q without a <failure> or <error> element", c.status)}
		if c.extra.Len() > 0 {
			r.Failure.Body = strings.TrimLeft(c.extra.String(), "\n")
		}
	default:
		r.Status = Passed
		r.Flaky = c.flaky > 0
	}
	if r.Status != Failed {
		r.EarlierFailures = nilIfEmpty(c.flakes)
	}
	r.Attributes, r.Properties, r.Attachments = nilIfEmpty(c.attrs), nilIfEmpty(c.props), nilIfEmpty(c.attach)
	r.shared = true
	p.sum.Testcases++
	p.sum.RunTime += r.Duration
	p.seq++
	r.seq = p.seq
	p.free = append(p.free, c)
	if p.window > 0 && !unnamed && (r.Status == Failed || len(p.heldIdx) > 0) {
		_, _, s := p.innermost()
		key := runKey{suite: s.serial, classname: r.Classname, name: r.Name}
		if len(p.heldIdx) > 0 {
			if i, ok := p.heldIdx[key]; ok {
				p.merge(i, r)
				return
			}
		}
		if r.Status == Failed {
			p.hold(key, s.serial, r)
			return
		}
	}
	p.out = append(p.out, *r)
}

// runSize estimates the memory a held run keeps.
func runSize(r *Run) int {
	n := 512 + len(r.Name) + len(r.SkipMessage)
	if r.Failure != nil {
		n += len(r.Failure.Message) + len(r.Failure.Body) + len(r.Failure.Type)
	}
	for _, f := range r.EarlierFailures {
		n += 64 + len(f.Message) + len(f.Body) + len(f.Type)
	}
	for _, a := range r.Properties {
		n += 32 + len(a.Value)
	}
	for _, a := range r.Attributes {
		n += 32 + len(a.Value)
	}
	for _, a := range r.Attachments {
		n += 16 + len(a)
	}
	return n
}

// hold keeps a failed run back until its suite ends, in case it is rerun.
func (p *parser) hold(key runKey, suite int, r *Run) {
	h := heldRun{run: *r, key: key, suite: suite}
	own(&h.run)
	h.size = runSize(&h.run)
	p.heldIdx[key] = len(p.held)
	p.held = append(p.held, h)
	p.heldBytes += h.size
	p.trimHeld(r.Line)
}

// trimHeld passes the oldest held runs on while more are held than allowed.
func (p *parser) trimHeld(line int) {
	for p.heldStart < len(p.held) && (len(p.held)-p.heldStart > p.window || p.heldBytes > maxHeldBytes) {
		if !p.again(WarnRerunWindow) {
			p.warnf(WarnRerunWindow, line, "more than %d failed runs (or 8 MiB of their text) waiting for a rerun: the oldest is passed on, and a rerun of it later in its suite is a run of its own", p.window)
		}
		p.release(p.heldStart)
		p.heldStart++
	}
	if p.heldStart == len(p.held) {
		p.held, p.heldStart = p.held[:0], 0
	} else if p.heldStart > 64 && p.heldStart > len(p.held)/2 {
		// Compact: the live runs move to the front.
		n := copy(p.held, p.held[p.heldStart:])
		clear(p.held[n:])
		p.held, p.heldStart = p.held[:n], 0
		for i := range p.held {
			p.heldIdx[p.held[i].key] = i
		}
	}
}

// release passes held[i] on to Next.
func (p *parser) release(i int) {
	h := &p.held[i]
	if r := &h.run; r.Status == Failed && r.prior != nil && len(r.EarlierFailures) > 0 {
		// Failed again on its rerun: the earlier failures go into the body.
		f := *r.Failure
		var b strings.Builder
		b.WriteString(f.Body)
		for _, e := range r.EarlierFailures {
			b.WriteString("\n\n--- earlier attempt: " + e.Kind)
			if e.Type != "" {
				b.WriteString(" " + e.Type)
			}
			if e.Message != "" {
				b.WriteString(": " + e.Message)
			}
			if e.Body != "" {
				b.WriteString("\n" + e.Body)
			}
		}
		f.Body = strings.TrimLeft(b.String(), "\n")
		r.Failure, r.EarlierFailures = &f, nil
	}
	p.out = append(p.out, h.run)
	delete(p.heldIdx, h.key)
	p.heldBytes -= h.size
	*h = heldRun{}
}

// releaseHeld passes on the held runs of a suite as it ends (they are the
// last held), or all of them (suite -1).
func (p *parser) releaseHeld(suite int) {
	from := len(p.held)
	for from > p.heldStart && (suite < 0 || p.held[from-1].suite == suite) {
		from--
	}
	for i := from; i < len(p.held); i++ {
		p.release(i)
	}
	p.held = p.held[:from]
	if from == p.heldStart {
		p.held, p.heldStart = p.held[:0], 0
	}
}

// merge makes a repeated test case and the held run of its earlier attempts
// one run: the last attempt's result, the earlier failures in its body (when
// it failed again) or in EarlierFailures.
func (p *parser) merge(i int, r *Run) {
	h := &p.held[i]
	prev := &h.run
	if !p.again(WarnRerunMerged) {
		p.warnf(WarnRerunMerged, r.Line, "testcase %q (classname %q) repeats a failed one from line %d of its suite: read as a rerun, one run with the last attempt's result",
			clip(r.Name, 60), clip(r.Classname, 60), prev.Line)
	}
	m := *r
	own(&m)
	m.seq = prev.seq
	m.Reruns = prev.Reruns + r.Reruns + 1
	var prior []uint8
	if prev.prior != nil {
		prior = *prev.prior
	}
	prior = append(slices.Clip(prior), prev.seen)
	m.prior = &prior
	earlier := prev.EarlierFailures
	if prev.Failure != nil {
		earlier = append(slices.Clip(earlier), *prev.Failure)
	}
	for _, a := range prev.Attachments {
		if !slices.Contains(m.Attachments, a) {
			m.Attachments = append(m.Attachments, a)
		}
	}
	// The earlier failures stay a list while the run is held (another
	// attempt may come); a run that fails in the end gets them in its body
	// when it is passed on (release).
	m.EarlierFailures = append(earlier, m.EarlierFailures...)
	m.Flaky = m.Status == Passed
	p.heldBytes -= h.size
	h.run = m
	h.size = runSize(&h.run)
	p.heldBytes += h.size
	p.trimHeld(r.Line)
}

// deliver counts a run as Next returns it.
func (p *parser) deliver(r *Run) {
	p.sum.Counts.add(r)
	if !r.Started.IsZero() {
		if e := r.Started.Add(r.Duration); e.After(p.sum.RunEnd) {
			p.sum.RunEnd = e
		}
	}
}

func (p *parser) endSuite() {
	n := len(p.suites)
	if n == 0 {
		return
	}
	s := p.suites[n-1]
	p.suites = p.suites[:n-1]
	p.releaseHeld(s.serial)
	seen := map[string]int{}
	for _, r := range s.pending {
		seen[r.elem]++
		name := "[suite " + r.elem + "]"
		if seen[r.elem] > 1 {
			name += fmt.Sprintf(" #%d", seen[r.elem])
		}
		_, pkg, class := p.split(s.name)
		p.seq++
		run := Run{
			Suite: s.name, Classname: s.name, Package: pkg, Class: class, Name: name, Status: Failed, Started: s.started,
			Failure:    &Failure{Kind: r.elem, Type: r.typ, Message: r.message, Body: r.value},
			SuiteLevel: true, Line: r.line, seq: p.seq,
		}
		code := WarnSuiteError
		if r.elem == "failure" {
			code = WarnSuiteFailure
		}
		p.warnf(code, r.line, "suite-level <%s> in suite %q: reported as the failed run %q", r.elem, s.name, name)
		p.out = append(p.out, run)
	}
	clear(s.pending)
	p.freeSuites = append(p.freeSuites, s)
}

// setLocation changes where zone-less timestamps are read. Before the first
// Next, the head's timestamps are read again: the head's warnings are
// given again from the log, the suites' timestamps read in loc, and what the
// summary and the open suites took from them is computed again.
func (p *parser) setLocation(loc *time.Location) {
	if p.loc == loc {
		return
	}
	p.loc = loc
	p.head.Location, p.sum.Location = loc, loc
	if p.running || !p.replayable {
		return
	}
	log := p.headLog
	p.headLog = nil
	p.sum.Warnings, p.sum.ZoneLess = nil, false
	clear(p.warned)
	for _, e := range log {
		if e.suite < 0 {
			p.warnf(e.code, e.line, "%s", e.msg)
			continue
		}
		hs := &p.head.Suites[e.suite]
		p.logHead(e)
		p.quiet = true
		t, zl := p.timestamp(hs.tsText, hs.Line)
		p.quiet = false
		hs.Timestamp, hs.ZoneLess = t, zl && !t.IsZero()
	}
	// As startSuite computes them, from the head's suites (all the suites
	// read so far).
	p.head.Timestamp, p.head.ZoneLess = time.Time{}, false
	p.sum.Start, p.sum.SuiteEnd = time.Time{}, time.Time{}
	p.sum.SuitesTimestamped, p.sum.SuiteTime, p.sum.UnplacedTime = 0, 0, 0
	type level struct {
		started time.Time
		timed   bool
	}
	var stack []level
	eff := make([]time.Time, len(p.head.Suites))
	for i := range p.head.Suites {
		hs := &p.head.Suites[i]
		stack = stack[:min(hs.Depth, len(stack))]
		var l level
		if n := len(stack); n > 0 {
			l = stack[n-1]
		}
		if !hs.Timestamp.IsZero() {
			l.started = hs.Timestamp
		}
		if !hs.Container {
			if !hs.Timestamp.IsZero() {
				p.sum.SuitesTimestamped++
				if p.sum.Start.IsZero() || hs.Timestamp.Before(p.sum.Start) {
					p.sum.Start = hs.Timestamp
				}
				if p.head.Timestamp.IsZero() || hs.Timestamp.Before(p.head.Timestamp) {
					p.head.Timestamp, p.head.ZoneLess = hs.Timestamp, hs.ZoneLess
				}
			}
			if hs.HasTime {
				if !l.timed {
					p.sum.SuiteTime += hs.Time
					if l.started.IsZero() {
						p.sum.UnplacedTime += hs.Time
					}
				}
				if !l.started.IsZero() {
					if e := l.started.Add(hs.Time); e.After(p.sum.SuiteEnd) {
						p.sum.SuiteEnd = e
					}
				}
				l.timed = true
			}
		}
		stack = append(stack, l)
		eff[i] = l.started
	}
	for _, s := range p.suites {
		if s.headIdx >= 0 {
			s.started = eff[s.headIdx]
		}
	}
}
