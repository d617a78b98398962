package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestNamingSplit: the three styles on classnames real tools write (most
// from the corpus).
func TestNamingSplit(t *testing.T) {
	type pc [2]string
	for _, tc := range []struct {
		lang, classname       string
		split, clt, converter pc
	}{
		{"Java (Surefire)", "com.example.FooTest", pc{"com.example", "FooTest"}, pc{"com.example", "FooTest"}, pc{"", "com.example.FooTest"}},
		{"Java nested class (Gradle)", "com.launchableinc.rocket_car_gradle.AppTest$InnerClass",
			pc{"com.launchableinc.rocket_car_gradle", "AppTest$InnerClass"}, pc{"com.launchableinc.rocket_car_gradle", "AppTest$InnerClass"}, pc{"", "com.launchableinc.rocket_car_gradle.AppTest$InnerClass"}},
		{"Go (gotestsum)", "github.com/example/example/server/v8/channels/api4",
			pc{"github.com/example/example/server/v8/channels", "api4"}, pc{"github", "com/example/example/server/v8/channels/api4"}, pc{"", "github.com/example/example/server/v8/channels/api4"}},
		{"Go (go-junit-report, no dot)", "package/fail", pc{"", "package/fail"}, pc{"", "package/fail"}, pc{"", "package/fail"}},
		{"Rust (cargo-nextest)", "oxidized_navigation::parry3d", pc{"oxidized_navigation", "parry3d"}, pc{"", "oxidized_navigation::parry3d"}, pc{"", "oxidized_navigation::parry3d"}},
		{"TypeScript (vitest)", "src/components/Hello.test.tsx", pc{"src/components", "Hello.test.tsx"}, pc{"src/components/Hello.test", "tsx"}, pc{"", "src/components/Hello.test.tsx"}},
		{"TypeScript (Playwright)", "tests/example.spec.ts", pc{"tests", "example.spec.ts"}, pc{"tests/example.spec", "ts"}, pc{"", "tests/example.spec.ts"}},
		{"TypeScript (Deno)", "./main.ts", pc{".", "main.ts"}, pc{"./main", "ts"}, pc{"", "./main.ts"}},
		{"TypeScript (jest title)", "Test 1 › Test 1.1", pc{"", "Test 1 › Test 1.1"}, pc{"Test 1 › Test 1", "1"}, pc{"", "Test 1 › Test 1.1"}},
		{"Python (pytest)", "tests.fooo.func4_test", pc{"tests.fooo", "func4_test"}, pc{"tests.fooo", "func4_test"}, pc{"", "tests.fooo.func4_test"}},
		{"Python (file name)", "test_funcs.py", pc{"", "test_funcs.py"}, pc{"test_funcs", "py"}, pc{"", "test_funcs.py"}},
		{"Python (unittest, no module)", "TestAcme", pc{"", "TestAcme"}, pc{"", "TestAcme"}, pc{"", "TestAcme"}},
		{"a leading dot", ".Hidden", pc{"", ".Hidden"}, pc{"", "Hidden"}, pc{"", ".Hidden"}},
		{"a trailing dot", "Trailing.", pc{"", "Trailing."}, pc{"Trailing", ""}, pc{"", "Trailing."}},
		{"empty", "", pc{"", ""}, pc{"", ""}, pc{"", ""}},
	} {
		for _, s := range []struct {
			n    Naming
			want pc
		}{{NamingSplit, tc.split}, {NamingCLT, tc.clt}, {NamingConverter, tc.converter}} {
			if p, c := s.n.Split(tc.classname); p != s.want[0] || c != s.want[1] {
				t.Errorf("%s %q, %s: %q / %q, want %q / %q", tc.lang, tc.classname, s.n, p, c, s.want[0], s.want[1])
			}
		}
	}
}

func TestParseNaming(t *testing.T) {
	for in, want := range map[string]Naming{"": NamingSplit, "default": NamingSplit, "split": NamingSplit, " CLT ": NamingCLT, "converter": NamingConverter} {
		if n, err := ParseNaming(in); err != nil || n != want {
			t.Errorf("ParseNaming(%q) = %v, %v", in, n, err)
		}
		if want.String() == "" {
			t.Error("no name")
		}
	}
	if _, err := ParseNaming("jenkins"); err == nil || !strings.Contains(err.Error(), "split, clt or converter") {
		t.Errorf("ParseNaming(jenkins): %v", err)
	}
}

// TestNamingRuns: the fallbacks of each style (no classname, class=, a
// suite-level failure), and SetNaming after Head.
func TestNamingRuns(t *testing.T) {
	const doc = `<testsuite name="com.example.Suite">
  <testcase name="plain" classname="com.example.FooTest"/>
  <testcase name="no classname"/>
  <testcase name="codeception" class="Acme\Cest\LoginCest"/>
  <error message="setup"/>
</testsuite>`
	want := map[Naming]map[string][2]string{
		NamingSplit: {"plain": {"com.example", "FooTest"}, "no classname": {"com.example", "Suite"},
			"codeception": {`Acme\Cest`, "LoginCest"}, "[suite error]": {"com.example", "Suite"}},
		NamingCLT: {"plain": {"com.example", "FooTest"}, "no classname": {"", ""},
			"codeception": {"", ""}, "[suite error]": {"com.example", "Suite"}},
		NamingConverter: {"plain": {"", "com.example.FooTest"}, "no classname": {"", ""},
			"codeception": {"", ""}, "[suite error]": {"", "com.example.Suite"}},
	}
	for n, runs := range want {
		for _, late := range []bool{false, true} {
			opts := Options{Naming: n}
			if late {
				opts.Naming = NamingSplit + NamingConverter - n // another style, changed after Head
			}
			d := NewDecoder(strings.NewReader(doc), "n.xml", opts)
			if _, err := d.Head(); err != nil {
				t.Fatal(err)
			}
			if late {
				d.SetNaming(n)
			}
			got := 0
			for {
				r, err := d.Next()
				if err != nil {
					break
				}
				got++
				if w := runs[r.Name]; r.Package != w[0] || r.Class != w[1] {
					t.Errorf("%s (set late: %v): %q is %q / %q, want %q / %q", n, late, r.Name, r.Package, r.Class, w[0], w[1])
				}
				if p, c := n.Split(r.Classname); p != r.Package || c != r.Class {
					t.Errorf("%s: Split(Classname %q) = %q / %q, the run has %q / %q", n, r.Classname, p, c, r.Package, r.Class)
				}
			}
			if got != 4 {
				t.Errorf("%s: %d runs", n, got)
			}
		}
	}
}

// converterDir finds shared/octane/converter-fixtures above the package.
func converterDir(t *testing.T) string {
	return testkit.Shared(t, "octane/converter-fixtures")
}

// TestNamingConverterFixtures: with NamingConverter, every run of the
// converter's own JUnit inputs has the package, class, name and status of its
// expected Octane output, in order.
func TestNamingConverterFixtures(t *testing.T) {
	dir := converterDir(t)
	inputs, _ := filepath.Glob(filepath.Join(dir, "*JUnit.xml"))
	if len(inputs) == 0 {
		t.Skip("no *JUnit.xml in " + dir)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			expPath := strings.TrimSuffix(in, "JUnit.xml") + "Expected.xml"
			data, err := os.ReadFile(expPath)
			if err != nil {
				t.Fatal(err)
			}
			var exp struct {
				Runs []struct {
					Package *string `xml:"package,attr"`
					Class   *string `xml:"class,attr"`
					Name    string  `xml:"name,attr"`
					Status  string  `xml:"status,attr"`
				} `xml:"test_runs>test_run"`
			}
			if err := xml.Unmarshal(data, &exp); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := ReadWith(f, filepath.Base(in), Options{Location: time.UTC, Naming: NamingConverter})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Runs) != len(exp.Runs) || len(r.Runs) == 0 {
				t.Fatalf("%d runs, the converter gives %d", len(r.Runs), len(exp.Runs))
			}
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			for i, e := range exp.Runs {
				x := r.Runs[i]
				if x.Package != str(e.Package) || x.Class != str(e.Class) || x.Name != e.Name || string(x.Status) != e.Status {
					t.Errorf("run %d: %q / %q / %q %s, the converter: %q / %q / %q %s",
						i, x.Package, x.Class, x.Name, x.Status, str(e.Package), str(e.Class), e.Name, e.Status)
				}
			}
		})
	}
}

// TestNamingDoc: the examples of docs/test-naming.md are what Split gives.
func TestNamingDoc(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "test-naming.md"))
	if err != nil {
		t.Skip(err)
	}
	_, table, ok := strings.Cut(string(data), "## Examples")
	if !ok {
		t.Fatal("docs/test-naming.md: no Examples section")
	}
	cell := func(s string) (pkg, class string) {
		p, c, ok := strings.Cut(strings.TrimSpace(s), " / ")
		if !ok {
			t.Fatalf("cell %q is not package / class", s)
		}
		unquote := func(s string) string {
			if s == "—" {
				return ""
			}
			return strings.Trim(s, "`")
		}
		return unquote(p), unquote(c)
	}
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		cols := strings.Split(line, " | ")
		if len(cols) != 5 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "`") {
			continue
		}
		rows++
		classname := strings.Trim(strings.TrimSpace(cols[1]), "`")
		for i, n := range []Naming{NamingSplit, NamingCLT, NamingConverter} {
			wp, wc := cell(strings.TrimSuffix(strings.TrimSpace(cols[2+i]), " |"))
			if p, c := n.Split(classname); p != wp || c != wc {
				t.Errorf("docs/test-naming.md: %q in %s is %q / %q, the doc says %q / %q", classname, n, p, c, wp, wc)
			}
		}
	}
	if rows < 10 {
		t.Errorf("only %d example rows read", rows)
	}
}
