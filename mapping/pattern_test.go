package mapping

import (
	"reflect"
	"strings"
	"testing"
)

func TestPathPattern(t *testing.T) {
	tests := []struct {
		pattern string
		rel     string
		abs     string
		want    map[string]string // nil: no match
	}{
		{"{team}/{job}/{build}/surefire-reports/*.xml", "teamA/api/17/surefire-reports/TEST-a.xml", "",
			map[string]string{"team": "teamA", "job": "api", "build": "17"}},
		{"{team}/{job}/{build}/surefire-reports/*.xml", "teamA/api/17/TEST-a.xml", "", nil},
		{"{team}/{job}/{build}/surefire-reports/*.xml", "teamA/api/17/surefire-reports/x/TEST-a.xml", "", nil},
		{"**/*.xml", "a.xml", "", map[string]string{}},
		{"**/*.xml", "a/b/c.xml", "", map[string]string{}},
		{"**/*.xml", "a/b/c.json", "", nil},
		{"**", "anything/at/all.txt", "", map[string]string{}},
		{"{job}/**/TEST-*.xml", "api/TEST-1.xml", "", map[string]string{"job": "api"}},
		{"{job}/**/TEST-*.xml", "api/x/y/TEST-1.xml", "", map[string]string{"job": "api"}},
		{"{job}/**", "api/x/y/z.xml", "", map[string]string{"job": "api"}},
		{"build-{build}/*.xml", "build-42/r.xml", "", map[string]string{"build": "42"}},
		{"build-{build}/*.xml", "nightly-42/r.xml", "", nil},
		{"{job}-{build}.xml", "api-7.xml", "", map[string]string{"job": "api", "build": "7"}},
		{"report?.xml", "report1.xml", "", map[string]string{}},
		{"report?.xml", "report12.xml", "", nil},
		{"[a-c]*/r.xml", "beta/r.xml", "", map[string]string{}},
		{"[!a-c]*/r.xml", "beta/r.xml", "", nil},
		{"[!a-c]*/r.xml", "delta/r.xml", "", map[string]string{}},
		{"*.{xml,XML}", "r.XML", "", map[string]string{}},
		{"*.{xml,XML}", "r.json", "", nil},
		{`lit\{x\}/*.xml`, "lit{x}/a.xml", "", map[string]string{}},
		{"a**b/*.xml", "aXXb/r.xml", "", map[string]string{}},
		{"/drops/{team}/*.xml", "ignored", "/drops/teamB/r.xml", map[string]string{"team": "teamB"}},
		{"/drops/{team}/*.xml", "drops/teamB/r.xml", "/other/teamB/r.xml", nil},
		{"*.xml", "a/b.xml", "", nil},  // anchored: * never crosses /
		{"{job}/**", "x.xml", "", nil}, // a trailing /** matches below the folder, never a file of that name
		{"logs/**", "logs", "", nil},
		{"logs/**", "logs/a", "", map[string]string{}},
		{"/drops/{team}/**", "x", "/drops/teamB", nil},
		{"/drops/{team}/**", "x", "//drops/teamB/a/b.xml", map[string]string{"team": "teamB"}},
		{"{team}/{a,b}/[!x]?{n}.xml", "t/b/yz7.xml", "", map[string]string{"team": "t", "n": "7"}},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"~"+tc.rel, func(t *testing.T) {
			p, err := compilePattern(tc.pattern)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			abs := tc.abs
			if abs == "" {
				abs = "/root/" + tc.rel
			}
			got, ok := p.match(tc.rel, abs)
			if tc.want == nil {
				if ok {
					t.Fatalf("matched %q with captures %v, want no match", tc.rel, got)
				}
				return
			}
			if !ok {
				t.Fatalf("no match for %q", tc.rel)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("captures = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPathPatternCatchAll(t *testing.T) {
	for pat, want := range map[string]bool{"**": true, "**/*": true, "**/*.xml": false, "/**": false, "{a}/**": false} {
		p, err := compilePattern(pat)
		if err != nil {
			t.Fatalf("%s: %v", pat, err)
		}
		if p.catchAll != want {
			t.Errorf("%s: catchAll = %v, want %v", pat, p.catchAll, want)
		}
	}
}

func TestPathPatternErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "empty pattern"},
		{"/", "matches no file"},
		{"a/", "ends with /"},
		{"a//b", "empty path segment"},
		{"{job", "unclosed '{'"},
		{"job}", "unmatched '}'"},
		{"{}/x", "not a valid capture name"},
		{"{1x}/x", "not a valid capture name"},
		{"{a-b}/x", "not a valid capture name"},
		{"{job}/{job}", "captures {job} twice"},
		{"{a{b}}", "nested '{'"},
		{"[abc", "unclosed '['"},
		{"x\\", "trailing backslash"},
		{"[z-a]", "out of order"},
		{"*.{xml,{x}}", "nested '{'"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			_, err := compilePattern(tc.pattern)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pat     string
		v       string
		present bool
		want    bool
	}{
		{"nightly-*", "nightly-42", true, true},
		{"nightly-*", "release-42", true, false},
		{"*", "", true, true},
		{"*", "", false, false}, // a missing key never matches, even *
		{"a?c", "abc", true, true},
		{"a?c", "ac", true, false},
		{`a\*`, "a*", true, true},
		{`a\*`, "ab", true, false},
		{"refs/heads/*", "refs/heads/feature/x", true, true}, // * crosses /
		{"main", "main", true, true},
		{"main", "Main", true, false},
	}
	for _, tc := range tests {
		if got := compileWildcard(tc.pat).match(tc.v, tc.present); got != tc.want {
			t.Errorf("%q ~ %q (present %v) = %v, want %v", tc.pat, tc.v, tc.present, got, tc.want)
		}
	}
	absent := &wildcard{absent: true}
	if !absent.match("", false) || absent.match("x", true) {
		t.Error("absent wildcard must match only a missing key")
	}
}
