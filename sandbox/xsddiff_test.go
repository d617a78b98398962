package sandbox

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

// The production validator (validatePayload: the scanner of xsdscan.go, and
// validateTokens for what it leaves) must decide every payload as the
// validator before it did (refValidate, xsdref_test.go): accept the same
// payloads with the same tree, refuse the same with the same words.

// disagreement compares validatePayload's decision on doc with the
// reference's; "" when they agree.
func disagreement(doc string, root *xnode, err error) string {
	ref, refErr := refValidate([]byte(doc))
	switch {
	case (err == nil) != (refErr == nil):
		return fmt.Sprintf("validatePayload: %v; the reference: %v", err, refErr)
	case err != nil:
		if err.Error() != refErr.Error() {
			return fmt.Sprintf("validatePayload refuses with %q; the reference with %q", err, refErr)
		}
		return ""
	}
	if d := treeDiff(root, ref, "/"); d != "" {
		return "trees differ: " + d
	}
	if a, b := tooLong(root), refTooLong(ref); a != b {
		return fmt.Sprintf("tooLong %q, the reference %q", a, b)
	}
	return ""
}

// treeDiff describes the first difference between a tree and the
// reference's.
func treeDiff(n *xnode, r *refNode, path string) string {
	path += n.name
	switch {
	case n.name != r.name:
		return fmt.Sprintf("%s: element %q, the reference %q", path, n.name, r.name)
	case n.line != r.line:
		return fmt.Sprintf("%s: line %d, the reference %d", path, n.line, r.line)
	case n.text != r.text:
		return fmt.Sprintf("%s: text %q, the reference %q", path, n.text, r.text)
	case len(n.attrs) != len(r.attrs):
		return fmt.Sprintf("%s: attributes %v, the reference %v", path, n.attrs, r.attrs)
	case len(n.kids) != len(r.kids):
		return fmt.Sprintf("%s: %d children, the reference %d", path, len(n.kids), len(r.kids))
	}
	for _, a := range n.attrs {
		if v, ok := r.attrs[a.name]; !ok || v != a.value {
			return fmt.Sprintf("%s: @%s=%q, the reference %q (present %t)", path, a.name, a.value, v, ok)
		}
	}
	for i := range n.kids {
		if d := treeDiff(n.kids[i], r.kids[i], fmt.Sprintf("%s[%d]/", path, i)); d != "" {
			return d
		}
	}
	return ""
}

// seen records what every test of the package posted: TestMain compares
// each payload validatePayload decides with the reference (not while
// benchmarking or fuzzing) and fails the run on a disagreement.
var seen struct {
	sync.Mutex
	payloads, scanned int
	disagree          []string
}

func TestMain(m *testing.M) {
	flag.Parse()
	check := flag.Lookup("test.bench").Value.String() == "" && flag.Lookup("test.fuzz").Value.String() == ""
	if check {
		payloadCheck = func(doc string, root *xnode, err error) {
			_, scanned := scanTestResult(doc)
			d := disagreement(doc, root, err)
			seen.Lock()
			defer seen.Unlock()
			seen.payloads++
			if scanned {
				seen.scanned++
			}
			if d != "" {
				seen.disagree = append(seen.disagree, fmt.Sprintf("%s\n  payload: %q", d, abbreviateDoc(doc)))
			}
		}
	}
	code := m.Run()
	if check {
		payloadCheck = nil
		seen.Lock()
		if testing.Verbose() {
			fmt.Printf("validatePayload checked against the reference on %d payloads (%d decided by the scanner)\n", seen.payloads, seen.scanned)
		}
		for _, d := range seen.disagree {
			fmt.Fprintln(os.Stderr, "validatePayload disagrees with the reference validator:", d)
		}
		if len(seen.disagree) > 0 && code == 0 {
			code = 1
		}
		seen.Unlock()
	}
	os.Exit(code)
}

func abbreviateDoc(doc string) string {
	if len(doc) > 2000 {
		return doc[:2000] + "…"
	}
	return doc
}

// corpus returns the payloads the agreement is checked on beyond what the
// package's tests post: the encoder's golden files (../octane/testdata),
// Octane's own converter fixtures and XSD (shared/octane, when present),
// a realistic payload, and edgeCases.
func corpus(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	read := func(pattern string) {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = string(b)
		}
	}
	read(filepath.Join("..", "octane", "testdata", "*.xml"))
	if p := testkit.SharedPath("octane/test-results.xsd"); p != "" {
		read(filepath.Join(filepath.Dir(p), "converter-fixtures", "*.xml"))
		read(p)
	}
	out["realistic 200 runs"] = string(benchPayload(t, 200))
	for name, doc := range edgeCases {
		out[name] = doc
	}
	return out
}

// edgeCases probe the scanner's edges: what it decides itself, and what it
// must leave to validateTokens.
var edgeCases = map[string]string{
	"crlf":                       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<test_result>\r\n<test_runs>\r\n" + `<test_run name="a` + "\r\n" + `b" status="Failed" duration="1"><error>line 1` + "\r\nline 2\rline 3\r\r\n</error></test_run>\r\n</test_runs>\r\n</test_result>\r\n",
	"references":                 payload("", `<test_run name="&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;&#9;" status="Failed" duration="1"><error message="&#xA;&#13;x">&#xD;&#10;&lt;tag&gt; ]]&gt; ]&#93;></error><description>&#x10FFFF;</description></test_run>`),
	"reference zero padded":      payload("", `<test_run name="&#x0000041;&#0000066;" status="Passed" duration="1"/>`),
	"reference uppercase X":      payload("", `<test_run name="&#X41;" status="Passed" duration="1"/>`),
	"reference empty":            payload("", `<test_run name="&#;" status="Passed" duration="1"/>`),
	"reference no semicolon":     payload("", `<test_run name="&#65 x" status="Passed" duration="1"/>`),
	"reference to NUL":           payload("", `<test_run name="a&#0;" status="Passed" duration="1"/>`),
	"reference to surrogate":     payload("", `<test_run name="a&#xD800;" status="Passed" duration="1"/>`),
	"reference to FFFE":          payload("", `<test_run name="a&#xFFFE;" status="Passed" duration="1"/>`),
	"reference beyond Unicode":   payload("", `<test_run name="a&#x110000;" status="Passed" duration="1"/>`),
	"reference huge":             payload("", `<test_run name="a&#99999999999999999999999;" status="Passed" duration="1"/>`),
	"entity unknown":             payload("", `<test_run name="&nbsp;" status="Passed" duration="1"/>`),
	"entity no semicolon":        payload("", `<test_run name="&amp" status="Passed" duration="1"/>`),
	"bare ampersand":             payload("", `<test_run name="a & b" status="Passed" duration="1"/>`),
	"lt in attribute":            payload("", `<test_run name="a<b" status="Passed" duration="1"/>`),
	"gt in attribute":            payload("", `<test_run name="a>b ]]>" status="Passed" duration="1"/>`),
	"single quotes":              payload("", `<test_run name='say "hi"' status='Passed' duration='1'/>`),
	"unquoted value":             payload("", `<test_run name=a status="Passed" duration="1"/>`),
	"no space between attrs":     payload("", `<test_run name="a"status="Passed"duration="1"/>`),
	"spaces around equals":       payload("", "<test_run name \t=\n \"a\" status = 'Passed' duration= \"1\" />"),
	"attribute without value":    payload("", `<test_run name status="Passed" duration="1"/>`),
	"attribute without equals":   payload("", `<test_run name!"a" status="Passed" duration="1"/>`),
	"duplicate attribute":        payload("", `<test_run name="a" name="b" status="Passed" duration="1"/>`),
	"missing required":           payload("", `<test_run name="a" status="Passed"/>`),
	"xmlns":                      `<test_result xmlns="urn:x"><test_runs/></test_result>`,
	"prefixed element":           `<x:test_result xmlns:x="urn:x"><x:test_runs/></x:test_result>`,
	"prefixed attribute":         payload("", `<test_run xml:lang="en" name="a" status="Passed" duration="1"/>`),
	"control character":          payload("", "<test_run name=\"a\x01\" status=\"Passed\" duration=\"1\"/>"),
	"control in text":            payload("", "<test_run name=\"a\" status=\"Failed\" duration=\"1\"><error>\x1b[31m</error></test_run>"),
	"vertical tab between":       payload("", "<test_run name=\"a\" status=\"Passed\" duration=\"1\"/>\v"),
	"FFFF in text":               payload("", "<test_run name=\"a\" status=\"Failed\" duration=\"1\"><error>\uffff</error></test_run>"),
	"FFFD and EF bytes in text":  payload("", "<test_run name=\"\uef00\ufffd\" status=\"Failed\" duration=\"1\"><error>\ufeff\uefbf</error></test_run>"),
	"invalid UTF-8":              payload("", "<test_run name=\"a\xff\" status=\"Passed\" duration=\"1\"/>"),
	"invalid UTF-8 in comment":   payload("", "<!-- \xff --><test_run name=\"a\" status=\"Passed\" duration=\"1\"/>"),
	"nbsp between elements":      payload("", "\u00a0<test_run name=\"a\" status=\"Passed\" duration=\"1\"/>\u00a0"),
	"BOM":                        "\ufeff" + payload("", ""),
	"leading space":              "  " + payload("", ""),
	"no declaration":             `<test_result><test_runs><test_run name="a" status="Passed" duration="1"/></test_runs></test_result>`,
	"declaration standalone":     `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><test_result><test_runs/></test_result>`,
	"declaration latin1":         `<?xml version="1.0" encoding="ISO-8859-1"?><test_result><test_runs/></test_result>`,
	"declaration 1.1":            `<?xml version="1.1"?><test_result><test_runs/></test_result>`,
	"declaration late":           `<test_result><?xml version="1.0"?><test_runs/></test_result>`,
	"processing instruction":     payload("", `<?pi data?><test_run name="a" status="Passed" duration="1"/>`),
	"stylesheet":                 `<?xml version="1.0"?><?xml-stylesheet href="x"?><test_result><test_runs/></test_result>`,
	"comments everywhere":        `<?xml version="1.0"?><!-- a --><test_result><!----><test_runs><!-- - --><test_run name="a" status="Failed" duration="1"><error>x<!-- y -->z</error><description><!--d-->e</description></test_run></test_runs></test_result><!-- end -->` + "\n",
	"comment with double dash":   payload("", `<!-- a -- b --><test_run name="a" status="Passed" duration="1"/>`),
	"comment three dashes":       payload("", `<!-- a ---><test_run name="a" status="Passed" duration="1"/>`),
	"comment double dash, then":  payload("", `<!--x--y<test_run name="a" status="Passed" duration="1"/>`),
	"comment unclosed":           payload("", `<!-- a `),
	"comment short":              payload("", `<!-><test_run name="a" status="Passed" duration="1"/>`),
	"cdata":                      payload("", `<test_run name="a" status="Failed" duration="1"><error><![CDATA[<b>x</b> ]] >]]></error></test_run>`),
	"cdata between elements":     payload("", `<![CDATA[ ]]><test_run name="a" status="Passed" duration="1"/>`),
	"doctype":                    `<!DOCTYPE test_result><test_result><test_runs/></test_result>`,
	"entity declared":            `<!DOCTYPE test_result [<!ENTITY x "y">]><test_result><test_runs><test_run name="&x;" status="Passed" duration="1"/></test_runs></test_result>`,
	"cdata end in text":          payload("", `<test_run name="a" status="Failed" duration="1"><error>a]]>b</error></test_run>`),
	"mismatched end":             payload("", `<test_run name="a" status="Passed" duration="1"></test_runx>`),
	"end with space":             payload("", `<test_run name="a" status="Passed" duration="1"></test_run  >`),
	"end with junk":              payload("", `<test_run name="a" status="Passed" duration="1"></test_run x>`),
	"space after lt":             payload("", `< test_run name="a" status="Passed" duration="1"/>`),
	"slash space gt":             payload("", `<test_run name="a" status="Passed" duration="1"/ >`),
	"unclosed root":              `<test_result><test_runs/>`,
	"truncated in tag":           `<test_result><test_runs><test_run name="a" status="Passed" duration="1"`,
	"truncated in value":         `<test_result><test_runs><test_run name="a`,
	"second root":                payload("", "") + "<test_result><test_runs/></test_result>",
	"text after root":            payload("", "") + "x",
	"end tag after root":         payload("", "") + "</test_result>",
	"empty":                      "",
	"spaces only":                " \n ",
	"other root":                 `<testsuite/>`,
	"self-closing root":          `<test_result/>`,
	"empty test_runs":            `<test_result><test_runs></test_runs></test_result>`,
	"text in test_runs":          payload("", "x"),
	"reference in test_runs":     payload("", "&#32;"),
	"element in error":           payload("", `<test_run name="a" status="Failed" duration="1"><error><b/></error></test_run>`),
	"gherkin file text":          payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file>Feature: x &amp; y<!-- c --></file></feature></gherkin_test_run>`),
	"gherkin file empty":         payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/></feature></gherkin_test_run>`),
	"gherkin file elements":      payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file><x a="1"><y/></x></file></feature></gherkin_test_run>`),
	"gherkin file bad entity":    payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file>&bad;</file></feature></gherkin_test_run>`),
	"gherkin file attribute":     payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file kind="x"/></feature></gherkin_test_run>`),
	"mixed runs":                 payload("", run("a", "Passed")+`<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/></feature></gherkin_test_run>`),
	"full context":               payload(`<build server_id="s" job_id="j" build_id="b"/><suite_ref id="1" external_run_id="x" component="c"/><program_ref id="2"/><release_ref id="3"/><milestone_ref id="4"/><backlog_items><backlog_item_ref id="5"/></backlog_items><product_areas><product_area_ref id="6"/></product_areas><test_fields><test_field type="Framework" value="JUnit"/></test_fields><environment><taxonomy type="OS" value="Linux"/></environment>`, `<test_run name="n" status="Passed" duration="1"><release name="r"/><test_fields><test_field type="Test_Level" value="Unit"/></test_fields><environment><taxonomy type="DB" value="pg"/></environment></test_run>`),
	"out of order":               payload(`<test_fields/><build server_id="s" job_id="j" build_id="b"/>`, ""),
	"two releases":               payload(`<release_ref id="3"/><release name="r"/>`, ""),
	"steps":                      payload("", `<test_run name="n" status="Passed" duration="1"><steps iteration="1"><step name="s" duration="1" status="Passed"><error_message>boom</error_message><input_parameters><parameter name="p" value="v"/></input_parameters></step></steps><steps/></test_run>`),
	"empty input_parameters":     payload("", `<test_run name="n" status="Passed" duration="1"><steps><step name="s" duration="1" status="Passed"><input_parameters/></step></steps></test_run>`),
	"long with spaces":           payload("", `<test_run name="n" status="Passed" duration=" +12 " started="-0"/>`),
	"long overflow":              payload("", `<test_run name="n" status="Passed" duration="9223372036854775808"/>`),
	"long empty":                 payload("", `<test_run name="n" status="Passed" duration=""/>`),
	"long sign only":             payload("", `<test_run name="n" status="Passed" duration="-"/>`),
	"boolean":                    payload("", `<test_run name="n" status="Passed" duration="1" manual=" 1 "/>`),
	"url":                        payload("", `<test_run name="n" status="Passed" duration="1" external_report_url="HTTPS://x"/>`),
	"url short":                  payload("", `<test_run name="n" status="Passed" duration="1" external_report_url="td://"/>`),
	"name 255 multibyte":         payload("", `<test_run name="`+strings.Repeat("é", 255)+`" status="Passed" duration="1"/>`),
	"name 256 multibyte":         payload("", `<test_run name="`+strings.Repeat("é", 256)+`" status="Passed" duration="1"/>`),
	"too long text":              payload("", `<test_run name="n" status="Failed" duration="1"><error message="`+strings.Repeat("m", MaxTextLength+1)+`">`+strings.Repeat("x", MaxTextLength+1)+`</error></test_run>`),
	"too long astral":            payload("", `<test_run name="n" status="Failed" duration="1"><error>`+strings.Repeat("\U0001F600", MaxTextLength/2+1)+`</error></test_run>`),
	"unknown element":            payload("", `<test_run name="n" status="Passed" duration="1"><log/></test_run>`),
	"unknown attribute":          payload("", `<test_run name="n" status="Passed" duration="1" colour="red"/>`),
	"attribute name non-ASCII":   payload("", `<test_run namé="n" name="n" status="Passed" duration="1"/>`),
	"element name non-ASCII":     payload("", `<test_runé name="n" status="Passed" duration="1"/>`),
	"remark after root":          payload(buildHead, run("a", "Passed")) + "\n<!-- octane-import retry 2 - - x -->\n",
	"lines":                      "<?xml version=\"1.0\"?>\n<test_result>\n <test_runs>\n  <test_run name=\"a\"\n status=\"Failed\" duration=\"1\">\n<error>\n\n</error>\n<description>\nd\n</description>\n</test_run>\n\n <test_run name=\"b\" status=\"Passed\" duration=\"2\"\n/>\n</test_runs>\n</test_result>\n",
	"description before error":   payload("", `<test_run name="a" status="Failed" duration="1"><description>d</description><error/></test_run>`),
	"gherkin missing feature":    payload("", `<gherkin_test_run name="g" duration="1" status="Passed"></gherkin_test_run>`),
	"feature without file":       payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><scenarios/></feature></gherkin_test_run>`),
	"scenario missing steps":     payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/><scenarios><scenario name="s" status="Passed"/></scenarios></feature></gherkin_test_run>`),
	"scenario with steps":        payload("", `<gherkin_test_run name="g" duration="1" status="Passed"><feature name="f" path="p" tag="" started="1"><file/><scenarios><background><steps><step name="b"/></steps></background><scenario name="" outlineIndex="2" status="Failed"><steps><step name="s" duration="1" status="failed"><error_message>e</error_message></step></steps></scenario></scenarios></feature></gherkin_test_run>`),
	"test_field lowercase":       payload(`<test_fields><test_field type="framework" value="JUnit"/></test_fields>`, ""),
	"ampersand in error body":    payload("", `<test_run name="a" status="Failed" duration="1"><error type="java.lang.AssertionError" message="expected:&lt;1&gt; but was:&lt;2&gt;">java.lang.AssertionError: expected:&lt;1&gt; but was:&lt;2&gt;&#xD;&#xA;	at a.b(C.java:1)</error></test_run>`),
	"attribute value multi-line": payload("", "<test_run name=\"a\nb\tc\" status=\"Passed\" duration=\"1\"/>"),
}

// TestValidatorsAgree checks the corpus and the edge cases, and that the
// scanner decides the payloads the project's encoder writes itself.
func TestValidatorsAgree(t *testing.T) {
	scanned := 0
	docs := corpus(t)
	for name, doc := range docs {
		root, err := validatePayload(doc)
		if d := disagreement(doc, root, err); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		sroot, ok := scanTestResult(doc)
		if ok {
			scanned++
			if err != nil || sroot == nil {
				t.Errorf("%s: the scanner accepts what validatePayload refuses: %v", name, err)
			}
		}
		encoded := strings.HasSuffix(name, ".golden.xml") || strings.HasPrefix(name, "realistic")
		if encoded && !ok {
			t.Errorf("%s: the encoder's payload is left to validateTokens; the scanner should decide it", name)
		}
	}
	t.Logf("%d payloads, %d decided by the scanner", len(docs), scanned)
}

// TestScannerDecides pins which edge cases the scanner decides itself
// (valid, in the XML it reads) and which it leaves to validateTokens.
func TestScannerDecides(t *testing.T) {
	for name, want := range map[string]bool{
		"crlf": true, "references": true, "reference zero padded": true, "single quotes": true,
		"no space between attrs": true, "spaces around equals": true, "gt in attribute": true,
		"FFFD and EF bytes in text": true, "no declaration": true, "declaration standalone": true,
		"comments everywhere": true, "end with space": true,
		"gherkin file text": true, "gherkin file empty": true, "full context": true, "steps": true,
		"long with spaces": true, "name 255 multibyte": true, "too long text": true,
		"remark after root": true, "lines": true, "scenario with steps": true, "ampersand in error body": true,
		"attribute value multi-line": true, "empty test_runs": true,
		// valid, but left to validateTokens
		"reference to surrogate": false, "nbsp between elements": false, "leading space": false,
		"stylesheet": false, "processing instruction": false, "cdata": false, "gherkin file elements": false,
		"reference in test_runs": false,
		// invalid
		"reference to NUL": false, "comment three dashes": false, "entity unknown": false, "lt in attribute": false, "duplicate attribute": false,
		"control character": false, "FFFF in text": false, "cdata end in text": false, "mismatched end": false,
		"second root": false, "self-closing root": false, "BOM": false, "doctype": false,
	} {
		doc, ok := edgeCases[name]
		if !ok {
			t.Fatalf("no edge case %q", name)
		}
		if _, got := scanTestResult(doc); got != want {
			t.Errorf("%s: the scanner decides it = %t, want %t", name, got, want)
		}
	}
}

// FuzzValidatorsAgree checks that validatePayload decides any input as the
// reference does, seeded with the corpus.
func FuzzValidatorsAgree(f *testing.F) {
	for _, doc := range corpus(f) {
		if len(doc) < 64<<10 {
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc string) {
		root, err := validatePayload(doc)
		if d := disagreement(doc, root, err); d != "" {
			t.Fatal(d)
		}
	})
}

// FuzzValidatorsAgreeOnValues is FuzzValidatorsAgree with the fuzzer's
// strings inside a valid payload: an attribute value, the text of <error>
// and what sits between two runs, where the scanner decodes references,
// line ends and characters itself.
func FuzzValidatorsAgreeOnValues(f *testing.F) {
	f.Add("a", "trace", "\n")
	f.Add("&lt;x&gt; &#x9;&#xA;&#13;", "a\r\nb\rc &amp; ]]&gt; &#x1F600;", "<!-- c -->")
	f.Add("é\u00a0\uffff", "<![CDATA[x]]>", "<?pi x?>")
	f.Add(`" status="Passed`, "</error><error>", `<test_run name="b" status="Passed" duration="1"/>`)
	f.Fuzz(func(t *testing.T, value, text, between string) {
		doc := payload(buildHead, `<test_run name="`+value+`" status="Failed" duration="1"><error message='`+value+`'>`+text+`</error></test_run>`+
			between+run("b", "Passed"))
		root, err := validatePayload(doc)
		if d := disagreement(doc, root, err); d != "" {
			t.Fatal(d)
		}
	})
}
