package octane_test

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/octane"
)

var started = time.UnixMilli(1443096986850)

type encoderCase struct {
	name string
	ctx  octane.ResultContext
	runs []octane.TestRun
}

func encoderCases() []encoderCase {
	multi := strings.Repeat("テスト", 50) + strings.Repeat("é", 100) + "😀end" // 254 characters; 304 with the suffix below
	return []encoderCase{
		{name: "minimal", runs: []octane.TestRun{
			{Package: "com.examples.example", Class: "SampleClass", Name: "testOne", Status: "Passed", Duration: 2 * time.Millisecond, Started: started},
		}},
		{name: "empty"},
		{name: "full", ctx: octane.ResultContext{
			Build:        &octane.BuildRef{ServerID: "jenkins-1", JobID: "pipe/unit", BuildID: "284"},
			ReleaseID:    1001,
			MilestoneID:  2002,
			BacklogItems: []int64{11, 12},
			ProductAreas: []int64{21},
			TestFields: []octane.Field{
				{Type: "Framework", Value: "JUnit"},
				{Type: "test level", Value: "Unit Test"}, // normalised to Test_Level
				{Type: "Colour", Value: "blue"},          // not an Octane test field: left out
				{Type: "Test_Type", Value: ""},           // empty: left out
			},
			Environment: []octane.Field{{Type: "OS", Value: "Linux"}, {Type: "Browser", Value: "Firefox & \"Chrome\""}},
		}, runs: []octane.TestRun{
			{Module: "/helloWorld", Package: "hello", Class: "HelloWorldTest", Name: "testOne", Status: "Passed", Duration: 1500 * time.Microsecond, Started: started},
			{Module: "/helloWorld", Package: "hello", Class: "HelloWorldTest", Name: "testTwo", Status: "failed", Duration: 2 * time.Second, Started: started,
				Error: &octane.RunError{Type: "java.lang.AssertionError", Message: "expected:<111> but was:<222>\n\tsecond line",
					Body: "java.lang.AssertionError: expected:<111> but was:<222>\r\n\tat hello.HelloWorldTest.testTwo(HelloWorldTest.java:20)\n\tat x & y"},
				Description: "My run description", ExternalReportURL: "https://ci.example.com/job/unit/284/testReport"},
			{Class: "Skippy", Name: "skipped [param=\"a\"]", Status: "Skipped", Description: "skipped: <reason>", ExternalReportURL: "ftp://nope"},
			{Name: "errorOnly", Status: "Failed", Error: &octane.RunError{Message: "boom"}},
		}},
		{name: "truncation", ctx: octane.ResultContext{
			Build:       &octane.BuildRef{ServerID: "srv", JobID: strings.Repeat("folder/", 40) + "job", BuildID: "1"},
			ReleaseName: strings.Repeat("Ω", 300),
			TestFields:  []octane.Field{{Type: "Framework", Value: strings.Repeat("x", 256)}},
		}, runs: []octane.TestRun{
			{Package: strings.Repeat("p.", 150), Class: "C\x00lass", Name: multi + strings.Repeat("名", 50), Status: "Passed"},
			{Class: "Ctl", Name: "bad\x1b[0m bytes \xff\xfe", Status: "Failed", Error: &octane.RunError{Body: "trace\x07with bell"}},
			{Name: "negative", Status: "Passed", Duration: -time.Second},
		}},
	}
}

func encode(t *testing.T, tc encoderCase) ([]byte, []string) {
	t.Helper()
	var b bytes.Buffer
	e := octane.NewEncoder(&b, tc.ctx)
	for _, r := range tc.runs {
		if err := e.Encode(r); err != nil {
			t.Fatalf("Encode(%q): %v", r.Name, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Runs() != len(tc.runs) {
		t.Fatalf("Runs() = %d", e.Runs())
	}
	return b.Bytes(), e.Warnings()
}

func TestEncoderGolden(t *testing.T) {
	for _, tc := range encoderCases() {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings := encode(t, tc)
			testkit.Golden(t, filepath.Join("testdata", tc.name+".golden.xml"), out)
			testkit.Golden(t, filepath.Join("testdata", tc.name+".warnings.golden.txt"), strings.Join(warnings, "\n")+"\n")
			checkDocument(t, out)
			again, _ := encode(t, tc)
			if !bytes.Equal(out, again) {
				t.Fatal("same input, different bytes")
			}
		})
	}
}

// xsdOrder is the sequence of test_result's children in the XSD.
var xsdOrder = []string{"build", "suite_ref", "program_ref", "release_ref|release", "milestone_ref", "backlog_items", "product_areas", "test_fields", "environment", "test_runs"}

// checkDocument parses the output with encoding/xml and checks what a strict
// server checks: well-formed, children of test_result in XSD order, string255
// attributes at most 255 characters, statuses from the enum.
func checkDocument(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, pos := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				found := false
				for pos < len(xsdOrder) {
					if strings.Contains("|"+xsdOrder[pos]+"|", "|"+el.Name.Local+"|") {
						found = true
						pos++
						break
					}
					pos++
				}
				if !found {
					t.Fatalf("<%s> out of XSD order", el.Name.Local)
				}
			}
			for _, a := range el.Attr {
				limited := map[string]bool{"name": true, "module": true, "package": true, "class": true, "server_id": true, "job_id": true, "build_id": true, "value": true, "type": el.Name.Local != "error"}
				if limited[a.Name.Local] && utf8.RuneCountInString(a.Value) > 255 {
					t.Fatalf("<%s %s> has %d characters", el.Name.Local, a.Name.Local, utf8.RuneCountInString(a.Value))
				}
				if el.Name.Local == "test_run" && a.Name.Local == "status" && !strings.Contains("Passed Failed Skipped Planned", a.Value) {
					t.Fatalf("status %q", a.Value)
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}

func TestEncoderTruncatesMultiByteName(t *testing.T) {
	name := strings.Repeat("日本語", 100) // 300 characters, 900 bytes
	var b bytes.Buffer
	e := octane.NewEncoder(&b, octane.ResultContext{})
	if err := e.Encode(octane.TestRun{Name: name, Status: "Passed"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Name string `xml:"name,attr"`
		} `xml:"test_runs>test_run"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Runs[0].Name
	if utf8.RuneCountInString(got) != 255 || !utf8.ValidString(got) || got != strings.Repeat("日本語", 85) {
		t.Fatalf("name kept %d characters: %q", utf8.RuneCountInString(got), got)
	}
	if w := e.Warnings(); len(w) != 1 || !strings.Contains(w[0], "name cut from 300 to 255 characters") {
		t.Fatalf("warnings %q", w)
	}
}

func TestEncoderRefuses(t *testing.T) {
	var b bytes.Buffer
	e := octane.NewEncoder(&b, octane.ResultContext{})
	for _, r := range []octane.TestRun{
		{Name: "", Status: "Passed"},
		{Name: "\x00\x01", Status: "Passed"},
		{Name: "x", Status: "Green"},
	} {
		if err := e.Encode(r); err == nil {
			t.Errorf("Encode(%+v) accepted", r)
		}
	}
	if err := e.Encode(octane.TestRun{Name: "ok", Status: "Passed"}); err != nil {
		t.Fatalf("encoder unusable after a refused run: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Runs() != 1 || strings.Count(b.String(), "<test_run ") != 1 {
		t.Fatalf("runs %d:\n%s", e.Runs(), b.String())
	}
	if err := e.Encode(octane.TestRun{Name: "late", Status: "Passed"}); err == nil {
		t.Fatal("Encode after Close accepted")
	}
	bad := octane.NewEncoder(io.Discard, octane.ResultContext{Build: &octane.BuildRef{ServerID: "s"}})
	if err := bad.Close(); err == nil {
		t.Fatal("a build reference without job and build ids accepted")
	}
}

func TestGzipDeterministic(t *testing.T) {
	out, _ := encode(t, encoderCases()[2])
	z1, err := octane.Gzip(out)
	if err != nil {
		t.Fatal(err)
	}
	z2, _ := octane.Gzip(out)
	if !bytes.Equal(z1, z2) {
		t.Fatal("gzip not deterministic")
	}
	zr, err := gzip.NewReader(bytes.NewReader(z1))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() && zr.ModTime.Unix() != 0 {
		t.Fatalf("gzip header carries name %q / mtime %v", zr.Name, zr.ModTime)
	}
	back, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(back, out) {
		t.Fatalf("round trip: %v", err)
	}
}

func FuzzEncoder(f *testing.F) {
	f.Add("pkg", "Class", "name", "Passed", "msg", "trace", "Linux")
	f.Add(strings.Repeat("é", 300), "\x00", "\xff\xfe", "Failed", "<&>\"'", "]]>", "")
	f.Fuzz(func(t *testing.T, pkg, class, name, status, msg, body, env string) {
		var b bytes.Buffer
		e := octane.NewEncoder(&b, octane.ResultContext{
			Build:       &octane.BuildRef{ServerID: "s" + env, JobID: "j" + name, BuildID: "b"},
			ReleaseName: env, Environment: []octane.Field{{Type: "OS", Value: env}},
		})
		_ = e.Encode(octane.TestRun{Package: pkg, Class: class, Name: name, Status: status, Error: &octane.RunError{Message: msg, Body: body}, Description: body})
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		checkDocument(t, b.Bytes())
	})
}

func BenchmarkEncoder1000Runs(b *testing.B) {
	runs := make([]octane.TestRun, 1000)
	for i := range runs {
		runs[i] = octane.TestRun{Package: "com.example.service", Class: "ServiceTest", Name: "test_" + strings.Repeat("x", i%40), Status: "Passed", Duration: time.Duration(i) * time.Millisecond, Started: started}
		if i%10 == 0 {
			runs[i].Status = "Failed"
			runs[i].Error = &octane.RunError{Type: "AssertionError", Message: "expected 1 got 2", Body: strings.Repeat("\tat com.example.Foo.bar(Foo.java:12)\n", 20)}
		}
	}
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		e := octane.NewEncoder(&out, octane.ResultContext{Build: &octane.BuildRef{ServerID: "s", JobID: "j", BuildID: "1"}})
		for _, r := range runs {
			if err := e.Encode(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(out.Len()))
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.after <= 0 {
		return 0, io.ErrShortWrite
	}
	w.after--
	return len(b), nil
}

func TestEncoderWriteError(t *testing.T) {
	e := octane.NewEncoder(&failingWriter{after: 2}, octane.ResultContext{})
	if err := e.Encode(octane.TestRun{Name: "a", Status: "Passed"}); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if err := e.Encode(octane.TestRun{Name: "b", Status: "Passed"}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("err = %v", err)
	}
	if err := e.Close(); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("Close after a write error = %v", err)
	}
}

// A payload made of run fragments (NewRunEncoder, then WriteEncoded) is byte for byte the
// payload the runs make when encoded directly, with the same warnings, however the runs are
// cut into fragments.
func TestRunEncoderFragments(t *testing.T) {
	for _, tc := range encoderCases() {
		want, wantWarnings := encode(t, tc)
		for cut := 0; cut <= len(tc.runs); cut++ {
			var out bytes.Buffer
			e := octane.NewEncoder(&out, tc.ctx)
			var warnings []string
			for _, part := range [][]octane.TestRun{tc.runs[:cut], tc.runs[cut:]} {
				var frag bytes.Buffer
				fe := octane.NewRunEncoder(&frag)
				for _, r := range part {
					if err := fe.Encode(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := fe.Close(); err != nil {
					t.Fatal(err)
				}
				if fe.Runs() != len(part) {
					t.Fatalf("fragment Runs() = %d, want %d", fe.Runs(), len(part))
				}
				warnings = append(warnings, fe.Warnings()...)
				if err := e.WriteEncoded(frag.Bytes(), fe.Runs()); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			warnings = append(e.Warnings(), warnings...) // the context's, then the runs'
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s cut at %d: fragments give\n%s\nwant\n%s", tc.name, cut, out.Bytes(), want)
			}
			if e.Runs() != len(tc.runs) {
				t.Errorf("%s: Runs() = %d", tc.name, e.Runs())
			}
			if strings.Join(warnings, "\n") != strings.Join(wantWarnings, "\n") {
				t.Errorf("%s cut at %d: warnings\n%q\nwant\n%q", tc.name, cut, warnings, wantWarnings)
			}
		}
	}
	e := octane.NewEncoder(io.Discard, octane.ResultContext{})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteEncoded([]byte("<test_run/>"), 1); err == nil {
		t.Error("WriteEncoded after Close: no error")
	}
}

// WritePayload gives the bytes of encoding the runs whole and compressing them with Gzip.
func TestWritePayload(t *testing.T) {
	for _, tc := range encoderCases() {
		doc, _ := encode(t, tc)
		var frag bytes.Buffer
		fe := octane.NewRunEncoder(&frag)
		for _, r := range tc.runs {
			if err := fe.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
		for _, note := range []string{"", "retry 2"} {
			plain := append([]byte(nil), doc...)
			if note != "" {
				var b bytes.Buffer
				b.Write(plain)
				if err := octane.Remark(&b, note); err != nil {
					t.Fatal(err)
				}
				plain = b.Bytes()
			}
			want, err := octane.Gzip(plain)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := octane.WritePayload(&got, tc.ctx, frag.Bytes(), fe.Runs(), note); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s (note %q): WritePayload differs from Gzip of the encoded document", tc.name, note)
			}
		}
	}
}
