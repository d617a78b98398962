package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// streamed is what a Decoder gave, runs copied as a caller keeping them must.
type streamed struct {
	head *Head
	runs []Run
	sum  *Summary
}

func deepCopy(r *Run) Run {
	x := *r
	own(&x)
	if x.Failure != nil {
		f := *x.Failure
		x.Failure = &f
	}
	return x
}

// stream reads a report with a Decoder, copying every run.
func stream(rd io.Reader, name string, opts Options) (streamed, error) {
	d := NewDecoder(rd, name, opts)
	h, err := d.Head()
	if err != nil {
		return streamed{}, err
	}
	var s streamed
	s.head = h
	for {
		r, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		s.runs = append(s.runs, deepCopy(r))
	}
	s.sum = d.Summary()
	if _, err := d.Next(); err != io.EOF {
		return s, errors.New("Next after the end did not return io.EOF again")
	}
	return s, nil
}

func streamFixture(t *testing.T, name string, opts Options) streamed {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := stream(bytes.NewReader(data), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// agree checks that a Decoder gives what Read gives: the same runs (in
// document order once sorted back), the same counts, warnings and timestamp,
// and Head's properties a prefix of Read's, the rest in LateProperties.
func agree(t *testing.T, data []byte, name string, opts Options) {
	t.Helper()
	rep, rerr := ReadWith(bytes.NewReader(data), name, opts)
	readers := map[string]io.Reader{
		"whole": bytes.NewReader(data),
		"half":  iotest.HalfReader(bytes.NewReader(data)),
	}
	if len(data) <= 128<<10 {
		readers["one byte"] = iotest.OneByteReader(bytes.NewReader(data))
	}
	for how, rd := range readers {
		s, err := stream(rd, name, opts)
		if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
			t.Fatalf("%s: stream error %v, Read error %v", how, err, rerr)
		}
		if err != nil {
			continue
		}
		runs := slices.Clone(s.runs)
		slices.SortStableFunc(runs, byPosition)
		if len(runs) != len(rep.Runs) {
			t.Fatalf("%s: %d streamed runs, Read has %d", how, len(runs), len(rep.Runs))
		}
		for i := range runs {
			if !reflect.DeepEqual(runs[i], rep.Runs[i]) {
				t.Fatalf("%s: streamed run %d differs from Read's:\n%+v\n%+v", how, i, runs[i], rep.Runs[i])
			}
		}
		if c := s.sum.Counts; c != rep.Counts() {
			t.Errorf("%s: summary counts %+v, Read's %+v", how, c, rep.Counts())
		}
		if !slices.Equal(s.sum.Warnings, rep.Warnings) {
			t.Errorf("%s: warnings %v, Read's %v", how, s.sum.Warnings, rep.Warnings)
		}
		if !s.sum.Start.Equal(rep.Timestamp) || s.sum.Suites != rep.Suites || !slices.Equal(s.sum.Attachments, rep.Attachments) {
			t.Errorf("%s: summary %+v, report timestamp %v suites %d", how, s.sum, rep.Timestamp, rep.Suites)
		}
		n := len(s.head.Properties)
		if n > len(rep.Properties) || !slices.Equal(s.head.Properties, rep.Properties[:n]) {
			t.Errorf("%s: head properties %v are not the start of %v", how, s.head.Properties, rep.Properties)
		}
		for _, p := range rep.Properties[n:] {
			if !slices.Contains(s.sum.LateProperties, p) && len(s.sum.LateProperties) < maxLateProperties {
				t.Errorf("%s: property %v is neither in the head nor late", how, p)
			}
		}
		var runTime time.Duration
		for _, r := range s.runs {
			runTime += r.Duration
		}
		if s.sum.RunTime < runTime {
			t.Errorf("%s: RunTime %v less than the runs' %v", how, s.sum.RunTime, runTime)
		}
	}
}

func TestDecoderAgreesWithRead(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.xml")
	if dir := corpusDirOrEmpty(); dir != "" {
		corpus, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		paths = append(paths, corpus...)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, opts := range []Options{
				{Location: time.UTC},
				{Location: time.UTC, RerunWindow: 1, Naming: NamingCLT},
				{Location: time.UTC, RerunWindow: -1, Naming: NamingConverter},
			} {
				agree(t, data, filepath.Base(path), opts)
			}
		})
	}
}

func TestDecoderHead(t *testing.T) {
	const doc = `<?xml version="1.0"?>
<testsuites name="all" time="9">
  <properties><property name="root" value="r"/></properties>
  <testsuite name="empty" timestamp="2024-05-06T07:00:00" tests="0">
    <properties><property name="team" value="payments"/></properties>
  </testsuite>
  <testsuite name="outer" timestamp="2024-05-06T08:00:00Z" time="4" hostname="ci-1">
    <properties><property name="branch" value="main"/></properties>
    <testsuite name="inner" time="1.5">
      <testcase name="first" classname="a.B" time="1"/>
      <properties><property name="late" value="1"/></properties>
    </testsuite>
    <testcase name="second" classname="a.B" time="2"/>
  </testsuite>
  <testsuite name="next" timestamp="2024-05-06T06:00:00Z"><properties><property name="late" value="1"/><property name="late" value="2"/></properties>
    <testcase name="third" classname="a.C"/>
  </testsuite>
</testsuites>`
	d := NewDecoder(strings.NewReader(doc), "head.xml", Options{Location: time.UTC})
	h, err := d.Head()
	if err != nil {
		t.Fatal(err)
	}
	if h2, _ := d.Head(); h2 != h {
		t.Error("a second Head must return the same Head")
	}
	want := []Property{{"root", "r"}, {"team", "payments"}, {"branch", "main"}}
	if h.Root != "testsuites" || !slices.Equal(h.Properties, want) {
		t.Errorf("root %q properties %v, want %v", h.Root, h.Properties, want)
	}
	if v, ok := h.Property("team"); !ok || v != "payments" {
		t.Errorf("Property(team) = %q, %v", v, ok)
	}
	var names []string
	for _, s := range h.Suites {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "all,empty,outer,inner" {
		t.Fatalf("head suites %q", names)
	}
	outer := h.Suites[2]
	if outer.Depth != 1 || !outer.HasTime || outer.Time != 4*time.Second || outer.ZoneLess ||
		!slices.Contains(outer.Attributes, Property{"hostname", "ci-1"}) || !slices.Equal(outer.Properties, []Property{{"branch", "main"}}) {
		t.Errorf("outer %+v", outer)
	}
	if e := h.Suites[1]; !e.ZoneLess || !e.Timestamp.Equal(utc("2024-05-06T07:00:00Z")) {
		t.Errorf("empty suite %+v", e)
	}
	if !h.Suites[0].Container || h.Suites[3].Depth != 2 {
		t.Errorf("container %+v inner %+v", h.Suites[0], h.Suites[3])
	}
	// The earliest timestamp so far, zone-less: explain says "zone-less, read as UTC".
	if !h.Timestamp.Equal(utc("2024-05-06T07:00:00Z")) || !h.ZoneLess || h.Location != time.UTC {
		t.Errorf("head timestamp %v zone-less %v", h.Timestamp, h.ZoneLess)
	}
	var got []string
	for {
		r, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Name+"@"+r.Started.UTC().Format("15:04"))
	}
	if strings.Join(got, ",") != "first@08:00,second@08:00,third@06:00" {
		t.Errorf("runs %q (with their suite's start)", got)
	}
	sum := d.Summary()
	if !slices.Equal(sum.LateProperties, []Property{{"late", "1"}, {"late", "2"}}) {
		t.Errorf("late properties %v (deduplicated, in order)", sum.LateProperties)
	}
	if sum.Suites != 4 || sum.SuitesTimestamped != 3 || sum.SuitesTimed != 2 || sum.Testcases != 3 ||
		!sum.Start.Equal(utc("2024-05-06T06:00:00Z")) || !sum.ZoneLess {
		t.Errorf("summary %+v", sum)
	}
	// outer's time counts, inner's (inside it) does not; outer ends at 08:00:04.
	if sum.SuiteTime != 4*time.Second || sum.UnplacedTime != 0 || !sum.SuiteEnd.Equal(utc("2024-05-06T08:00:04Z")) ||
		sum.RunTime != 3*time.Second || !sum.RunEnd.Equal(utc("2024-05-06T08:00:02Z")) {
		t.Errorf("times %+v", sum)
	}
	if e := sum.Elapsed(); e != 2*time.Hour+4*time.Second {
		t.Errorf("Elapsed %v, want 06:00:00 to 08:00:04", e)
	}
}

// TestDecoderReusesRuns: the run Next returns is the Decoder's: its slices are
// overwritten by the next test case, as the documentation says.
func TestDecoderReusesRuns(t *testing.T) {
	const doc = `<testsuite name="s">
  <testcase name="a" classname="x.Y" file="a.go"><properties><property name="p" value="1"/></properties></testcase>
  <testcase name="b" classname="x.Y" file="b.go"><properties><property name="p" value="2"/></properties></testcase>
</testsuite>`
	d := NewDecoder(strings.NewReader(doc), "reuse.xml", Options{})
	a, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	kept := deepCopy(a)
	attrs := a.Attributes
	b, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if &attrs[0] != &b.Attributes[0] {
		t.Error("the attributes' buffer is not reused")
	}
	if kept.Attributes[0].Value != "a.go" || kept.Properties[0].Value != "1" || b.Attributes[0].Value != "b.go" {
		t.Errorf("kept %+v, b %+v", kept, b)
	}
}

func TestDecoderErrors(t *testing.T) {
	for _, tc := range []struct {
		doc      string
		headErr  error // from Head
		nextErr  error // from Next, after runs
		runsSeen int
	}{
		{doc: "", headErr: ErrEmpty},
		{doc: "<html/>", headErr: ErrNotJUnit},
		{doc: `<testsuite name="s"><properties>`, headErr: ErrMalformed},
		{doc: `<testsuite name="s"><testcase name="a"/><testcase name="b"/><testcase name="c">`, nextErr: ErrMalformed, runsSeen: 2},
		{doc: `<testsuite name="s"><testcase name="a"/></testsuite><!DOCTYPE x>`, nextErr: ErrDoctype, runsSeen: 1},
	} {
		d := NewDecoder(strings.NewReader(tc.doc), "e.xml", Options{})
		_, err := d.Head()
		if !errors.Is(err, tc.headErr) || (tc.headErr == nil && err != nil) {
			t.Errorf("%q: Head error %v, want %v", tc.doc, err, tc.headErr)
			continue
		}
		n := 0
		for {
			_, err = d.Next()
			if err != nil {
				break
			}
			n++
		}
		want := tc.nextErr
		if want == nil {
			want = tc.headErr
		}
		var e *Error
		if !errors.Is(err, want) || !errors.As(err, &e) || e.File != "e.xml" || n != tc.runsSeen {
			t.Errorf("%q: Next error %v after %d runs, want %v after %d", tc.doc, err, n, want, tc.runsSeen)
		}
		if _, again := d.Next(); again != err {
			t.Errorf("%q: the error is not final: %v then %v", tc.doc, err, again)
		}
	}
}

// TestElapsed: the duration of a report without a manifest (issue 12 item 8).
func TestElapsed(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      time.Duration
	}{
		// mocha: suite time 0.29, 3 tests summing 0.266 s; the suite is 0.29 s, not the longest test.
		{"timestamped suite", `<testsuite name="Mocha Tests" timestamp="Sat, 03 Dec 2022 23:10:07 GMT" time="0.29">
<testcase name="a" classname="c" time="0.117"/><testcase name="b" classname="c" time="0.1"/><testcase name="c" classname="c" time="0.049"/></testsuite>`, 290 * time.Millisecond},
		{"suites in sequence", `<testsuites><testsuite name="a" timestamp="2024-01-01T10:00:00Z" time="60"><testcase name="x"/></testsuite>
<testsuite name="b" timestamp="2024-01-01T10:05:00Z" time="30"><testcase name="y"/></testsuite></testsuites>`, 5*time.Minute + 30*time.Second},
		{"no timestamps: the sum of the suites", `<testsuites><testsuite name="a" time="1.5"><testsuite name="nested" time="1"><testcase name="x" time="1"/></testsuite></testsuite>
<testsuite name="b" time="2"><testcase name="y" time="0.5"/></testsuite></testsuites>`, 3500 * time.Millisecond},
		{"no suite times: the sum of the runs", `<testsuite name="a"><testcase name="x" time="1"/><testcase name="y" time="2"/></testsuite>`, 3 * time.Second},
		{"a testcase timestamp past its suite's end", `<testsuite name="a" timestamp="2024-01-01T10:00:00Z" time="1"><testcase name="x" timestamp="2024-01-01T10:00:05Z" time="2"/></testsuite>`, 7 * time.Second},
		{"a suite that cannot be placed", `<testsuites><testsuite name="a" timestamp="2024-01-01T10:00:00Z" time="10"><testcase name="x"/></testsuite>
<testsuite name="b" time="4"><testcase name="y"/></testsuite></testsuites>`, 14 * time.Second},
	} {
		s, err := stream(strings.NewReader(tc.doc), "e.xml", Options{Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.sum.Elapsed(); got != tc.want {
			t.Errorf("%s: Elapsed %v, want %v (summary %+v)", tc.name, got, tc.want, s.sum)
		}
	}
	if dir := corpusDirOrEmpty(); dir != "" {
		f, err := os.Open(filepath.Join(dir, "mocha-xunit-builtin.xml"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s, err := stream(f, "mocha-xunit-builtin.xml", Options{Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		// Issue 12 item 8: 109 tests summing 266 ms in a suite of 0.29 s gave 117 ms.
		if got := s.sum.Elapsed(); got != 290*time.Millisecond || len(s.runs) != 109 {
			t.Errorf("mocha corpus file: Elapsed %v over %d runs, want 290ms", got, len(s.runs))
		}
	}
}

// TestWarningCodesDocumented: every Warn… code is in docs/report-warnings.md,
// and the page names no code that does not exist.
func TestWarningCodesDocumented(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "docs", "report-warnings.md"))
	if err != nil {
		t.Skip(err)
	}
	codes := warningCodes(t)
	if len(codes) < 20 {
		t.Fatalf("only %d codes found in warnings.go", len(codes))
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(page), "\n") {
		if code, ok := strings.CutPrefix(line, "| `"); ok {
			code, _, _ = strings.Cut(code, "`")
			documented[code] = true
			if !codes[code] {
				t.Errorf("docs/report-warnings.md documents %q, which is no code", code)
			}
		}
	}
	for code := range codes {
		if !documented[code] {
			t.Errorf("code %q is not in docs/report-warnings.md", code)
		}
	}
}

// warningCodes are the values of the Warn… constants of warnings.go.
func warningCodes(t testing.TB) map[string]bool {
	src, err := os.ReadFile("warnings.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		if name, val, ok := strings.Cut(strings.TrimSpace(line), " = \""); ok && strings.HasPrefix(name, "Warn") {
			codes[strings.TrimSuffix(val, "\"")] = true
		}
	}
	return codes
}

// TestHeadBeforeSuiteLevelRun: a suite-level failure that comes before any
// test case is a run, so the head ends before it and the naming and location
// set after Head apply to it (found by FuzzDecoder).
func TestHeadBeforeSuiteLevelRun(t *testing.T) {
	const doc = `<testsuites>
  <testsuite name="com.example.Setup" timestamp="2024-05-06T07:00:00"><error message="no database"/></testsuite>
  <testsuite name="com.example.Later"><properties><property name="late" value="1"/></properties><testcase name="a" classname="x.Y"/></testsuite>
</testsuites>`
	tokyo := mustZone(t, "Asia/Tokyo")
	d := NewDecoder(strings.NewReader(doc), "setup.xml", Options{Location: time.UTC})
	h, err := d.Head()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Suites) != 2 || len(h.Properties) != 0 {
		t.Errorf("head %+v: it must end at the first suite's end", h)
	}
	d.SetNaming(NamingConverter)
	d.SetLocation(tokyo)
	r, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !r.SuiteLevel || r.Package != "" || r.Class != "com.example.Setup" || !r.Started.Equal(utc("2024-05-05T22:00:00Z")) {
		t.Errorf("suite-level run %+v", r)
	}
	if r, err = d.Next(); err != nil || r.Class != "x.Y" {
		t.Errorf("second run %+v, %v", r, err)
	}
	if sum := d.Summary(); !slices.Equal(sum.LateProperties, []Property{{"late", "1"}}) {
		t.Errorf("late properties %v", sum.LateProperties)
	}
}
