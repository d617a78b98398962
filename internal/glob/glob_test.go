package glob

import (
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
	f.Fuzz(func(t *testing.T, pattern, path string) {
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
