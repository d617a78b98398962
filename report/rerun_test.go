package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRerunsRegression: issue 15 item 6. gotestsum --rerun-fails wrote a failed
// attempt and its passing rerun as two testcases; Read gave a failed run and a
// passed run of the same test in one build.
func TestRerunsRegression(t *testing.T) {
	dir := corpusDirOrEmpty()
	if dir == "" {
		t.Skip("shared/corpus/junit not found")
	}
	r, err := ReadFile(filepath.Join(dir, "gotestsum-rerun-fails.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var race []Run
	for _, x := range r.Runs {
		if x.Name == "TestWebSocketReconnectRace" {
			race = append(race, x)
		}
	}
	if len(r.Runs) != 3 || len(race) != 1 || race[0].Status != Passed || !race[0].Flaky || race[0].Reruns != 1 ||
		r.Counts() != (Counts{Total: 3, Passed: 2, Skipped: 1, Flaky: 1}) {
		t.Fatalf("runs of the rerun test %+v, counts %+v", race, r.Counts())
	}
	if len(race[0].EarlierFailures) != 1 || !strings.Contains(race[0].EarlierFailures[0].Body, "--- FAIL: TestWebSocketReconnectRace") {
		t.Errorf("the earlier failure is kept for the description: %+v", race[0].EarlierFailures)
	}
}

func rerunsCheck(t *testing.T, r *Report) {
	byName := map[string][]Run{}
	for _, x := range r.Runs {
		byName[x.Suite+" "+x.Name] = append(byName[x.Suite+" "+x.Name], x)
	}
	one := func(name string) Run {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("%s: %d runs, want 1", name, len(byName[name]))
		}
		return byName[name][0]
	}
	if f := one("example.com/app/api TestFlaky"); f.Status != Passed || !f.Flaky || f.Reruns != 1 || f.Duration != 7780*time.Millisecond ||
		f.Line != 26 || len(f.EarlierFailures) != 1 || f.EarlierFailures[0].Message != "Failed" {
		t.Errorf("failed then passed: %+v", f)
	}
	if f := one("example.com/app/api TestTwice"); f.Status != Passed || !f.Flaky || f.Reruns != 2 || len(f.EarlierFailures) != 2 ||
		f.EarlierFailures[0].Body != "attempt 1" || f.EarlierFailures[1].Body != "attempt 2" {
		t.Errorf("failed twice then passed: %+v", f)
	}
	if f := one("example.com/app/api TestBroken"); f.Status != Failed || f.Flaky || f.Reruns != 1 || f.EarlierFailures != nil ||
		f.Failure.Body != "second\n\n--- earlier attempt: failure: Failed\nfirst" {
		t.Errorf("failed on its rerun too: %+v %q", f, f.Failure.Body)
	}
	// A repeat after a pass is not a rerun (go test -count=2); the same name in another suite is another test.
	if n := len(byName["example.com/app/api TestCount"]); n != 2 {
		t.Errorf("TestCount: %d runs, want 2", n)
	}
	if f := one("example.com/app/db TestFlaky"); f.Status != Passed || f.Flaky {
		t.Errorf("another suite's test of the same name: %+v", f)
	}
	if c := r.Counts(); c != (Counts{Total: 9, Passed: 6, Failed: 2, Skipped: 1, Flaky: 2}) {
		t.Errorf("counts %+v", c)
	}
	if !hasWarning(r, `reruns.xml:12: testcase "TestTwice" (classname "example.com/app/api") repeats a failed one from line 9 of its suite: read as a rerun`) ||
		!hasWarning(r, "(4 times, first shown)") {
		t.Errorf("warnings %v", r.Warnings)
	}
}

// TestRerunsStream: failed runs come after their suite's other runs; the
// summary counts testcases and every attempt's time.
func TestRerunsStream(t *testing.T) {
	s := streamFixture(t, "reruns.xml", Options{Location: time.UTC})
	var order []string
	for _, r := range s.runs {
		order = append(order, r.Name)
	}
	want := "TestSkipped TestCount TestCount TestFlaky TestTwice TestBroken TestFlaky TestLast TestOnce"
	if strings.Join(order, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(order, " "), want)
	}
	if s.sum.Testcases != 13 || s.sum.Counts.Total != 9 || s.sum.RunTime != 17700*time.Millisecond {
		t.Errorf("summary %+v", s.sum)
	}
	// Off: every testcase is a run.
	off := streamFixture(t, "reruns.xml", Options{Location: time.UTC, RerunWindow: -1})
	if len(off.runs) != 13 || off.sum.Counts.Flaky != 0 || off.sum.Counts.Failed != 6 {
		t.Errorf("with reruns off: %d runs, counts %+v", len(off.runs), off.sum.Counts)
	}
}

// rerunDoc is a suite of n failing tests, then n passing reruns of them.
func rerunDoc(n int, body string) string {
	var b strings.Builder
	b.WriteString(`<testsuite name="s">` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `<testcase classname="p.C" name="t%d"><failure message="boom">%s</failure></testcase>`+"\n", i, body)
	}
	for i := range n {
		fmt.Fprintf(&b, `<testcase classname="p.C" name="t%d"/>`+"\n", i)
	}
	b.WriteString("</testsuite>\n")
	return b.String()
}

// TestRerunWindow: both sides of the bound.
func TestRerunWindow(t *testing.T) {
	count := func(t *testing.T, doc string, window int) (flaky, failed, runs int, r *Report) {
		t.Helper()
		r, err := ReadWith(strings.NewReader(doc), "w.xml", Options{RerunWindow: window})
		if err != nil {
			t.Fatal(err)
		}
		agree(t, []byte(doc), "w.xml", Options{RerunWindow: window})
		c := r.Counts()
		return c.Flaky, c.Failed, c.Total, r
	}
	t.Run("at the bound", func(t *testing.T) {
		flaky, failed, runs, r := count(t, rerunDoc(3, "trace"), 3)
		if flaky != 3 || failed != 0 || runs != 3 || hasWarning(r, "waiting for a rerun") {
			t.Errorf("flaky %d failed %d runs %d, warnings %v", flaky, failed, runs, r.Warnings)
		}
	})
	t.Run("past the bound", func(t *testing.T) {
		flaky, failed, runs, r := count(t, rerunDoc(3, "trace"), 2)
		// t0 is passed on when t2 is held; its rerun is a run of its own.
		if flaky != 2 || failed != 1 || runs != 4 || r.Runs[0].Name != "t0" || r.Runs[0].Status != Failed ||
			!hasWarning(r, "w.xml:4: more than 2 failed runs (or 8 MiB of their text) waiting for a rerun") {
			t.Errorf("flaky %d failed %d runs %d, warnings %v", flaky, failed, runs, r.Warnings)
		}
		for _, w := range r.Warnings {
			if w.Code == WarnRerunWindow && w.Count != 1 {
				t.Errorf("window warning %+v", w)
			}
		}
	})
	t.Run("default bound", func(t *testing.T) {
		if flaky, _, _, _ := count(t, rerunDoc(DefaultRerunWindow, "x"), 0); flaky != DefaultRerunWindow {
			t.Errorf("flaky %d, want %d", flaky, DefaultRerunWindow)
		}
		if flaky, _, _, r := count(t, rerunDoc(DefaultRerunWindow+1, "x"), 0); flaky != DefaultRerunWindow || !hasWarning(r, "waiting for a rerun") {
			t.Errorf("flaky %d, want %d", flaky, DefaultRerunWindow)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		defer func(n int) { maxHeldBytes = n }(maxHeldBytes)
		maxHeldBytes = 64 << 10
		under := strings.Repeat("x", maxHeldBytes/2-1024)
		if flaky, _, _, r := count(t, rerunDoc(1, under), 0); flaky != 1 || hasWarning(r, "waiting") {
			t.Errorf("%d bytes held: flaky %d", len(under), flaky)
		}
		third := strings.Repeat("x", maxHeldBytes/3)
		if flaky, failed, runs, r := count(t, rerunDoc(3, third), 0); flaky != 2 || failed != 1 || runs != 4 || !hasWarning(r, "waiting for a rerun") {
			t.Errorf("three runs of %d bytes: flaky %d failed %d runs %d", len(third), flaky, failed, runs)
		}
		over := strings.Repeat("x", maxHeldBytes+1)
		if flaky, failed, runs, r := count(t, rerunDoc(1, over), 0); flaky != 0 || failed != 1 || runs != 2 || !hasWarning(r, "waiting for a rerun") {
			t.Errorf("%d bytes: flaky %d failed %d runs %d", len(over), flaky, failed, runs)
		}
	})
}

// TestRerunsNested: reruns are matched within the innermost suite, whatever
// the nesting, and the held runs of an inner suite go when it ends.
func TestRerunsNested(t *testing.T) {
	const doc = `<testsuites>
<testsuite name="outer">
  <testcase classname="o.C" name="a"><failure/></testcase>
  <testsuite name="inner">
    <testcase classname="o.C" name="a"/>
    <testcase classname="i.C" name="b"><error/></testcase>
    <testcase classname="i.C" name="b"/>
  </testsuite>
  <testcase classname="o.C" name="a"/>
</testsuite>
</testsuites>`
	r, err := ReadWith(strings.NewReader(doc), "n.xml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	agree(t, []byte(doc), "n.xml", Options{})
	var got []string
	for _, x := range r.Runs {
		got = append(got, fmt.Sprintf("%s/%s:%s:%v", x.Suite, x.Name, x.Status, x.Flaky))
	}
	if strings.Join(got, " ") != "outer/a:Passed:true inner/a:Passed:false inner/b:Passed:true" {
		t.Errorf("runs %q", got)
	}
}
