package glob

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"*.xml", []string{"a.xml", ".xml", "TEST-x.xml"}, []string{"a/b.xml", "a.xmlx", "a.XML"}},
		{"?.xml", []string{"a.xml"}, []string{"ab.xml", "/.xml", ".xml"}},
		{"**/*.xml", []string{"a.xml", "d/a.xml", "d/e/f/a.xml"}, []string{"a.json", "d/a.xml/x"}},
		{"**", []string{"a", "a/b/c", ""}, nil},
		{"a/**", []string{"a", "a/b", "a/b/c.xml"}, []string{"ab", "b/a"}},
		{"a/**/b", []string{"a/b", "a/x/b", "a/x/y/b"}, []string{"ab", "a/xb", "a/x/bb"}},
		{"**/**", []string{"a", "a/b"}, nil},
		{"a**b", []string{"ab", "axxb"}, []string{"a/b", "ax/xb"}},
		{"surefire-reports/TEST-*.xml", []string{"surefire-reports/TEST-com.acme.FooTest.xml"}, []string{"TEST-a.xml", "x/surefire-reports/TEST-a.xml", "surefire-reports/a/TEST-a.xml"}},
		{"[abc].xml", []string{"a.xml", "c.xml"}, []string{"d.xml", "ab.xml"}},
		{"[a-c]x", []string{"bx"}, []string{"dx", "/x"}},
		{"[!a-c]x", []string{"dx"}, []string{"ax", "/x"}},
		{"[^a-c]x", []string{"dx"}, []string{"bx"}},
		{"a[!x]b", []string{"a.b"}, []string{"a/b", "axb"}},
		{"a[--0]b", []string{"a-b", "a.b", "a0b"}, []string{"a/b"}},
		{"a[/]b", nil, []string{"a/b", "ab"}},
		{"[]]x", []string{"]x"}, []string{"x"}},
		{"[a-]x", []string{"ax", "-x"}, []string{"bx"}},
		{`[\]]`, []string{"]"}, []string{`\`}},
		{"{a,b}.xml", []string{"a.xml", "b.xml"}, []string{"c.xml", "ab.xml"}},
		{"{a,{b,c}d}", []string{"a", "bd", "cd"}, []string{"b", "ad"}},
		{"{**/x,y}", []string{"x", "p/q/x", "y"}, []string{"p/y"}},
		{"{a/**,b}", []string{"a", "a/c", "b"}, []string{"b/c"}},
		{"{,x}y", []string{"y", "xy"}, []string{"xxy"}},
		{`\*.xml`, []string{"*.xml"}, []string{"a.xml"}},
		{`a\{b`, []string{"a{b"}, nil},
		{"a}b", []string{"a}b"}, nil},
		{"a,b", []string{"a,b"}, []string{"a"}},
		{"(a|b)+.xml", []string{"(a|b)+.xml"}, []string{"a.xml"}},
		{"résumé/*.xml", []string{"résumé/x.xml"}, []string{"resume/x.xml"}},
		{"2026-11-*/report.xml", []string{"2026-11-20/report.xml"}, []string{"2026-12-01/report.xml"}},
	}
	for _, tc := range tests {
		g, err := Compile(tc.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		if g.String() != tc.pattern {
			t.Errorf("String() = %q, want %q", g.String(), tc.pattern)
		}
		for _, p := range tc.yes {
			if !g.Match(p) {
				t.Errorf("%q should match %q (re %s)", tc.pattern, p, g.re)
			}
		}
		for _, p := range tc.no {
			if g.Match(p) {
				t.Errorf("%q should not match %q (re %s)", tc.pattern, p, g.re)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "empty pattern"},
		{"[abc", "unclosed '['"},
		{"[]", "unclosed '['"},
		{"{a,b", "unclosed '{'"},
		{"a{b,{c}", "unclosed '{'"},
		{`abc\`, "trailing backslash"},
		{`[a\`, "trailing backslash"},
		{"[z-a]", "out of order"},
		{strings.Repeat("{", 11) + strings.Repeat("}", 11), "nested deeper"},
		{strings.Repeat("a", maxPattern+1), "longer than"},
		{"a\xffb", "UTF-8"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern)
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want error containing %q", tc.pattern, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %v, want it to contain %q", tc.pattern, err, tc.want)
		}
		if !strings.HasPrefix(err.Error(), "glob") {
			t.Errorf("error %q does not start with glob", err)
		}
	}
}

func TestCaptures(t *testing.T) {
	tests := []struct {
		pattern string
		names   []string
		path    string
		want    map[string]string // nil: no match
	}{
		{"{team}/{job}/{build}/surefire-reports/*.xml", []string{"team", "job", "build"}, "teamA/api/17/surefire-reports/TEST-a.xml",
			map[string]string{"team": "teamA", "job": "api", "build": "17"}},
		{"{team}/{job}/{build}/surefire-reports/*.xml", []string{"team", "job", "build"}, "teamA/api/17/TEST-a.xml", nil},
		{"build-{build}/*.xml", []string{"build"}, "build-42/r.xml", map[string]string{"build": "42"}},
		{"build-{build}/*.xml", []string{"build"}, "build-/r.xml", nil}, // a capture is never empty
		{"{job}-{build}.xml", []string{"job", "build"}, "api-7.xml", map[string]string{"job": "api", "build": "7"}},
		{"{job}-{build}.xml", []string{"job", "build"}, "a-b-7.xml", map[string]string{"job": "a-b", "build": "7"}}, // leftmost-first, greedy
		{"{job}/**/TEST-*.xml", []string{"job"}, "api/TEST-1.xml", map[string]string{"job": "api"}},
		{"{job}/**/TEST-*.xml", []string{"job"}, "api/x/y/TEST-1.xml", map[string]string{"job": "api"}},
		{"{job}/**", []string{"job"}, "api", map[string]string{"job": "api"}}, // glob's a/** matches a (rules compile x/** as x/**/*)
		{"*.{xml,XML}", nil, "r.XML", map[string]string{}},
		{"{_x1}/{Y}", []string{"_x1", "Y"}, "a/b", map[string]string{"_x1": "a", "Y": "b"}},
		{`lit\{x\}/*.xml`, nil, "lit{x}/a.xml", map[string]string{}},
		{"{a}", []string{"a"}, "x/y", nil}, // a capture stays within a segment
		{"/drops/{team}/*.xml", []string{"team"}, "/drops/teamB/r.xml", map[string]string{"team": "teamB"}},
		{"[{]{x}", []string{"x"}, "{a", map[string]string{"x": "a"}},
	}
	for _, tc := range tests {
		g, err := CompileCaptures(tc.pattern)
		if err != nil {
			t.Errorf("CompileCaptures(%q): %v", tc.pattern, err)
			continue
		}
		if !reflect.DeepEqual(g.Captures(), tc.names) {
			t.Errorf("%q: Captures() = %q, want %q", tc.pattern, g.Captures(), tc.names)
		}
		got, ok := g.MatchCaptures(tc.path)
		if ok != (tc.want != nil) || (ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%q ~ %q = %v %v, want %v", tc.pattern, tc.path, got, ok, tc.want)
		}
		if g.Match(tc.path) != ok {
			t.Errorf("%q: Match and MatchCaptures disagree on %q", tc.pattern, tc.path)
		}
	}
	// Without captures, a brace without a comma is a group of one alternative.
	g := MustCompile("{a}/b")
	if !g.Match("a/b") || g.Match("x/b") || len(g.Captures()) != 0 {
		t.Error("{a} without captures is not the literal a")
	}
}

func TestCaptureErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"{job", `pattern "{job": unclosed '{' at offset 0`},
		{"job}", `pattern "job}": unmatched '}' at offset 3 (write \} for a literal brace)`},
		{"{}/x", `pattern "{}/x": {} at offset 0 is not a valid capture name (letters, digits and _, not starting with a digit)`},
		{"{1x}/x", "{1x} at offset 0 is not a valid capture name"},
		{"{a-b}/x", "{a-b} at offset 0 is not a valid capture name"},
		{"{job}/{job}", `pattern "{job}/{job}": captures {job} twice (offset 6)`},
		{"{a{b}}", "nested '{' at offset 2: braces do not nest in a pattern with captures"},
		{"*.{xml,{x}}", "nested '{' at offset 7"},
		{"[abc", "unclosed '['"},
		{"", `pattern "": empty pattern`},
	}
	for _, tc := range tests {
		_, err := CompileCaptures(tc.pattern)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileCaptures(%q) = %v, want an error containing %q", tc.pattern, err, tc.want)
		}
	}
	for name, want := range map[string]bool{"job": true, "_": true, "a1": true, "1a": false, "": false, "a-b": false, "é": false} {
		if IsCaptureName(name) != want {
			t.Errorf("IsCaptureName(%q) != %v", name, want)
		}
	}
}

func TestMatchFunc(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*.done", "build.done", true},
		{"*.done", "build.done.tmp", false},
		{"{READY,*.done}", "READY", true},
		{"[!.]*", ".hidden", false},
	} {
		for range 2 { // the second call takes the cached glob
			if got, err := Match(tc.pattern, tc.name); err != nil || got != tc.want {
				t.Errorf("Match(%q, %q) = %v, %v", tc.pattern, tc.name, got, err)
			}
		}
	}
	if ok, err := Match("[", "x"); ok || err == nil {
		t.Errorf("Match of a bad pattern = %v, %v", ok, err)
	}
	for i := range 2 * maxCached { // the cache stays bounded
		if _, err := Match(fmt.Sprintf("x%d*", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(cache.m); n > maxCached {
		t.Errorf("%d cached globs", n)
	}
}

func TestHasMeta(t *testing.T) {
	for s, want := range map[string]bool{"a/b.xml": false, "*.xml": true, "a?": true, "[a]": true, "{a}": true, `a\b`: true} {
		if got := HasMeta(s); got != want {
			t.Errorf("HasMeta(%q) = %v", s, got)
		}
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile of a bad pattern did not panic")
		}
	}()
	MustCompile("[")
}

func FuzzGlob(f *testing.F) {
	for _, s := range []string{"**/*.xml", "a/**", "{a,{b,c}}", "[!a-z]?", `\*`, "a**b", "[--0]", "{**/x,y}"} {
		f.Add(s, "a/b.xml")
	}
	f.Add("{a}/{b,c}/**", "x/b/y")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if cg, err := CompileCaptures(pattern); err == nil {
			caps, ok := cg.MatchCaptures(path)
			if ok != cg.Match(path) || (ok && len(caps) != len(cg.Captures())) {
				t.Fatalf("%q ~ %q: captures %v, %v", pattern, path, caps, ok)
			}
			for _, v := range caps {
				if v == "" || strings.Contains(v, "/") {
					t.Fatalf("%q ~ %q: capture %q", pattern, path, v)
				}
			}
		}
		g, err := Compile(pattern)
		if err != nil {
			return
		}
		g.Match(path)
		// A pattern without syntax matches exactly itself.
		if !HasMeta(pattern) {
			if !g.Match(pattern) {
				t.Fatalf("literal %q does not match itself", pattern)
			}
			if path != pattern && g.Match(path) {
				t.Fatalf("literal %q matches %q", pattern, path)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	g := MustCompile("**/surefire-reports/TEST-*.{xml,XML}")
	p := "payments/unit/1041/target/surefire-reports/TEST-com.acme.payments.LedgerTest.xml"
	for b.Loop() {
		if !g.Match(p) {
			b.Fatal("no match")
		}
	}
}
