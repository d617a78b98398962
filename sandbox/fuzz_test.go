package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzValidateTestResult checks that no payload panics the validator and
// that an accepted payload has a <test_runs> element.
func FuzzValidateTestResult(f *testing.F) {
	f.Add(payload(buildHead, run("a", "Passed")))
	f.Add(payload(`<release name="_default_"/><test_fields><test_field type="Framework" value="JUnit"/></test_fields>`,
		`<test_run name="a" status="Failed" duration="1"><error message="m">t</error><description>d</description></test_run>`))
	f.Add(`<!DOCTYPE x><test_result/>`)
	f.Add(`<test_result><test_runs><gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/></feature></gherkin_test_run></test_runs></test_result>`)
	f.Fuzz(func(t *testing.T, in string) {
		root, err := validatePayload(in)
		if err == nil && (root == nil || root.kid("test_runs") == nil) {
			t.Fatalf("accepted a payload without test_runs: %q", in)
		}
	})
}

// FuzzParseQuery checks that no query panics the parser or the evaluator.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{`"name EQ ^x^"`, `"ci_server={id=1}"`, `"((a EQ 1)||(!b='x*'))"`, `"id IN 1,2,3"`, `"name='\*'"`} {
		f.Add(q)
	}
	s := New(Options{})
	s.add("ci_server", map[string]any{"name": "srv", "instance_id": "i"})
	s.add("pipeline", map[string]any{"name": "p", "ci_server": ref{"ci_server", "2001"}})
	f.Fuzz(func(t *testing.T, q string) {
		n, err := parseQuery(q)
		if err != nil {
			return
		}
		if n.check("pipeline") == nil {
			for _, e := range s.ents["pipeline"] {
				n.eval(&s.store, e)
			}
		}
	})
}

func BenchmarkValidateTestResult(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		sb.WriteString(fmt.Sprintf(`<test_run module="/m" package="com.acme.pkg" class="C%d" name="test%d" status="Failed" duration="12" started="1700000000000"><error type="E" message="boom">trace line 1
trace line 2</error></test_run>`, i%50, i))
	}
	doc := payload(buildHead, sb.String())
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for range b.N {
		if _, err := validatePayload(doc); err != nil {
			b.Fatal(err)
		}
	}
}
