package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Options tune ReadWith.
type Options struct {
	// Location is used for timestamps written without a zone (Surefire,
	// pytest and others write local time). Nil means time.Local.
	Location *time.Location
}

// Read reads one JUnit report from rd. name is the file name used in errors
// and warnings. Errors are *Error, matching ErrEmpty, ErrNotJUnit,
// ErrMalformed, ErrDoctype or ErrEncoding with errors.Is (or wrapping the
// reader's own error).
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

// ReadWith is Read with options.
func ReadWith(rd io.Reader, name string, opts Options) (*Report, error) {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	p := &parser{
		name:   name,
		loc:    opts.Location,
		rep:    &Report{Path: name, Runs: []Run{}},
		warned: map[string]int{},
		strs:   map[string]string{},
		splits: map[string][2]string{},
	}
	er := &errReader{r: rd}
	in, err := p.input(er)
	if err != nil {
		return nil, &Error{File: name, Msg: "read: " + err.Error(), Err: err}
	}
	p.dec = xml.NewDecoder(in)
	p.dec.Strict = true
	p.dec.CharsetReader = p.charsetReader
	if err := p.run(er); err != nil {
		return nil, err
	}
	p.finishWarnings()
	return p.rep, nil
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
	started   time.Time
	pending   []pendingResult // suite-level <error>/<failure>
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
	status, res string // status= and result= attributes
}

type parser struct {
	name string
	loc  *time.Location
	dec  *xml.Decoder
	rep  *Report

	utf16 string // set when the input was transcoded from UTF-16

	stack  []frame
	suites []*suiteFrame
	cases  []*caseBuilder
	free   []*caseBuilder // builders to reuse

	chunks [][]Run // full chunks of runs, see addRun
	cur    []Run
	nRuns  int

	result  pendingResult // the open result or property element
	body    []byte        // text of the open result (and its <stackTrace>) or property
	scanner attachmentScanner

	rootSeen, rootClosed bool
	unnamed              int

	warned   map[string]int // warning kind → index in rep.Warnings
	counts   []int          // occurrences per warning, parallel to rep.Warnings
	strs     map[string]string
	splits   map[string][2]string
	lastLine int
}

// warnf records a warning; a kind already seen only counts the occurrence, so
// a 200,000-test report with one systematic problem gives one warning line.
func (p *parser) warnf(kind string, line int, format string, args ...any) {
	if i, ok := p.warned[kind]; ok {
		p.counts[i]++
		return
	}
	p.warned[kind] = len(p.rep.Warnings)
	p.counts = append(p.counts, 1)
	loc := p.name
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", p.name, line)
	}
	p.rep.Warnings = append(p.rep.Warnings, loc+": "+fmt.Sprintf(format, args...))
}

func (p *parser) finishWarnings() {
	for i, n := range p.counts {
		if n > 1 {
			p.rep.Warnings[i] += fmt.Sprintf(" (%d times, first shown)", n)
		}
	}
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

func (p *parser) run(er *errReader) error {
	for {
		line, _ := p.dec.InputPos()
		p.lastLine = line
		// RawToken, not Token: Token copies every element for namespace
		// translation, which we do not need (names are matched on their
		// local part); end tags are matched against our own stack.
		tok, err := p.dec.RawToken()
		if err != nil {
			if err == io.EOF {
				if n := len(p.stack); n > 0 {
					line, _ := p.dec.InputPos()
					f := p.stack[n-1]
					return p.fail(line, ErrMalformed, "unexpected end of file: <%s> from line %d is not closed (truncated report)", f.name, f.line)
				}
				break
			}
			return p.decodeError(err, er, line)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := p.start(t, line); err != nil {
				return err
			}
		case xml.EndElement:
			if err := p.end(t, line); err != nil {
				return err
			}
		case xml.CharData:
			if err := p.text(t, line); err != nil {
				return err
			}
		case xml.Directive:
			return p.fail(line, ErrDoctype, "DOCTYPE or entity declaration refused (never resolved): <!%s", clip(string(t), 40))
		}
	}
	if !p.rootSeen {
		return p.fail(0, ErrEmpty, "empty report: no XML element")
	}
	p.collectRuns()
	if len(p.rep.Runs) == 0 {
		p.warnf("no-tests", 0, "the report holds no test cases")
	}
	return nil
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (p *parser) decodeError(err error, er *errReader, line int) error {
	if er.err != nil && errors.Is(err, er.err) {
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
		case isRoot(name):
			p.warnf("second-root", line, "another root element <%s> after the first one: read as well", name)
		default:
			p.warnf("after-root", line, "element <%s> after the root element ignored", name)
			p.stack = append(p.stack, frame{name: name, space: t.Name.Space, kind: kIgnore, line: line})
			return nil
		}
	}
	k := p.classify(name)
	f := frame{name: name, space: t.Name.Space, kind: k, line: line}
	switch k {
	case kContainer, kSuite:
		p.startSuite(t, k == kContainer, line)
	case kCase:
		if len(p.cases) > 0 {
			p.warnf("nested-testcase", line, "<testcase> inside a <testcase>: read as a test of its own")
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
		p.warnf("suite-skipped", line, "<skipped> outside a testcase ignored")
	}
	p.stack = append(p.stack, f)
	return nil
}

func (p *parser) startSuite(t xml.StartElement, container bool, line int) {
	s := &suiteFrame{container: container}
	if !container {
		p.rep.Suites++
		name, _ := attr(t, "name")
		s.name = p.intern(name)
	}
	if ts, ok := attr(t, "timestamp"); ok {
		s.started = p.timestamp(ts, line)
		if !s.started.IsZero() && (p.rep.Timestamp.IsZero() || s.started.Before(p.rep.Timestamp)) {
			p.rep.Timestamp = s.started
		}
	}
	p.suites = append(p.suites, s)
}

func (p *parser) timestamp(s string, line int) time.Time {
	t, ok, plausible := parseTimestamp(s, p.loc)
	switch {
	case !ok:
		if strings.TrimSpace(s) != "" {
			p.warnf("timestamp", line, "timestamp %q not understood: start time unknown", clip(s, 40))
		}
		return time.Time{}
	case !plausible:
		p.warnf("timestamp-placeholder", line, "timestamp %q is a placeholder: start time unknown", clip(s, 40))
		return time.Time{}
	}
	return t
}

// innermost returns the innermost suite (not container) name and the nearest
// known start time.
func (p *parser) innermost() (suite string, started time.Time) {
	named := false
	for i := len(p.suites) - 1; i >= 0; i-- {
		s := p.suites[i]
		if !named && !s.container {
			suite, named = s.name, true
		}
		if started.IsZero() {
			started = s.started
		}
		if named && !started.IsZero() {
			break
		}
	}
	return suite, started
}

func (p *parser) split(classname string) (pkg, class string) {
	if v, ok := p.splits[classname]; ok {
		return v[0], v[1]
	}
	pkg, class = splitClassname(classname)
	pkg, class = p.intern(pkg), p.intern(class)
	if len(p.splits) < 1<<14 {
		p.splits[p.intern(classname)] = [2]string{pkg, class}
	}
	return pkg, class
}

func (p *parser) startCase(t xml.StartElement, line int) {
	var c *caseBuilder
	if n := len(p.free); n > 0 {
		c, p.free = p.free[n-1], p.free[:n-1]
		*c = caseBuilder{}
	} else {
		c = &caseBuilder{}
	}
	r := &c.run
	r.Line = line
	suite, started := p.innermost()
	r.Suite, r.Started = suite, started
	var classname, class string
	var hasClassname bool
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
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
			if ts := p.timestamp(a.Value, line); !ts.IsZero() {
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
			r.Attributes = append(r.Attributes, Property{Name: p.intern(a.Name.Local), Value: p.intern(a.Value)})
		}
	}
	if !hasClassname || strings.TrimSpace(classname) == "" {
		classname = class // Codeception writes class=
	}
	if strings.TrimSpace(classname) == "" {
		classname = suite // as Jenkins does
	}
	r.Package, r.Class = p.split(classname)
	p.cases = append(p.cases, c)
}

func (p *parser) duration(s string, line int) time.Duration {
	d, issue := parseSeconds(s)
	switch issue {
	case durUnreadable:
		p.warnf("time-unreadable", line, "time %q is not a number of seconds: duration 0", clip(s, 40))
	case durNegative:
		p.warnf("time-negative", line, "negative time %q: duration 0", clip(s, 40))
	case durNanoseconds:
		p.warnf("time-nanoseconds", line, "time %q is too large for seconds: read as nanoseconds (%s)", clip(s, 40), d)
	case durTooLarge:
		p.warnf("time-too-large", line, "time %q is too large: duration 0", clip(s, 40))
	case durDecimalComma:
		p.warnf("time-comma", line, "time %q read with a decimal comma (%s)", clip(s, 40), d)
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
		p.warnf("after-root-text", line, "text after the root element ignored: %q", clip(string(t), 30))
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
			r := &p.cases[len(p.cases)-1].run
			r.Properties = append(r.Properties, prop)
		} else {
			p.rep.Properties = append(p.rep.Properties, prop)
		}
	case kOutput:
		if len(p.scanner.found) == 0 {
			break
		}
		if f.caseLevel && len(p.cases) > 0 {
			r := &p.cases[len(p.cases)-1].run
			r.Attachments = appendUnique(r.Attachments, p.scanner.found...)
			break
		}
		suite, _ := p.innermost()
		for _, path := range p.scanner.found {
			a := SuiteAttachment{Suite: suite, Path: path}
			dup := false
			for _, b := range p.rep.Attachments {
				dup = dup || a == b
			}
			if !dup {
				p.rep.Attachments = append(p.rep.Attachments, a)
			}
		}
	}
	if len(p.stack) == 0 {
		p.rootClosed = true
	}
	return nil
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// addRun stores a run. Runs go into chunks that never move, and are copied
// once into a slice of the exact size at the end: appending to one slice
// would copy (and keep alive while copying) the whole slice at each growth.
func (p *parser) addRun(r *Run) {
	if len(p.cur) == cap(p.cur) {
		if len(p.cur) > 0 {
			p.chunks = append(p.chunks, p.cur)
		}
		p.cur = make([]Run, 0, min(8192, max(64, 2*cap(p.cur))))
	}
	p.cur = append(p.cur, *r)
	p.nRuns++
}

func (p *parser) collectRuns() {
	runs := make([]Run, 0, p.nRuns)
	for i, c := range p.chunks {
		runs = append(runs, c...)
		p.chunks[i] = nil
	}
	p.rep.Runs = append(runs, p.cur...)
	p.cur = nil
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
	case "rerunFailure", "rerunError":
		c.run.Reruns++
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

func (p *parser) endCase() {
	n := len(p.cases)
	c := p.cases[n-1]
	p.cases[n-1] = nil
	p.cases = p.cases[:n-1]
	r := &c.run
	if strings.TrimSpace(r.Name) == "" {
		p.unnamed++
		r.Name = fmt.Sprintf("[unnamed testcase #%d]", p.unnamed)
		p.warnf("unnamed", r.Line, "testcase without a name: kept as %q", r.Name)
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
	p.addRun(r)
	p.free = append(p.free, c)
}

func (p *parser) endSuite() {
	n := len(p.suites)
	if n == 0 {
		return
	}
	s := p.suites[n-1]
	p.suites = p.suites[:n-1]
	seen := map[string]int{}
	for _, r := range s.pending {
		seen[r.elem]++
		name := "[suite " + r.elem + "]"
		if seen[r.elem] > 1 {
			name += fmt.Sprintf(" #%d", seen[r.elem])
		}
		pkg, class := p.split(s.name)
		started := s.started
		if started.IsZero() {
			_, started = p.innermost()
		}
		run := Run{
			Suite: s.name, Package: pkg, Class: class, Name: name, Status: Failed, Started: started,
			Failure:    &Failure{Kind: r.elem, Type: r.typ, Message: r.message, Body: r.value},
			SuiteLevel: true, Line: r.line,
		}
		p.warnf("suite-level-"+r.elem, r.line, "suite-level <%s> in suite %q: reported as the failed run %q", r.elem, s.name, name)
		p.addRun(&run)
	}
}
