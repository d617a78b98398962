package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/testkit"
)

// readFixture reads testdata/name with zone-less times in UTC, so goldens do
// not depend on the machine's zone.
func readFixture(t testing.TB, name string) (*Report, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadWith(f, name, Options{Location: time.UTC})
}

func run(t *testing.T, r *Report, name string) Run {
	t.Helper()
	for _, x := range r.Runs {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no run named %q in %s", name, r.Path)
	return Run{}
}

func hasWarning(r *Report, substr string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w.String(), substr) {
			return true
		}
	}
	return false
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

type fixtureCase struct {
	file    string
	wantErr error // sentinel, nil when the report must be read
	errLine int   // line the error must name (0: none)
	check   func(t *testing.T, r *Report)
}

var fixtureCases = []fixtureCase{
	{file: "basic.xml", check: func(t *testing.T, r *Report) {
		if c := r.Counts(); c != (Counts{Total: 4, Passed: 1, Failed: 2, Skipped: 1}) {
			t.Errorf("counts %+v", c)
		}
		// go-junit gap 1: the timestamp survives <properties>.
		if want := utc("2024-05-06T07:08:09Z"); !r.Timestamp.Equal(want) || !run(t, r, "adds").Started.Equal(want) {
			t.Errorf("timestamp %v, adds started %v", r.Timestamp, run(t, r, "adds").Started)
		}
		if !run(t, r, "crashes").Started.Equal(utc("2024-05-06T07:08:11Z")) {
			t.Error("testcase timestamp must win over the suite's")
		}
		if v, ok := r.Property("branch"); !ok || v != "main" {
			t.Errorf("Property(branch) = %q, %v", v, ok)
		}
		d := run(t, r, "divides")
		if d.Status != Failed || d.Failure.Kind != "failure" || d.Failure.Type != "org.opentest4j.AssertionFailedError" ||
			!strings.Contains(d.Failure.Body, "CalcTest.java:12") || d.Duration != 1500*time.Millisecond {
			t.Errorf("divides = %+v %+v", d, d.Failure)
		}
		// go-junit gap 6: testcase properties, including a text-valued one.
		if len(d.Properties) != 2 || d.Properties[1] != (Property{"note", "text value"}) {
			t.Errorf("testcase properties %+v", d.Properties)
		}
		if e := run(t, r, "crashes"); e.Status != Failed || e.Failure.Kind != "error" || e.Failure.Message != "boom" {
			t.Errorf("an error is a Failed run of kind error: %+v", e.Failure)
		}
		l := run(t, r, "later")
		if l.Status != Skipped || l.SkipMessage != "not yet" || l.Package != "com.example" || l.Class != "CalcTest" {
			t.Errorf("later = %+v", l)
		}
		if len(l.Attributes) != 2 || l.Attributes[0] != (Property{"file", "src/test/CalcTest.java"}) {
			t.Errorf("extra attributes %+v", l.Attributes)
		}
	}},
	{file: "testsuite-root-nested.xml", check: func(t *testing.T, r *Report) {
		if r.Suites != 3 || len(r.Runs) != 3 {
			t.Fatalf("suites %d runs %d", r.Suites, len(r.Runs))
		}
		deep := run(t, r, "deep")
		if deep.Suite != "grandchild" || !deep.Started.Equal(utc("2023-01-02T03:05:00Z")) {
			t.Errorf("deep = %+v", deep)
		}
		if a := run(t, r, "after nested"); a.Suite != "child" || !a.Started.Equal(utc("2023-01-02T03:04:05Z")) {
			t.Errorf("after nested: suite %q started %v (inherits the root suite's timestamp)", a.Suite, a.Started)
		}
	}},
	{file: "testrun-root.xml", check: func(t *testing.T, r *Report) {
		if c := r.Counts(); c.Total != 2 || c.Failed != 1 || run(t, r, "testB").Suite != "demo.FooTest" {
			t.Errorf("counts %+v", c)
		}
	}},
	{file: "multi-result.xml", check: func(t *testing.T, r *Report) {
		s := run(t, r, "skipped then failed")
		if s.Status != Failed || s.Failure.Message != "then failed" || !strings.Contains(s.Failure.Body, "--- skipped: first skipped") {
			t.Errorf("failed beats skipped: %+v", s.Failure)
		}
		f := run(t, r, "failed twice")
		if f.Failure.Type != "A" || f.Failure.Message != "one" || !strings.Contains(f.Failure.Body, "--- failure B: two\ntrace two") {
			t.Errorf("first failure kept, the second in the body: %+v", f.Failure)
		}
		if e := run(t, r, "failure and error"); e.Failure.Kind != "failure" || !strings.Contains(e.Failure.Body, "--- error IOError: teardown") {
			t.Errorf("failure then error: %+v", e.Failure)
		}
		if k := run(t, r, "skipped twice"); k.Status != Skipped || k.SkipMessage != "a" {
			t.Errorf("skipped twice: %+v", k)
		}
		if k := run(t, r, "skipped with body"); k.SkipMessage != "only a body" {
			t.Errorf("skip message from the body: %q", k.SkipMessage)
		}
	}},
	{file: "flaky-rerun.xml", check: func(t *testing.T, r *Report) {
		p := run(t, r, "passesOnRetry")
		if p.Status != Passed || !p.Flaky || p.Reruns != 2 || p.Failure != nil || len(p.Attachments) != 0 {
			t.Errorf("flaky: %+v", p)
		}
		a := run(t, r, "alwaysFails")
		if a.Status != Failed || a.Flaky || a.Reruns != 2 || !strings.Contains(a.Failure.Body, "--- rerunFailure java.lang.AssertionError: built to fail again\njava.lang.AssertionError: rerun 1") ||
			!strings.Contains(a.Failure.Body, "--- rerunError java.lang.IllegalStateException: rerun error") {
			t.Errorf("rerun failures go into the body: %+v %q", a, a.Failure.Body)
		}
		if c := r.Counts(); c.Flaky != 1 || c.Passed != 2 || c.Failed != 1 {
			t.Errorf("counts %+v", c)
		}
	}},
	{file: "attribute-status.xml", check: func(t *testing.T, r *Report) {
		for name, want := range map[string]Status{
			"notrun": Skipped, "result skipped": Skipped, "suppressed": Skipped, "disabled": Skipped,
			"failed by attr": Failed, "errored by attr": Failed, "ran": Passed, "element wins": Failed,
		} {
			if got := run(t, r, name).Status; got != want {
				t.Errorf("%s: %s, want %s", name, got, want)
			}
		}
		if e := run(t, r, "errored by attr"); e.Failure.Kind != "error" {
			t.Errorf("status=errored: kind %q", e.Failure.Kind)
		}
		if m := run(t, r, "element wins").Failure.Message; m != "real" {
			t.Errorf("the element wins over status=: %q", m)
		}
	}},
	{file: "xml11.xml", check: func(t *testing.T, r *Report) {
		if len(r.Runs) != 1 || !hasWarning(r, "XML 1.1") {
			t.Errorf("runs %d warnings %q", len(r.Runs), r.Warnings)
		}
	}},
	{file: "utf8-bom.xml", check: wantNames("t")},
	{file: "utf16le-bom.xml", check: wantUTF16},
	{file: "utf16be-bom.xml", check: wantUTF16},
	{file: "utf16le-nobom.xml", check: wantUTF16},
	{file: "latin1.xml", check: func(t *testing.T, r *Report) {
		if x := r.Runs[0]; x.Name != "café naïve" || x.Failure.Message != "à µ" {
			t.Errorf("ISO-8859-1: %q %q", x.Name, x.Failure.Message)
		}
	}},
	{file: "windows1252.xml", check: wantNames("€ price “quoted”")},
	{file: "cdata-entities.xml", check: func(t *testing.T, r *Report) {
		x := r.Runs[0]
		if x.Name != `"quoted" <name> 'x' ☺ A` || x.Suite != "esc & cdata" || x.Failure.Message != "line1\nline2" ||
			x.Failure.Body != "<not-markup> & raw and <escaped>" {
			t.Errorf("%q %q %q %q", x.Name, x.Suite, x.Failure.Message, x.Failure.Body)
		}
	}},
	{file: "attachments.xml", check: func(t *testing.T, r *Report) {
		if got := strings.Join(run(t, r, "one").Attachments, ","); got != "shots/one.png,logs/one.log" {
			t.Errorf("testcase attachments %q (deduplicated, split markers joined)", got)
		}
		if len(run(t, r, "two").Attachments) != 0 {
			t.Error("two has no attachment")
		}
		want := []SuiteAttachment{{"com.example.Shots", "suite/report.html"}, {"com.example.Shots", "suite/trace.zip"}}
		if len(r.Attachments) != 2 || r.Attachments[0] != want[0] || r.Attachments[1] != want[1] {
			t.Errorf("suite attachments %+v", r.Attachments)
		}
	}},
	{file: "suite-level-errors.xml", check: func(t *testing.T, r *Report) {
		if c := r.Counts(); c != (Counts{Total: 5, Passed: 1, Failed: 4}) {
			t.Errorf("counts %+v", c)
		}
		s := run(t, r, "[suite error]")
		if !s.SuiteLevel || s.Suite != "org.example.DbTest" || s.Package != "org.example" || s.Class != "DbTest" ||
			s.Failure.Type != "java.sql.SQLException" || s.Failure.Body != "java.sql.SQLException: no connection" ||
			!s.Started.Equal(utc("2022-02-02T10:00:00Z")) || s.Line != 6 {
			t.Errorf("suite error %+v %+v", s, s.Failure)
		}
		if x := run(t, r, "[suite error] #2"); x.Failure.Message != "teardown failed" {
			t.Errorf("second suite error %+v", x.Failure)
		}
		if x := run(t, r, "[suite failure]"); x.Failure.Kind != "failure" {
			t.Errorf("suite failure %+v", x.Failure)
		}
		if v, _ := r.Property("db"); v != "postgres" {
			t.Errorf("stray text in <properties>: db=%q", v)
		}
		if !hasWarning(r, `suite-level <error> in suite "org.example.DbTest"`) {
			t.Errorf("warnings %q", r.Warnings)
		}
	}},
	{file: "times.xml", check: func(t *testing.T, r *Report) {
		for name, want := range map[string]time.Duration{
			"plain": 1500 * time.Millisecond, "decimal comma": 1500 * time.Millisecond,
			"thousands": 2503100 * time.Millisecond, "european thousands": 1234500 * time.Millisecond,
			"exponent": 17 * time.Microsecond, "go duration": 5 * time.Millisecond, "negative": 0, "nan": 0,
			"placeholder": 0, "nanoseconds": 999638317, "empty": 0, "missing": 0, "nanosecond precision": 1,
		} {
			if got := run(t, r, name).Duration; got != want {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
		for _, w := range []string{`negative time "-3"`, `"NaN" is not a number of seconds: duration 0 (3 times`, "nanoseconds", "decimal comma"} {
			if !hasWarning(r, w) {
				t.Errorf("no warning %q in %q", w, r.Warnings)
			}
		}
	}},
	{file: "timestamps.xml", check: func(t *testing.T, r *Report) {
		for name, want := range map[string]string{
			"a": "2024-01-03T11:23:00Z", "b": "2024-01-03T13:27:11.21Z", "c": "2024-01-03T12:27:54Z",
			"d": "2024-01-03T12:40:13Z", "e": "2024-01-03T00:00:00Z", "f": "2022-12-03T23:10:07Z",
			"g": "2021-03-07T10:36:56Z", "h": "2021-03-07T05:06:56Z", "i": "2020-09-04T16:18:05.5Z",
			"j": "2024-01-03T11:23:00Z", "k": "2024-01-03T11:23:00Z", "l": "2024-01-03T11:23:00Z",
		} {
			if got := run(t, r, name).Started; !got.Equal(utc(want)) {
				t.Errorf("%s: %v, want %s", name, got, want)
			}
		}
		if !r.Timestamp.Equal(utc("2020-09-04T16:18:04.966371Z")) {
			t.Errorf("report timestamp %v (earliest suite)", r.Timestamp)
		}
		if !hasWarning(r, "placeholder") || !hasWarning(r, `"yesterday" not understood`) {
			t.Errorf("warnings %q", r.Warnings)
		}
	}},
	{file: "classnames.xml", check: func(t *testing.T, r *Report) {
		for name, want := range map[string][2]string{
			"java": {"com.example.app", "FooTest"}, "inner": {"com.example", "Outer$Inner"},
			"python class": {"tests.unit.test_api", "ApiTests"}, "python module": {"tests", "test_funcs"},
			"python file": {"", "test_funcs.py"}, "js path": {"src/components", "Button.test.tsx"},
			"windows path": {`C:\work\app\spec`, "login.spec.js"}, "php namespace": {`App\Tests\Unit`, "UserTest"},
			"go package": {"github.com/example/project/server", "api4"}, "phpt": {"tests/Framework", "Assert.equal.phpt"},
			"rust": {"crate_name::module", "tests"}, "gtest typed": {"", "Single/TypeParameterizedTestSuite/1"},
			"bazel": {"", "bazel/failing_absl_test"}, "jest title": {"", "Button › renders"},
			"spaces": {"", "time offset is correct test"}, "no dots": {"", "AllTests"},
			"codeception": {`Acme\Cest`, "LoginCest"}, "empty classname falls back to suite": {"suite", "FromSuite"},
			"no classname falls back to suite": {"suite", "FromSuite"},
		} {
			x := run(t, r, name)
			if x.Package != want[0] || x.Class != want[1] || x.Module != "" {
				t.Errorf("%s: package %q class %q, want %q %q", name, x.Package, x.Class, want[0], want[1])
			}
		}
	}},
	{file: "unnamed.xml", check: func(t *testing.T, r *Report) {
		if len(r.Runs) != 3 || r.Runs[0].Name != "[unnamed testcase #1]" || r.Runs[0].Status != Failed ||
			r.Runs[2].Name != "[unnamed testcase #3]" || !hasWarning(r, "(3 times, first shown)") {
			t.Errorf("runs %+v warnings %q", r.Runs, r.Warnings)
		}
	}},
	{file: "namespaces.xml", check: func(t *testing.T, r *Report) {
		if len(r.Runs) != 1 || r.Runs[0].Status != Failed || r.Runs[0].Class != "Case" {
			t.Errorf("runs %+v", r.Runs)
		}
	}},
	{file: "loose-testcases.xml", check: func(t *testing.T, r *Report) {
		if c := r.Counts(); c.Total != 4 || c.Passed != 4 {
			t.Errorf("counts %+v", c)
		}
		if l := run(t, r, "directly under testsuites"); l.Suite != "" || l.Class != "Case" {
			t.Errorf("loose %+v", l)
		}
		if w := run(t, r, "wrapped"); w.Suite != "inside an unknown wrapper" {
			t.Errorf("wrapped %+v", w)
		}
		if !hasWarning(r, "<testcase> inside a <testcase>") || !hasWarning(r, "<skipped> outside a testcase ignored") {
			t.Errorf("warnings %q", r.Warnings)
		}
	}},
	{file: "after-root.xml", check: func(t *testing.T, r *Report) {
		if len(r.Runs) != 2 || !hasWarning(r, "after-root.xml:4: text after the root element ignored") ||
			!hasWarning(r, "another root element <testsuites>") || !hasWarning(r, "element <html> after the root element ignored") {
			t.Errorf("runs %d warnings %q", len(r.Runs), r.Warnings)
		}
	}},
	{file: "no-tests.xml", check: func(t *testing.T, r *Report) {
		if len(r.Runs) != 0 || r.Runs == nil || !hasWarning(r, "no-tests.xml: the report holds no test cases") {
			t.Errorf("runs %v warnings %q", r.Runs, r.Warnings)
		}
	}},

	{file: "reruns.xml", check: rerunsCheck},

	{file: "empty.xml", wantErr: ErrEmpty},
	{file: "blank.xml", wantErr: ErrEmpty},
	{file: "bom-only.xml", wantErr: ErrEmpty},
	{file: "decl-only.xml", wantErr: ErrEmpty},
	{file: "not-xml.xml", wantErr: ErrMalformed, errLine: 1},
	{file: "json.xml", wantErr: ErrMalformed, errLine: 1},
	{file: "truncated-attr.xml", wantErr: ErrMalformed, errLine: 5},
	{file: "truncated-open.xml", wantErr: ErrMalformed, errLine: 5},
	{file: "mismatched.xml", wantErr: ErrMalformed, errLine: 5},
	{file: "doctype-xxe.xml", wantErr: ErrDoctype, errLine: 2},
	{file: "undefined-entity.xml", wantErr: ErrMalformed, errLine: 3},
	{file: "html-root.xml", wantErr: ErrNotJUnit, errLine: 3},
	{file: "unknown-encoding.xml", wantErr: ErrEncoding, errLine: 1},
	{file: "invalid-utf8.xml", wantErr: ErrMalformed, errLine: 3},
}

func wantNames(names ...string) func(*testing.T, *Report) {
	return func(t *testing.T, r *Report) {
		t.Helper()
		var got []string
		for _, x := range r.Runs {
			got = append(got, x.Name)
		}
		if strings.Join(got, "|") != strings.Join(names, "|") {
			t.Errorf("names %q, want %q", got, names)
		}
	}
}

func wantUTF16(t *testing.T, r *Report) {
	if len(r.Runs) != 1 || r.Runs[0].Name != "café 😀" || r.Runs[0].Suite != "utf16 é€" || len(r.Warnings) != 0 {
		t.Errorf("runs %+v warnings %q", r.Runs, r.Warnings)
	}
}

type golden struct {
	Error  string  `json:"error,omitempty"`
	Report *Report `json:"report,omitempty"`
}

func TestFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range fixtureCases {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			r, err := readFixture(t, tc.file)
			g := golden{Report: r}
			if tc.wantErr != nil {
				var e *Error
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &e) {
					t.Fatalf("error %v, want %v as *Error", err, tc.wantErr)
				}
				if e.File != tc.file || e.Line != tc.errLine || !strings.HasPrefix(err.Error(), tc.file) {
					t.Errorf("error %q names %s line %d, want line %d", err, e.File, e.Line, tc.errLine)
				}
				g.Error = err.Error()
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if r != nil {
				checkInvariants(t, r)
			}
			compareGolden(t, strings.TrimSuffix(tc.file, ".xml")+".json", g)
		})
	}
	files, _ := filepath.Glob("testdata/*.xml")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

// checkInvariants holds for every report Read returns.
func checkInvariants(t testing.TB, r *Report) {
	t.Helper()
	for i, x := range r.Runs {
		if i > 0 && x.seq <= r.Runs[i-1].seq {
			t.Errorf("run %d (%s) is out of document order", i, x.Name)
		}
		switch {
		case x.Name == "":
			t.Errorf("run %d has no name", i)
		case x.Duration < 0:
			t.Errorf("run %s: negative duration", x.Name)
		case x.Status != Passed && x.Status != Failed && x.Status != Skipped:
			t.Errorf("run %s: status %q", x.Name, x.Status)
		case (x.Status == Failed) != (x.Failure != nil):
			t.Errorf("run %s: status %s with failure %v", x.Name, x.Status, x.Failure)
		case x.Flaky && x.Status != Passed:
			t.Errorf("run %s: flaky but %s", x.Name, x.Status)
		case x.Line <= 0:
			t.Errorf("run %s: line %d", x.Name, x.Line)
		}
	}
	codes := warningCodes(t)
	for _, w := range r.Warnings {
		if !codes[w.Code] {
			t.Errorf("warning %+v has no documented code", w)
		}
		if !strings.HasPrefix(w.String(), r.Path+":") || w.File != r.Path || w.Count < 1 {
			t.Errorf("warning %+v does not name the file, or has no code", w)
		}
	}
}

func compareGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "golden", name), buf.Bytes())
}

// TestMessagesQuoteWholeCharacters: a value shortened for a message is cut between
// characters, never inside one, so that the message stays valid UTF-8 (a DOCTYPE is quoted
// as it is, not with %q).
func TestMessagesQuoteWholeCharacters(t *testing.T) {
	for _, doc := range []string{
		"<!DOCTYPE " + strings.Repeat("é", 40) + ">\n<testsuite/>",
		"<!DOCTYPE x" + strings.Repeat("€", 20) + ">\n<testsuite/>",
	} {
		_, err := Read(strings.NewReader(doc), "r.xml")
		if err == nil || !errors.Is(err, ErrDoctype) {
			t.Fatalf("%q: error %v, want ErrDoctype", doc, err)
		}
		if msg := err.Error(); !utf8.ValidString(msg) || !strings.Contains(msg, "…") {
			t.Errorf("%q: message %q is not valid UTF-8 or was not shortened", doc, msg)
		}
	}
}
