package report

import (
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"
	"github.com/octane-import/octane-import/internal/testkit"
)

// go-junit v1.0.0 is the differential oracle: for every fixture and corpus
// file it ingests, our test names and pass/fail/skip classification, and our
// durations, messages and types, agree with it except for its documented gaps
// (shared/style.md section 3), which are named here one by one.
const (
	gapLastResultWins = "last result wins (3.3): several results on one testcase; we keep Failed > Skipped > Passed"
	gapAttrSkip       = "attribute-only skip (status=notrun, result=skipped…) is passed for go-junit"
	gapAttrFail       = "attribute-only failure (status=failed) is passed for go-junit"
	gapEmptyName      = "empty testcase name: ours is a stable fallback"
	gapSuiteLevel     = "suite-level <error>/<failure> ignored by go-junit (3.4.4): ours is a synthetic run"
	gapCommas         = `commas: go-junit strips them, "1,5" becomes 15 s and "1.234,5" 1.2345 s`
	gapNegativeTime   = "negative time kept by go-junit: ours is 0"
	gapNanoseconds    = "integer time >= 1e6 s: ours reads it as nanoseconds"
	gapClassAttr      = "class= (Codeception) instead of classname=: ignored by go-junit, ours uses it"
	gapRerunMerged    = "a testcase repeated in its suite after a failure (gotestsum --rerun-fails): one run for us, the last attempt's"
)

// oracleSkip: inputs go-junit reads differently by construction.
var oracleSkip = map[string]string{
	"loose-testcases.xml": "go-junit ignores testcases outside a <testsuite> and inside a <testcase>; we keep them",
}

func TestGoJUnitOracle(t *testing.T) {
	var paths []string
	fixtures, _ := filepath.Glob("testdata/*.xml")
	paths = append(paths, fixtures...)
	if dir := corpusDirOrEmpty(); dir != "" {
		corpus, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		paths = append(paths, corpus...)
	} else {
		t.Log("shared/corpus/junit not found: oracle runs on the fixtures only")
	}
	gapsSeen := map[string]int{}
	compared := 0
	for _, path := range paths {
		base := filepath.Base(path)
		t.Run(filepath.Base(filepath.Dir(path))+"/"+base, func(t *testing.T) {
			if why, ok := oracleSkip[base]; ok && strings.HasPrefix(path, "testdata") {
				t.Skip(why)
			}
			suites, jerr := junit.IngestFile(path)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := ReadWith(f, base, Options{Location: time.UTC})
			if jerr != nil {
				t.Logf("go-junit refuses it (%v); ours: %v", jerr, err)
				return
			}
			if err != nil {
				// go-junit accepts empty files, non-JUnit roots and DOCTYPEs silently (gap 3.4.9).
				if len(countTests(suites)) != 0 {
					t.Fatalf("we refuse a file in which go-junit finds %d tests: %v", len(countTests(suites)), err)
				}
				t.Logf("go-junit: zero suites and no error; ours: %v", err)
				return
			}
			compared++
			gaps := compareWithOracle(t, r, countTests(suites))
			for g, n := range gaps {
				gapsSeen[g] += n
				t.Logf("gap %q: %d", g, n)
			}
		})
	}
	if compared < 50 && corpusDirOrEmpty() != "" {
		t.Errorf("only %d files compared", compared)
	}
	// Each gap the corpus and fixtures show must have been met at least once,
	// or this test is not testing what it claims.
	for _, g := range []string{gapLastResultWins, gapAttrSkip, gapAttrFail, gapEmptyName, gapSuiteLevel, gapCommas, gapNegativeTime, gapNanoseconds, gapClassAttr, gapRerunMerged} {
		if gapsSeen[g] == 0 {
			t.Errorf("gap never met: %s", g)
		}
	}
}

// corpusDirOrEmpty is shared/corpus/junit (the team's corpus of real reports), or "".
func corpusDirOrEmpty() string {
	if p := testkit.SharedPath("corpus/junit/COUNTS.tsv"); p != "" {
		return filepath.Dir(p)
	}
	return ""
}

// suiteTest is a go-junit test with the name of its suite.
type suiteTest struct {
	suite string
	junit.Test
}

func countTests(suites []junit.Suite) []suiteTest {
	var out []suiteTest
	for _, s := range suites {
		for _, jt := range s.Tests {
			out = append(out, suiteTest{s.Name, jt})
		}
		out = append(out, countTests(s.Suites)...)
	}
	return out
}

// oracleKey identifies a test in both models: suite, name (blank names are
// one key) and the package/class split of the classname, or of the suite
// name when the classname is blank.
func oracleKey(suite, name, classname string) string {
	if strings.TrimSpace(name) == "" {
		name = ""
	}
	if strings.TrimSpace(classname) == "" {
		classname = suite
	}
	p, c := splitClassname(classname)
	return suite + "\x00" + name + "\x00" + p + "\x00" + c
}

func oracleStatus(s junit.Status) Status {
	switch s {
	case junit.StatusFailed, junit.StatusError:
		return Failed
	case junit.StatusSkipped:
		return Skipped
	}
	return Passed
}

// compareWithOracle matches our runs to go-junit's tests by name, in document
// order within each name, and returns how often each gap explained a difference.
func compareWithOracle(t *testing.T, r *Report, tests []suiteTest) map[string]int {
	t.Helper()
	gaps := map[string]int{}
	ours := map[string][]Run{}
	n := 0
	for _, x := range r.Runs {
		if x.SuiteLevel {
			gaps[gapSuiteLevel]++
			continue
		}
		name := x.Name
		if strings.HasPrefix(name, "[unnamed testcase #") {
			name = "" // go-junit keeps the empty name
			gaps[gapEmptyName]++
		}
		k := x.Suite + "\x00" + name + "\x00" + x.Package + "\x00" + x.Class
		ours[k] = append(ours[k], x)
		n += len(attempts(x))
	}
	if n != len(tests) {
		t.Errorf("%d attempts (without suite-level runs), go-junit has %d tests", n, len(tests))
	}
	theirs := map[string][]junit.Test{}
	for _, jt := range tests {
		cn := jt.Classname
		if strings.TrimSpace(cn) == "" && strings.TrimSpace(jt.Properties["class"]) != "" {
			cn = jt.Properties["class"]
			gaps[gapClassAttr]++
		}
		k := oracleKey(jt.suite, jt.Name, cn)
		theirs[k] = append(theirs[k], jt.Test)
	}
	names := make([]string, 0, len(theirs))
	for name := range theirs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		js, os := theirs[name], ours[name]
		if len(os) == 1 && len(attempts(os[0])) > 1 && len(attempts(os[0])) == len(js) {
			// Merged attempts: the run is the last attempt's.
			gaps[gapRerunMerged] += len(js) - 1
			compareRun(t, os[0], js[len(js)-1], gaps)
			continue
		}
		if len(js) != len(os) {
			t.Errorf("%q: %d runs, go-junit has %d", strings.ReplaceAll(name, "\x00", " / "), len(os), len(js))
			continue
		}
		// Within one suite, both keep document order.
		for i := range js {
			compareRun(t, os[i], js[i], gaps)
		}
	}
	return gaps
}

func multi(x Run) bool { return x.seen&seenMulti != 0 || bits.OnesCount8(x.seen) > 1 }

func compareRun(t *testing.T, x Run, jt junit.Test, gaps map[string]int) {
	t.Helper()
	// Classname: ours is a split of theirs (or the suite name when theirs is empty).
	if cn := strings.TrimSpace(jt.Classname); cn != "" {
		if p, c := splitClassname(cn); p != x.Package || c != x.Class {
			t.Errorf("%q: package/class %q/%q, go-junit classname %q", x.Name, x.Package, x.Class, jt.Classname)
		}
	}
	want := oracleStatus(jt.Status)
	switch {
	case multi(x):
		gaps[gapLastResultWins]++
	case x.Status == Skipped && x.seen == 0:
		gaps[gapAttrSkip]++
		want = Skipped
	case x.Status == Failed && x.seen == 0:
		gaps[gapAttrFail]++
		want = Failed
	}
	if !multi(x) && x.Status != want {
		t.Errorf("%q: %s, go-junit says %s", x.Name, x.Status, jt.Status)
	}
	if !multi(x) && jt.Error != nil && x.Failure != nil {
		je := jt.Error.(junit.Error)
		if je.Type != x.Failure.Type || je.Message != x.Failure.Message {
			t.Errorf("%q: failure %q/%q, go-junit %q/%q", x.Name, x.Failure.Type, x.Failure.Message, je.Type, je.Message)
		}
	}
	if x.Status == Skipped && x.seen == seenSkipped && strings.TrimSpace(jt.Message) != "" && jt.Message != x.SkipMessage {
		t.Errorf("%q: skip message %q, go-junit %q", x.Name, x.SkipMessage, jt.Message)
	}
	// Duration, from the raw attribute go-junit keeps in Properties.
	raw := jt.Properties["time"]
	_, issue := parseSeconds(raw)
	diff := x.Duration - jt.Duration
	switch {
	case strings.Contains(raw, ",") && diff != 0:
		gaps[gapCommas]++
	case issue == durNegative && jt.Duration < 0:
		gaps[gapNegativeTime]++
	case issue == durNanoseconds:
		gaps[gapNanoseconds]++
	case diff < -2*time.Microsecond || diff > 2*time.Microsecond:
		t.Errorf("%q: time %q is %v, go-junit %v", x.Name, raw, x.Duration, jt.Duration)
	}
}
