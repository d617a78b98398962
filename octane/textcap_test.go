package octane_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/octane-import/octane-import/octane"
)

// utf16Len counts characters as Java's String.length() does (UTF-16 code
// units), the way Octane's XML parser limit is counted.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// TestEncoderCapsErrorText: error type, message and text and the description
// are capped at octane.MaxErrorText characters (the Java SDK's limit for
// Octane's XML parser, commit 042ddc66), keeping the head and the tail with a
// marker between, and each cut is a warning.
func TestEncoderCapsErrorText(t *testing.T) {
	const limit = octane.MaxErrorText
	if limit != 262144 {
		t.Fatalf("MaxErrorText = %d, the SDK's limit is 512*512 = 262144", limit)
	}
	// Distinct head and tail so that both can be found in the output.
	long := func(n int) string {
		return "HEAD>" + strings.Repeat("x", n-10) + "<TAIL"
	}
	astral := strings.Repeat("😀", limit) // 2 UTF-16 units each: twice the limit
	cases := []struct {
		name     string
		in       octane.TestRun
		field    func(run) string
		input    string
		wantCut  bool
		wantWarn string
	}{
		{name: "body at the limit", input: long(limit), wantCut: false,
			field: func(r run) string { return r.Error.Text }},
		{name: "body one over", input: long(limit + 1), wantCut: true, wantWarn: "error body cut from 262145 to 262144 characters",
			field: func(r run) string { return r.Error.Text }},
		{name: "huge body", input: long(3 * limit), wantCut: true, wantWarn: "error body cut from 786432 to 262144 characters",
			field: func(r run) string { return r.Error.Text }},
		{name: "message", input: long(limit + 500), wantCut: true, wantWarn: "error message cut from 262644",
			field: func(r run) string { return r.Error.Message }},
		{name: "type", input: long(limit + 7), wantCut: true, wantWarn: "error type cut from 262151",
			field: func(r run) string { return r.Error.Type }},
		{name: "description", input: long(limit * 2), wantCut: true, wantWarn: "description cut from 524288",
			field: func(r run) string { return r.Description }},
		{name: "astral characters count twice", input: astral, wantCut: true, wantWarn: "error body cut from 524288 to 262144 characters",
			field: func(r run) string { return r.Error.Text }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // megabytes of XML each: use every core
			r := octane.TestRun{Class: "C", Name: "n", Status: "Failed", Error: &octane.RunError{Type: "T", Message: "m", Body: "b"}}
			switch {
			case strings.HasPrefix(tc.name, "body"), strings.HasPrefix(tc.name, "huge"), strings.HasPrefix(tc.name, "astral"):
				r.Error.Body = tc.input
			case tc.name == "message":
				r.Error.Message = tc.input
			case tc.name == "type":
				r.Error.Type = tc.input
			case tc.name == "description":
				r.Description = tc.input
			}
			var b bytes.Buffer
			e := octane.NewEncoder(&b, octane.ResultContext{})
			if err := e.Encode(r); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Runs []run `xml:"test_runs>test_run"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			got := tc.field(doc.Runs[0])
			if !utf8.ValidString(got) {
				t.Fatal("the cut split a character")
			}
			n := utf16Len(got)
			warnings := strings.Join(e.Warnings(), "\n")
			if !tc.wantCut {
				if got != tc.input || warnings != "" {
					t.Fatalf("text at the limit changed (%d characters) or warned: %q", n, warnings)
				}
				return
			}
			if n > limit {
				t.Fatalf("%d characters sent, more than %d", n, limit)
			}
			if n < limit-4 {
				t.Fatalf("only %d characters kept; the cut should use the room up to %d", n, limit)
			}
			i := strings.Index(got, "\n\n[… ")
			j := strings.Index(got, " …]\n\n")
			if i <= 0 || j < i || !strings.Contains(got[i:j], "characters cut by octane-import") {
				t.Fatalf("no marker between head and tail: %q…", got[:80])
			}
			head, tail := got[:i], got[j+len(" …]\n\n"):]
			if tail == "" || !strings.HasPrefix(tc.input, head) || !strings.HasSuffix(tc.input, tail) {
				t.Fatal("the head and the tail must both be the input's")
			}
			if !strings.Contains(warnings, tc.wantWarn) || !strings.Contains(warnings, "head and tail kept") {
				t.Fatalf("warnings %q, want %q", warnings, tc.wantWarn)
			}
			// Deterministic: the same run gives the same bytes.
			var again bytes.Buffer
			e2 := octane.NewEncoder(&again, octane.ResultContext{})
			_ = e2.Encode(r)
			_ = e2.Close()
			if !bytes.Equal(again.Bytes(), b.Bytes()) {
				t.Fatal("the cut is not deterministic")
			}
		})
	}
}

type run struct {
	Error *struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"error"`
	Description string `xml:"description"`
}
