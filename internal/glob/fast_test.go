package glob

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// reCaptures is MatchCaptures by the regular expression alone.
func reCaptures(g *Glob, path string) (map[string]string, bool) {
	m := g.re.FindStringSubmatch(path)
	if m == nil {
		return nil, false
	}
	caps := map[string]string{}
	for i, name := range g.re.SubexpNames() {
		if name != "" {
			caps[name] = m[i]
		}
	}
	return caps, true
}

// sameAsRegexp fails the test where the fast path and the regular expression disagree on
// path; it reports whether g has a fast path.
func sameAsRegexp(t *testing.T, g *Glob, path string) bool {
	t.Helper()
	if g.fast == nil {
		return false
	}
	if got, want := g.Match(path), g.re.MatchString(path); got != want {
		t.Fatalf("%q ~ %q: fast path %v, regexp %v (re %s)", g.pattern, path, got, want, g.re)
	}
	got, ok := g.MatchCaptures(path)
	want, wantOK := reCaptures(g, path)
	if ok != wantOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q ~ %q: fast path captures %v %v, regexp %v %v (re %s)", g.pattern, path, got, ok, want, wantOK, g.re)
	}
	return true
}

func TestFastPathShapes(t *testing.T) {
	// The shapes that must not go through the regular expression, and some that must.
	for pattern, fast := range map[string]bool{
		"**/*.xml": true, "*.xml": true, "TEST-*.xml": true, "surefire-reports/TEST-*.xml": true,
		"**/octane-build.yaml": true, "a/**": true, "**": true, "a/**/b/*.xml": true, "/drops/**": true,
		`lit\*/x`: true, "a}b": true, "a,b": true, "a**b": true, "résumé/*.xml": true,
		"{a,b}.xml": true, "**/TEST-*.{xml,XML}": true, "{a}/b": true, "{a,b}/{c,d}/*.x": true,
		"{a,}.xml": false, "{a/b,c}": false, "{*.xml,b}": false, "{a,{b,c}}": false, "?.xml": false, "[ab].xml": false, "*-*.xml": false, "**/a/**": false,
		"a\uFFFDb": false, `a\/b`: false,
	} {
		if g := MustCompile(pattern); (g.fast != nil) != fast {
			t.Errorf("Compile(%q): fast path %v, want %v", pattern, g.fast != nil, fast)
		}
	}
	for pattern, fast := range map[string]bool{
		"{job}/{build}/*.xml": true, "build-{n}/**/TEST-*.xml": true, "/drops/{team}/*.xml": true,
		"*.{xml,XML}": true, "{job}-{build}.xml": false, "*{x}": false, "{job}/*.{xml,XML}": false,
	} {
		g, err := CompileCaptures(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if (g.fast != nil) != fast {
			t.Errorf("CompileCaptures(%q): fast path %v, want %v", pattern, g.fast != nil, fast)
		}
	}
}

// TestFastPathAgreesWithRegexp compares the fast path with the regular expression on many
// generated patterns (of the shapes it takes, and near them) and paths.
func TestFastPathAgreesWithRegexp(t *testing.T) {
	patPieces := []string{"a", "b", "ab", ".xml", "TEST-", "é", "*", "**", "***", "/", "/", "/", "?",
		"{x}", "{y}", "{z}", "{a,b}", "{a,bb}", "{ab}", "{x,}", "{é,/}", "[ab]", `\*`, `\{`, "}", ",", "\n", " ", "-", "\uFFFD"}
	pathPieces := []string{"a", "b", "ab", "x", ".xml", "TEST-", "é", "/", "/", "/", "\n", "\xff", "*",
		"{", "}", "", "aa", "-", "\xc3"}
	rng := rand.New(rand.NewPCG(16, 2026))
	gen := func(pieces []string, maxN int) string {
		var b strings.Builder
		for range 1 + rng.IntN(maxN) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	paths := make([]string, 200)
	for i := range paths {
		paths[i] = gen(pathPieces, 8)
	}
	paths = append(paths, "", "/", "//", "a/", "/a", "a//b", "a/b/c/d/e/f/g.xml")
	fast, all := 0, 0
	for range 2500 {
		pattern := gen(patPieces, 7)
		for _, captures := range []bool{false, true} {
			g, err := compile(pattern, captures)
			if err != nil {
				continue
			}
			all++
			// The paths, and paths made to match: the pattern's own text with its
			// wildcards filled in.
			filled := strings.NewReplacer("***", "p/q", "**", "p/q", "*", "s", "{x}", "x1", "{y}", "", "{z}", "z/", `\*`, "*", `\{`, "{").Replace(pattern)
			for _, p := range append(paths, pattern, filled, strings.TrimPrefix(filled, "p/q/"), filled+"/r") {
				if !sameAsRegexp(t, g, p) {
					break
				}
			}
			if g.fast != nil {
				fast++
			}
		}
	}
	t.Logf("%d patterns compiled, %d on the fast path", all, fast)
	if fast < all/4 {
		t.Errorf("only %d of %d generated patterns took the fast path: the comparison tests little", fast, all)
	}
}

func FuzzFastPath(f *testing.F) {
	for _, s := range []string{"**/*.xml", "a/**", "{job}/{build}/*.xml", "**/x/TEST-*.xml", "a/**/b", "/**", "**/", "a//**"} {
		f.Add(s, "a/b.xml")
	}
	f.Add("{a}/**", "x/b/y")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		for _, captures := range []bool{false, true} {
			if g, err := compile(pattern, captures); err == nil {
				sameAsRegexp(t, g, path)
			}
		}
	})
}

func BenchmarkMatchShapes(b *testing.B) {
	p := "payments/unit/1041/target/surefire-reports/TEST-com.acme.payments.LedgerTest.xml"
	for _, tc := range []struct{ name, pattern string }{
		{"suffix", "**/*.xml"},
		{"manifest", "**/octane-build.yaml"},
		{"prefix-suffix", "**/surefire-reports/TEST-*.xml"},
		{"below", "payments/**"},
		{"alternation", "**/surefire-reports/TEST-*.{xml,XML}"},
	} {
		g := MustCompile(tc.pattern)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				g.Match(p)
			}
		})
	}
	g, err := CompileCaptures("{team}/{layer}/{build}/**/TEST-*.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("captures", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := g.MatchCaptures(p); !ok {
				b.Fatal("no match")
			}
		}
	})
}
