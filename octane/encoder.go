package octane

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Field is a test field (Type: Test_Level, Test_Type, Testing_Tool_Type,
// Framework) or an environment taxonomy (Type: any taxonomy type).
type Field struct{ Type, Value string }

// BuildRef ties the runs to a build: ci_server instance id, job ci id, build ci id.
type BuildRef struct{ ServerID, JobID, BuildID string }

// ResultContext is what a payload says about all its runs, written in XSD order:
// build, release_ref|release, milestone_ref, backlog_items, product_areas,
// test_fields, environment.
type ResultContext struct {
	Build                      *BuildRef
	ReleaseID                  int64  // > 0: release_ref
	ReleaseName                string // when ReleaseID is 0: release name ("_default_" = default release)
	MilestoneID                int64
	BacklogItems, ProductAreas []int64
	TestFields, Environment    []Field
}

// RunError is the failure of a run: exception type, message and stack trace.
type RunError struct{ Type, Message, Body string }

// TestRun is one test_run element.
type TestRun struct {
	Module, Package, Class, Name string
	Status                       string // Passed|Failed|Skipped (or Planned)
	Duration                     time.Duration
	Started                      time.Time // zero = omitted
	Error                        *RunError
	Description                  string
	ExternalReportURL            string
}

// Test-run statuses.
const (
	StatusPassed  = "Passed"
	StatusFailed  = "Failed"
	StatusSkipped = "Skipped"
	StatusPlanned = "Planned"
)

var (
	testFieldTypes = []string{"Test_Level", "Test_Type", "Testing_Tool_Type", "Framework"}
	runStatuses    = []string{StatusPassed, StatusFailed, StatusSkipped, StatusPlanned}
	reReportURL    = regexp.MustCompile(`^(([hH][tT]{2}[pP][sS]?://.*)|([tT][dD][sS]?://.*)|(testdirector[s]?:.*))$`)
)

// maxWarnings bounds the warnings an Encoder keeps; the rest are counted.
const maxWarnings = 1000

// Encoder writes one test_result document, deterministically: the same context
// and runs give the same bytes. It never writes a value the XSD would reject:
// over-long values are cut (counting characters), characters invalid in XML 1.0
// are dropped, and each change is recorded in Warnings.
type Encoder struct {
	w        io.Writer
	ctx      ResultContext
	fragment bool // test_run elements only (NewRunEncoder)
	started  bool
	closed   bool
	err      error
	runs     int
	warnings []string
	dropped  int
	buf      bytes.Buffer
}

// NewEncoder returns an encoder writing to w. Nothing is written until the
// first Encode or Close.
func NewEncoder(w io.Writer, ctx ResultContext) *Encoder {
	return &Encoder{w: w, ctx: ctx}
}

// NewRunEncoder returns an encoder writing test_run elements alone, with no prolog, context or
// closing tags: a fragment of a payload that a payload's Encoder takes whole with
// WriteEncoded. A large report is encoded this way as it is read, one fragment at a time,
// before it is known which payload each fragment goes to.
func NewRunEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, fragment: true}
}

// WriteEncoded writes runs that a run encoder (NewRunEncoder) wrote: n test_run elements,
// exactly as that encoder wrote them.
func (e *Encoder) WriteEncoded(runs []byte, n int) error {
	if e.closed {
		return errors.New("octane: test results: WriteEncoded after Close")
	}
	if err := e.header(); err != nil {
		return err
	}
	if e.err == nil && len(runs) > 0 {
		if err := e.flush(); err != nil {
			return err
		}
		if _, err := e.w.Write(runs); err != nil {
			e.err = fmt.Errorf("octane: writing test results: %w", err)
			return e.err
		}
	}
	if e.err == nil {
		e.runs += n
	}
	return e.err
}

// Runs is the number of test runs written so far.
func (e *Encoder) Runs() int { return e.runs }

// Warnings lists the truncations and replacements made so far.
func (e *Encoder) Warnings() []string {
	out := append([]string(nil), e.warnings...)
	if e.dropped > 0 {
		out = append(out, fmt.Sprintf("… and %d more warnings", e.dropped))
	}
	return out
}

func (e *Encoder) warn(format string, args ...any) {
	if len(e.warnings) >= maxWarnings {
		e.dropped++
		return
	}
	e.warnings = append(e.warnings, fmt.Sprintf(format, args...))
}

// clean makes v valid XML and at most max characters (max 0 = unbounded).
func (e *Encoder) clean(where *place, what, v string, max int) string {
	v, rep, drop := cleanXML(v)
	if rep > 0 {
		e.warn("%s: %s: %d invalid UTF-8 byte(s) replaced by U+FFFD", where.String(), what, rep)
	}
	if drop > 0 {
		e.warn("%s: %s: %d character(s) invalid in XML 1.0 removed", where.String(), what, drop)
	}
	if max > 0 {
		n := utf8.RuneCountInString(v)
		if cut, ok := truncateRunes(v, max); ok {
			e.warn("%s: %s cut from %d to %d characters", where.String(), what, n, max)
			v = cut
		}
	}
	return v
}

// long cleans a free text (error type, message and text, description) and caps
// it at MaxErrorText characters, head and tail kept.
func (e *Encoder) long(where *place, what, v string) string {
	v = e.clean(where, what, v, 0)
	if out, n := capText(v, MaxErrorText); n > 0 {
		e.warn("%s: %s cut from %d to %d characters (Octane's XML parser limit), head and tail kept", where.String(), what, n, MaxErrorText)
		v = out
	}
	return v
}

// id makes an identifier valid and at most 255 characters (prefix + hash).
func (e *Encoder) id(where, what, v string) string {
	v, rep, drop := cleanXML(v)
	if rep+drop > 0 {
		e.warn("%s: %s: %d invalid character(s) replaced or removed", where, what, rep+drop)
	}
	if s, ok := shortenID(v, MaxName); ok {
		e.warn("%s: %s longer than %d characters, shortened to %q", where, what, MaxName, s)
		v = s
	}
	return v
}

// attr writes ` name="value"` (escaped).
func attr(b *bytes.Buffer, name, value string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	escape(b, value, true)
	b.WriteByte('"')
}

// attrInt writes ` name="n"`.
func attrInt(b *bytes.Buffer, name string, n int64) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), n, 10))
	b.WriteByte('"')
}

// escape writes s escaped for XML text or (attr) an attribute value. Tabs and
// line breaks in attributes become character references so they survive
// attribute-value normalisation.
func escape(b *bytes.Buffer, s string, isAttr bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			if !isAttr {
				continue
			}
			rep = "&quot;"
		case '\t':
			if !isAttr {
				continue
			}
			rep = "&#x9;"
		case '\n':
			if !isAttr {
				continue
			}
			rep = "&#xA;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}

func (e *Encoder) flush() error {
	if e.err != nil {
		return e.err
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		e.err = fmt.Errorf("octane: writing test results: %w", err)
	}
	e.buf.Reset()
	return e.err
}

// header writes the prolog, the context elements and <test_runs>.
func (e *Encoder) header() error {
	if e.started {
		return e.err
	}
	e.started = true
	if e.fragment {
		return nil
	}
	b := &e.buf
	c := e.ctx
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<test_result>\n")
	if c.Build != nil {
		if c.Build.ServerID == "" || c.Build.JobID == "" || c.Build.BuildID == "" {
			e.err = fmt.Errorf("octane: test results: build reference needs server, job and build ids (got %q, %q, %q)", c.Build.ServerID, c.Build.JobID, c.Build.BuildID)
			return e.err
		}
		b.WriteString("  <build")
		attr(b, "server_id", e.id("build", "server_id", c.Build.ServerID))
		attr(b, "job_id", e.id("build", "job_id", c.Build.JobID))
		attr(b, "build_id", e.id("build", "build_id", c.Build.BuildID))
		b.WriteString("/>\n")
	}
	switch {
	case c.ReleaseID > 0:
		fmt.Fprintf(b, "  <release_ref id=\"%d\"/>\n", c.ReleaseID)
	case c.ReleaseName != "":
		b.WriteString("  <release")
		attr(b, "name", e.clean(&place{label: "release"}, "name", c.ReleaseName, MaxName))
		b.WriteString("/>\n")
	}
	if c.MilestoneID > 0 {
		fmt.Fprintf(b, "  <milestone_ref id=\"%d\"/>\n", c.MilestoneID)
	}
	writeRefs := func(outer, inner string, ids []int64) {
		if len(ids) == 0 {
			return
		}
		fmt.Fprintf(b, "  <%s>\n", outer)
		for _, id := range ids {
			fmt.Fprintf(b, "    <%s id=\"%d\"/>\n", inner, id)
		}
		fmt.Fprintf(b, "  </%s>\n", outer)
	}
	writeRefs("backlog_items", "backlog_item_ref", c.BacklogItems)
	writeRefs("product_areas", "product_area_ref", c.ProductAreas)
	writeFields := func(outer, inner string, fs []Field, check bool) {
		var kept []Field
		for _, f := range fs {
			if check && !oneOf(f.Type, testFieldTypes) {
				if t, ok := fieldType(f.Type); ok {
					f.Type = t
				} else {
					e.warn("%s: type %q is not one of %s; left out", outer, f.Type, strings.Join(testFieldTypes, ", "))
					continue
				}
			}
			f.Type = e.clean(&place{label: outer}, "type", f.Type, MaxName)
			f.Value = e.clean(&place{label: outer}, f.Type, f.Value, MaxName)
			if strings.TrimSpace(f.Value) == "" || f.Type == "" {
				e.warn("%s: %q has an empty value; left out", outer, f.Type)
				continue
			}
			kept = append(kept, f)
		}
		if len(kept) == 0 {
			return
		}
		fmt.Fprintf(b, "  <%s>\n", outer)
		for _, f := range kept {
			fmt.Fprintf(b, "    <%s", inner)
			attr(b, "type", f.Type)
			attr(b, "value", f.Value)
			b.WriteString("/>\n")
		}
		fmt.Fprintf(b, "  </%s>\n", outer)
	}
	writeFields("test_fields", "test_field", c.TestFields, true)
	writeFields("environment", "taxonomy", c.Environment, false)
	b.WriteString("  <test_runs>\n")
	return e.flush()
}

// fieldType accepts a test-field type in another case or with spaces.
func fieldType(t string) (string, bool) {
	n := strings.ReplaceAll(strings.TrimSpace(t), " ", "_")
	for _, s := range testFieldTypes {
		if strings.EqualFold(n, s) {
			return s, true
		}
	}
	return "", false
}

// Encode writes one test_run. A run it cannot express (no name, unknown status)
// is an error and nothing is written for it; the encoder stays usable.
func (e *Encoder) Encode(r TestRun) error {
	if e.closed {
		return errors.New("octane: test results: Encode after Close")
	}
	if err := e.header(); err != nil {
		return err
	}
	status := r.Status
	if !oneOf(status, runStatuses) {
		s, ok := runStatus(status)
		if !ok {
			return fmt.Errorf("octane: test run %q: status %q is not one of %s", r.Name, r.Status, strings.Join(runStatuses, ", "))
		}
		status = s
	}
	where := &place{run: true, pkg: r.Package, class: r.Class, name: r.Name} // named only in a warning or an error
	name := e.clean(where, "name", r.Name, MaxName)
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("octane: %s: empty name", where.String())
	}
	dur := r.Duration.Milliseconds()
	if dur < 0 {
		e.warn("%s: negative duration written as 0", where.String())
		dur = 0
	}
	b := &e.buf
	b.WriteString("    <test_run")
	if v := e.clean(where, "module", r.Module, MaxName); v != "" {
		attr(b, "module", v)
	}
	if v := e.clean(where, "package", r.Package, MaxName); v != "" {
		attr(b, "package", v)
	}
	if v := e.clean(where, "class", r.Class, MaxName); v != "" {
		attr(b, "class", v)
	}
	attr(b, "name", name)
	attr(b, "status", status)
	attrInt(b, "duration", dur)
	if !r.Started.IsZero() {
		attrInt(b, "started", r.Started.UnixMilli())
	}
	if u := r.ExternalReportURL; u != "" {
		u, _, _ = cleanXML(u)
		n := utf8.RuneCountInString(u)
		if n < 6 || n > 512 || !reReportURL.MatchString(u) {
			e.warn("%s: external_report_url left out (must be an http(s), td(s) or testdirector URL of 6 to 512 characters)", where.String())
		} else {
			attr(b, "external_report_url", u)
		}
	}
	desc := e.long(where, "description", r.Description)
	if r.Error == nil && desc == "" {
		b.WriteString("/>\n")
	} else {
		b.WriteString(">\n")
		if r.Error != nil {
			b.WriteString("      <error")
			if v := e.long(where, "error type", r.Error.Type); v != "" {
				attr(b, "type", v)
			}
			if v := e.long(where, "error message", r.Error.Message); v != "" {
				attr(b, "message", v)
			}
			body := e.long(where, "error body", r.Error.Body)
			if body == "" {
				b.WriteString("/>\n")
			} else {
				b.WriteString(">")
				escape(b, body, false)
				b.WriteString("</error>\n")
			}
		}
		if desc != "" {
			b.WriteString("      <description>")
			escape(b, desc, false)
			b.WriteString("</description>\n")
		}
		b.WriteString("    </test_run>\n")
	}
	if err := e.flush(); err != nil {
		return err
	}
	e.runs++
	return nil
}

// place is what a warning names: a fixed label, or a run, named (runLabel) when first
// needed: most runs need no warning, and naming one costs more than writing it. Its String
// is called before a warning is formatted, so that a place does not escape to the heap.
type place struct {
	label            string
	run              bool // a run: label is made from pkg, class and name
	pkg, class, name string
}

func (p *place) String() string {
	if p.run {
		p.label, p.run = runLabel(TestRun{Package: p.pkg, Class: p.class, Name: p.name}), false
	}
	return p.label
}

// runLabel names a run in warnings and errors: `test_run "pkg.Class.name"`,
// cleaned and cut to 100 characters.
func runLabel(r TestRun) string {
	full, _, _ := cleanXML(strings.Trim(strings.Join([]string{r.Package, r.Class, r.Name}, "."), "."))
	if cut, ok := truncateRunes(full, 99); ok {
		full = cut + "…"
	}
	return "test_run " + strconv.Quote(full)
}

// runStatus accepts a status in another case.
func runStatus(s string) (string, bool) {
	for _, v := range runStatuses {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return v, true
		}
	}
	return "", false
}

// Close writes the closing tags (and the header, for a payload without runs).
func (e *Encoder) Close() error {
	if e.closed {
		return e.err
	}
	if err := e.header(); err != nil {
		e.closed = true
		return err
	}
	e.closed = true
	if !e.fragment {
		e.buf.WriteString("  </test_runs>\n</test_result>\n")
	}
	return e.flush()
}

// Remark writes an XML comment after the payload's root element: the same runs in new
// bytes, so that Octane processes a payload sent again on purpose (octane-import retry)
// instead of answering with the task of the earlier, failed one. The note must be
// deterministic: a resend after a crash must be byte for byte the same.
func Remark(w io.Writer, note string) error {
	note = strings.ReplaceAll(note, "--", "- -") // "--" may not appear in an XML comment
	_, err := fmt.Fprintf(w, "\n<!-- octane-import %s -->\n", note)
	return err
}

// RemarkGzipped is Remark on a stored, gzipped payload: it returns the payload with the
// comment added, gzipped again.
func RemarkGzipped(gzipped []byte, note string) ([]byte, error) {
	data, err := gunzip(gzipped)
	if err != nil {
		return nil, fmt.Errorf("octane: remark: %w", err)
	}
	plain := bytes.NewBuffer(data)
	if err := Remark(plain, note); err != nil {
		return nil, err
	}
	return Gzip(plain.Bytes())
}

// maxPayload bounds a decompressed test-results payload (the importer makes
// them at most 8 MiB); more means the bytes are not a payload of ours.
const maxPayload = 1 << 30

// gunzip decompresses a payload of ours (Gzip, WritePayload): at most
// maxPayload bytes of it.
func gunzip(gzipped []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gzipped))
	if err != nil {
		return nil, fmt.Errorf("the payload is not gzip data: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxPayload+1))
	if err == nil && len(plain) > maxPayload {
		err = fmt.Errorf("larger than %d bytes decompressed", maxPayload)
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing the payload: %w", err)
	}
	return plain, nil
}

// gzipLevel is the compression of payloads. Level 2 compresses test-results XML about five times
// as fast as gzip.BestCompression (470 against 85-105 MB/s) to 6.4 % of its size instead of
// 4.0 % (bench BenchmarkPayload, docs/performance.md): the payloads are compressed on the
// reading path, where the CPU is the limit, and they stay small either way. Any fixed level
// keeps Gzip deterministic.
const gzipLevel = 2

// gzipWriters reuses compressors: each holds some hundreds of KiB of tables that a new one
// would allocate and clear.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzipLevel) // the level is valid: no error
	return zw
}}

// WritePayload writes one gzipped payload to w: the context, n runs a run encoder wrote
// (NewRunEncoder), and a Remark when note is not empty; the same as encoding the runs
// with NewEncoder and compressing the document with Gzip. It returns the warnings of the
// context (the runs' were the run encoder's).
func WritePayload(w io.Writer, ctx ResultContext, runs []byte, n int, note string) ([]string, error) {
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(w)
	e := NewEncoder(zw, ctx)
	err := e.WriteEncoded(runs, n)
	if err == nil {
		err = e.Close()
	}
	if err == nil && note != "" {
		err = Remark(zw, note)
	}
	if cerr := zw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("octane: gzip: %w", cerr)
	}
	return e.Warnings(), err
}

// Gzip compresses data deterministically: no file name, no modification time.
func Gzip(data []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(data)/8 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&b) // the zero Header: no name, no comment, mtime 0
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("octane: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("octane: gzip: %w", err)
	}
	return b.Bytes(), nil
}
