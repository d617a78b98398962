package gen

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Suite is one JUnit report written exactly as described, with no randomness: for tests
// that count what arrives (so many runs of such names in such a build), where the corpus
// of Write draws its names and sizes. The same Suite gives the same bytes.
type Suite struct {
	// Name is the suite's name, and the classname of its cases (with Classes, the prefix
	// of their classnames).
	Name string
	// Cases is the number of test cases.
	Cases int
	// Classes > 1 splits the cases, in order, into that many classes Name.C0, Name.C1, ...,
	// each a <testsuite> of its own inside one <testsuites>.
	Classes int
	// Failed cases fail (with an assertion failure and a one-line stack trace), Skipped
	// cases are skipped; both are spread evenly, the first failure on the first case.
	// Failed cases take 0.5 s, skipped ones 0, the others 0.25 s.
	Failed, Skipped int
	// Timestamp is the suite's start (written in RFC 3339); zero is 2025-01-06T08:00:00Z.
	Timestamp time.Time
	// CaseName names case i; nil names it "test<i>".
	CaseName func(i int) string
	// Output is about how many bytes of captured output (<system-out>, log lines) each
	// case carries: for large reports.
	Output int64
}

// Class is the classname of case i.
func (s Suite) Class(i int) string {
	if s.Classes <= 1 {
		return s.Name
	}
	return fmt.Sprintf("%s.C%d", s.Name, s.classIndex(i))
}

func (s Suite) classIndex(i int) int { return i * s.Classes / s.Cases }

// Case is the name of case i.
func (s Suite) Case(i int) string {
	if s.CaseName != nil {
		return s.CaseName(i)
	}
	return fmt.Sprintf("test%d", i)
}

// picked spreads n of the total cases evenly: exactly n of the i in [0, total) are
// picked, i = 0 first.
func picked(i, n, total int) bool { return n > 0 && i*n%total < n }

// outputLine is the captured output's line.
const outputLine = "2025-03-01 08:00:00.123 DEBUG com.example.Chatty - a chatty log line of the test under way\n"

// WriteSuite writes s as a report at path (its folder made if needed), streaming it, and
// returns what it wrote.
func WriteSuite(path string, s Suite) (Stats, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Stats{}, err
	}
	return streamTo(path, func(w *bufio.Writer) Stats { return s.write(w) })
}

// write writes the report.
func (s Suite) write(w *bufio.Writer) Stats {
	st := Stats{Reports: 1, Cases: s.Cases}
	ts := s.Timestamp
	if ts.IsZero() {
		ts = base
	}
	suiteStart := func(name string, tests int) {
		fmt.Fprintf(w, "<testsuite name=\"%s\" tests=\"%d\" timestamp=\"%s\">\n", esc(name), tests, ts.Format(time.RFC3339))
	}
	fmt.Fprintln(w, `<?xml version="1.0" encoding="UTF-8"?>`)
	nested := s.Classes > 1
	if nested {
		fmt.Fprintf(w, "<testsuites name=\"%s\" tests=\"%d\">\n", esc(s.Name), s.Cases)
	} else {
		suiteStart(s.Name, s.Cases)
	}
	for i := range s.Cases {
		cls := s.Class(i)
		if nested && (i == 0 || s.classIndex(i) != s.classIndex(i-1)) {
			if i > 0 {
				fmt.Fprintln(w, "</testsuite>")
			}
			n := 0
			for j := i; j < s.Cases && s.classIndex(j) == s.classIndex(i); j++ {
				n++
			}
			suiteStart(cls, n)
		}
		name := s.Case(i)
		fmt.Fprintf(w, "  <testcase classname=\"%s\" name=\"%s\"", esc(cls), esc(name))
		switch {
		case picked(i, s.Failed, s.Cases):
			st.Failed++
			fmt.Fprintf(w, " time=\"0.5\"><failure type=\"java.lang.AssertionError\" message=\"expected: &lt;1&gt; but was: &lt;2&gt;\">java.lang.AssertionError: expected: &lt;1&gt; but was: &lt;2&gt;\n\tat %s.%s(%s.java:%d)</failure>",
				esc(cls), esc(name), esc(cls[strings.LastIndexByte(cls, '.')+1:]), 10+i%500)
		case picked((i+s.Cases-1)%s.Cases, s.Skipped, s.Cases):
			st.Skipped++
			fmt.Fprint(w, " time=\"0\"><skipped/>")
		default:
			if s.Output <= 0 {
				fmt.Fprintln(w, " time=\"0.25\"/>")
				continue
			}
			fmt.Fprint(w, " time=\"0.25\">")
		}
		if s.Output > 0 {
			w.WriteString("<system-out>")
			for n := int64(0); n < s.Output; n += int64(len(outputLine)) {
				w.WriteString(outputLine)
			}
			w.WriteString("</system-out>")
		}
		fmt.Fprintln(w, "</testcase>")
	}
	fmt.Fprintln(w, "</testsuite>")
	if nested {
		fmt.Fprintln(w, "</testsuites>")
	}
	return st
}

// esc escapes s for an XML attribute.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
