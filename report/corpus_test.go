package report

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// corpusDir finds shared/corpus/junit by walking up from the package
// directory; the corpus lives beside the repository, never inside it.
func corpusDir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(testkit.Shared(t, "corpus/junit/COUNTS.tsv"))
}

type corpusRow struct {
	file                                 string
	testcases, failures, errors, skipped int
	parseOK                              bool
}

func readCounts(t testing.TB, dir string) []corpusRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "COUNTS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		cols := strings.Split(sc.Text(), "\t")
		if n == 1 || len(cols) < 6 {
			continue
		}
		var nums [4]int
		for i := range nums {
			if nums[i], err = strconv.Atoi(cols[1+i]); err != nil {
				t.Fatalf("COUNTS.tsv:%d: %v", n, err)
			}
		}
		rows = append(rows, corpusRow{cols[0], nums[0], nums[1], nums[2], nums[3], cols[5] == "yes"})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// corpusRefused: files we refuse, with the error and line we must give.
var corpusRefused = map[string]struct {
	err  error
	line int
	msg  string
}{
	"empty-file.xml":       {ErrEmpty, 0, "empty report"},
	"not-xml.xml":          {ErrMalformed, 1, "not XML"},
	"pytest-truncated.xml": {ErrMalformed, 11, "unexpected end of file: <skipped> from line 9 is not closed"},
	"xxe-doctype.xml":      {ErrDoctype, 2, "DOCTYPE"},
	"non-junit-root.xml":   {ErrNotJUnit, 2, "root element <suites> is not JUnit"},
}

// corpusAccepted: files expat refuses (parse_ok=no) that we read, and why.
var corpusAccepted = map[string]string{
	"doctest.xml":      "all 23 testcases are well-formed; only the text 'Program code.' after the root is not: ignored with a warning",
	"utf16-le-bom.xml": "the BOM says UTF-16LE, so the odd label \"UTF-16 LE\" is not needed (XML 1.0 appendix F: the BOM wins)",
}

// corpusDiff: where our classification differs from COUNTS.tsv on purpose.
// COUNTS counts <testcase> elements having a <failure>/<error>/<skipped>
// child, so a testcase with several results is counted in several columns;
// we give one run per testcase, Failed beating Skipped beating Passed.
// That rule is applied below to every file; this table lists the rest.
type diff struct {
	suiteLevel  int // synthetic runs for suite-level <error>/<failure>; COUNTS does not count them
	attrSkipped int // skips given only by status=/result= attributes; COUNTS counts <skipped> elements only
	attrFailed  int // failures given only by status=
	flaky       int // <flakyFailure> with no <failure>, or a rerun that passed: a Passed run flagged Flaky
	merged      int // testcases repeated in their suite after a failure, merged into the run of their first attempt
	why         string
}

var corpusDiffs = map[string]diff{
	"perl-prove-tap-junit.xml":          {suiteLevel: 1, why: `<error message="Dubious, test returned 2"> directly in the suite: a synthetic Failed run "[suite error]"`},
	"testsuite-level-error.xml":         {suiteLevel: 1, why: "a class-init NoClassDefFoundError directly in the suite (zero testcases): a synthetic Failed run"},
	"googletest-properties-skipped.xml": {attrSkipped: 3, why: `result="skipped" once and status="notrun" result="suppressed" twice, with no <skipped> element`},
	"googletest-disabled-notrun.xml":    {attrSkipped: 1, why: `DISABLED_Testcase has status="notrun" and no <skipped> element`},
	"tst-cpp.xml":                       {attrSkipped: 5, why: `five tests with status='disabled' and no <skipped> element`},
	"marathon-flakyFailure.xml":         {flaky: 1, why: "passed on retry after a <flakyFailure>"},
	"maven-surefire-flakyFailure.xml":   {flaky: 1, why: "passed on retry after two <flakyFailure>"},
	"gotestsum-rerun-fails.xml":         {flaky: 1, merged: 1, why: "gotestsum --rerun-fails: TestWebSocketReconnectRace failed, then passed on its rerun (a second testcase): one flaky Passed run"},
}

// attempts gives the result elements seen on each attempt of a run, oldest first.
func attempts(x Run) []uint8 {
	if x.prior == nil {
		return []uint8{x.seen}
	}
	return append(slices.Clone(*x.prior), x.seen)
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	rows := readCounts(t, dir)
	if len(rows) < 80 {
		t.Errorf("COUNTS.tsv has %d rows, want 80", len(rows))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) != len(rows) {
		t.Errorf("%d xml files but %d rows in COUNTS.tsv", len(files), len(rows))
	}
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, row.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := ReadWith(f, row.file, Options{Location: time.UTC})
			if want, ok := corpusRefused[row.file]; ok {
				var e *Error
				if !errors.Is(err, want.err) || !errors.As(err, &e) || e.Line != want.line || e.File != row.file || !strings.Contains(e.Msg, want.msg) {
					t.Fatalf("error %v, want %v at line %d containing %q", err, want.err, want.line, want.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !row.parseOK {
				why, ok := corpusAccepted[row.file]
				if !ok {
					t.Fatalf("expat refuses this file and we read it, with no reason given")
				}
				t.Logf("read although parse_ok=no: %s", why)
			}
			checkInvariants(t, r)

			// The element counts, exactly as COUNTS.tsv defines them: every
			// attempt of a rerun merged into one run counts.
			var cases, fails, errs, skips, failing, skippedOnly, suiteLevel, merged int
			for _, x := range r.Runs {
				if x.SuiteLevel {
					suiteLevel++
					continue
				}
				for _, seen := range attempts(x) {
					cases++
					if seen&seenFailure != 0 {
						fails++
					}
					if seen&seenError != 0 {
						errs++
					}
					if seen&seenSkipped != 0 {
						skips++
					}
				}
				merged += len(attempts(x)) - 1
				// The run's status is its last attempt's.
				switch {
				case x.seen&(seenFailure|seenError) != 0:
					failing++
				case x.seen&seenSkipped != 0:
					skippedOnly++
				}
			}
			if cases != row.testcases || fails != row.failures || errs != row.errors || skips != row.skipped {
				t.Errorf("testcases/failures/errors/skipped = %d/%d/%d/%d, COUNTS.tsv says %d/%d/%d/%d",
					cases, fails, errs, skips, row.testcases, row.failures, row.errors, row.skipped)
			}

			// Our classification: one status per run.
			d := corpusDiffs[row.file]
			if d.why != "" {
				t.Logf("differs from COUNTS.tsv on purpose: %s", d.why)
			}
			c := r.Counts()
			if merged != d.merged {
				t.Errorf("%d attempts merged into reruns, want %d", merged, d.merged)
			}
			want := Counts{
				Total:   row.testcases + d.suiteLevel - d.merged,
				Failed:  failing + d.attrFailed + d.suiteLevel,
				Skipped: skippedOnly + d.attrSkipped,
				Flaky:   d.flaky,
			}
			want.Passed = want.Total - want.Failed - want.Skipped
			if c != want || suiteLevel != d.suiteLevel {
				t.Errorf("counts %+v (suite-level %d), want %+v (suite-level %d)", c, suiteLevel, want, d.suiteLevel)
			}
			if multi := failing - (row.failures + row.errors) + skippedOnly - row.skipped; multi != 0 {
				t.Logf("multi-result testcases folded into one run each (Failed beats Skipped): %+d runs against the COUNTS columns", multi)
			}
		})
	}
}
