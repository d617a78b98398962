package yamlnode

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/duration"
	"gopkg.in/yaml.v3"
)

// values reads src and returns its top-level values by key.
func values(c *Checker, src string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for _, p := range c.Pairs(c.Read([]byte(src)), "") {
		out[p.Key] = p.Value
	}
	return out
}

// wantProblems checks the problems c recorded, in order.
func wantProblems(t *testing.T, c *Checker, want ...string) {
	t.Helper()
	if got := problems(c); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func problems(c *Checker) []string {
	out := make([]string, len(c.Problems))
	for i, p := range c.Problems {
		out[i] = p.String()
	}
	return out
}

// TestReadSyntaxLines checks where a syntax error is reported: on the line
// of the mistake, whatever mark yaml.v3 prints.
func TestReadSyntaxLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the one problem
	}{
		{"bad indent in a list", "targets:\n  - name: a\n    url: b\n   bad: x\n",
			"f.yaml:4: invalid YAML: did not find expected '-' indicator (check the indentation of this line)"},
		{"bad indent in a mapping", "a:\n  b: 1\n c: 2\n",
			"f.yaml:3: invalid YAML: did not find expected key (check the indentation of this line)"},
		{"more indent", "a:\n  b: 1\n   c: 2\n", "f.yaml:3: invalid YAML: mapping values are not allowed in this context"},
		{"unclosed quote swallowing a line", "a: 1\nb: \"x\nc: \"y\"\n",
			"f.yaml:2: invalid YAML: a quoted value starts here and runs on to line 3, where: did not find expected key (is its closing quote missing?)"},
		{"unclosed single quote on line 1", "k: 'x\na\nb\n", "f.yaml:1: invalid YAML: found unexpected end of stream"},
		{"unclosed quote at the end", "a: 1\nk: 'x\na\nb\n", "f.yaml:2: invalid YAML: found unexpected end of stream"},
		{"unclosed flow on line 1", "a: [1,\n2,\n3\n", "f.yaml:1: invalid YAML: did not find expected ',' or ']'"},
		{"unclosed flow later", "x: 1\ny: {a: 1\nz: 2\n", "f.yaml:2: invalid YAML: did not find expected ',' or '}'"},
		{"mapping value on line 1", "a: b: c\n", "f.yaml:1: invalid YAML: mapping values are not allowed in this context"},
		{"tab on line 1", "\ta: 1\n", "f.yaml:1: invalid YAML: found character that cannot start any token"},
		{"tab later", "a: 1\n\tb: 2\n", "f.yaml:2: invalid YAML: found a tab character that violates indentation"},
		{"tab after a long value", "a: 1\nb: x\n  y\n  z\n\tc: 2\n", "f.yaml:5: invalid YAML: found a tab character that violates indentation"},
		{"stray word", "a: 1\nb: 2\nfoo\nc: 3\n", "f.yaml:3: invalid YAML: could not find expected ':'"},
		{"quoted key over two lines", "x: 1\n'k\n  z': 2\nfoo\n", "f.yaml:2: invalid YAML: could not find expected ':'"},
		{"document marker in a quote", "a: 1\nb: \"x\n---\nc\"\n", "f.yaml:2: invalid YAML: found unexpected document indicator"},
		{"unknown anchor", "x: 1\ny: 2\nz: *nope\n", "f.yaml:3: invalid YAML: unknown anchor 'nope' referenced"},
		{"CR line breaks", "a: 1\rb:\r  - x\r c: 2\r", "f.yaml:4: invalid YAML: did not find expected key (check the indentation of this line)"},
		{"CRLF line breaks", "a: 1\r\nb: \"x\r\nc: \"y\"\r\n", "f.yaml:2: invalid YAML: a quoted value starts here and runs on to line 3, where: did not find expected key (is its closing quote missing?)"},
		{"byte-order mark", "\ufeffa:\n  b: 1\n c: 2\n", "f.yaml:3: invalid YAML: did not find expected key (check the indentation of this line)"},
		{"no final newline", "a:\n  b: 1\n c: 2", "f.yaml:3: invalid YAML: did not find expected key (check the indentation of this line)"},
		{"invalid UTF-8", "a: 1\nb: \"é\xff\"\n", "f.yaml:2:6: invalid YAML: not valid UTF-8 (byte 0xff)"},
		{"control character", "a: 1\nb: x\x01\n", "f.yaml:2:5: invalid YAML: the character U+0001 is not allowed in YAML"},
		{"second document broken", "a: 1\n---\nb: [\n", "f.yaml:3: invalid YAML: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{File: "f.yaml"}
			if n := c.Read([]byte(tc.in)); n != nil {
				t.Errorf("a node came back with a syntax error")
			}
			if got := problems(c); !reflect.DeepEqual(got, []string{tc.want}) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestReadDocuments(t *testing.T) {
	c := &Checker{File: "f", Kind: "manifest"}
	for _, empty := range []string{"", "# only a comment\n", "\n\n"} {
		if n := c.Read([]byte(empty)); n != nil || len(c.Problems) > 0 {
			t.Errorf("%q: node %v, problems %v", empty, n, c.Problems)
		}
	}
	if n := c.Read([]byte("~\n")); !IsNull(n) || n == nil {
		t.Errorf("a null document: %v", n)
	}
	n := c.Read([]byte("a: 1\n---\nb: 2\n"))
	if n == nil || n.Kind != yaml.MappingNode {
		t.Fatalf("first document not returned: %v", n)
	}
	want := []string{"f:2:1: a second YAML document: a manifest is one document (remove the '---' separator)"}
	if got := problems(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPairs(t *testing.T) {
	const src = `base: &base {a: 1, b: 2}
m:
  <<: *base
  b: 3
  c: 4
dup: {x: 1, y: 2, x: 3}
key: {[1]: x}
list: [1]
`
	c := &Checker{File: "f", MergeKeys: true}
	top := values(c, src)
	var got []string
	for _, p := range c.Pairs(top["m"], "m") {
		got = append(got, p.Key+"="+p.Value.Value)
	}
	if want := []string{"b=3", "c=4", "a=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("merged pairs = %v, want %v", got, want)
	}
	c.Pairs(top["dup"], "dup")
	c.Pairs(top["key"], "key")
	c.Pairs(top["list"], "list")
	if c.Pairs(top["nothing"], "nothing") != nil {
		t.Error("a missing mapping has pairs")
	}
	wantProblems(t, c,
		"f:6:19: dup.x: duplicate key (first at line 6)",
		"f:7:7: key: a key must be a string, got a list",
		"f:8:7: list: expected a mapping, got a list",
	)

	refuse := &Checker{File: "f", Kind: "manifest"}
	top = values(refuse, src)
	if got := len(refuse.Pairs(top["m"], "m")); got != 2 {
		t.Errorf("without merge keys: %d pairs, want 2", got)
	}
	if got := problems(refuse); len(got) == 0 || got[0] != "f:3:3: m: merge keys (<<) are not supported in a manifest" {
		t.Errorf("merge key not refused: %q", got)
	}
}

func TestKeyBudget(t *testing.T) {
	// Every use of an alias counts its mapping's entries again.
	src := "big: &big {"
	for i := range 100 {
		src += fmt.Sprintf("k%d: v, ", i)
	}
	src += "}\nuses: [" + strings.Repeat("*big, ", 20) + "]\n"
	c := &Checker{File: "f", MaxKeys: 1000}
	top := values(c, src)
	for _, it := range c.List(top["uses"], "uses", "a list") {
		c.Pairs(it.Node, it.Path)
	}
	if got := problems(c); len(got) != 1 || !strings.Contains(got[0], "too many keys") || !strings.Contains(got[0], "more than 1000") {
		t.Errorf("problems = %q", got)
	}
}

func TestFieldsAndHints(t *testing.T) {
	c := &Checker{File: "f", Hint: func(path, key string) string {
		if path == "" && key == "started" {
			return " (it belongs under build:)"
		}
		return ""
	}}
	root := c.Read([]byte("nme: x\nStarted: y\nstarted: z\nzzz: 1\nname: ok\n"))
	var seen []string
	c.Fields(root, "", []string{"name", "started_at"}, func(key string, k, v *yaml.Node) { seen = append(seen, key+"="+v.Value) })
	if !reflect.DeepEqual(seen, []string{"name=ok"}) {
		t.Errorf("fields = %v", seen)
	}
	wantProblems(t, c,
		"f:1:1: nme: unknown key (did you mean name?)",
		"f:2:1: Started: unknown key; known keys: name, started_at",
		"f:3:1: started: unknown key (it belongs under build:)",
		"f:4:1: zzz: unknown key; known keys: name, started_at",
	)
	if m := c.Mapping(c.Read([]byte("~")), "x", nil); m != nil {
		t.Error("Mapping of null")
	}
	if got := c.Problems[len(c.Problems)-1].String(); got != "f:1:1: x: expected a mapping, got null" {
		t.Errorf("Mapping of null: %s", got)
	}
}

func TestReaders(t *testing.T) {
	const src = `s: text
n: 12
b: true
f: 2.5
e: ""
z: ~
l: [a, [b], c]
one: x
neg: -2
word: many
yes: yes
nan: .nan
m: {a: 1}
alias: &x 7
ref: *x
`
	c := &Checker{File: "f"}
	v := values(c, src)
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	s, ok := c.Text(v["s"], "s")
	check("Text(s)", []any{s, ok}, []any{"text", true})
	s, ok = c.Text(v["n"], "n")
	check("Text(n)", []any{s, ok}, []any{"12", true})
	s, ok = c.Text(v["z"], "z")
	check("Text(null)", []any{s, ok}, []any{"", false})
	i, ok := c.Int(v["n"], "n")
	check("Int", []any{i, ok}, []any{12, true})
	i, ok = c.Int(v["ref"], "ref")
	check("Int(alias)", []any{i, ok}, []any{7, true})
	i, ok = c.Int(v["e"], "e")
	check("Int(empty)", []any{i, ok}, []any{0, false})
	fl, ok := c.Float(v["f"], "f")
	check("Float", []any{fl, ok}, []any{2.5, true})
	bo, ok := c.Bool(v["b"], "b")
	check("Bool", []any{bo, ok}, []any{true, true})
	bo, ok = c.Bool(v["z"], "z")
	check("Bool(null)", []any{bo, ok}, []any{false, false})
	vals, nodes := c.Strings(v["l"], "l")
	check("Strings", vals, []string{"a", "c"})
	check("Strings nodes", len(nodes), 2)
	vals, _ = c.Strings(v["one"], "one")
	check("Strings(one)", vals, []string{"x"})
	if len(c.Problems) != 1 {
		t.Fatalf("problems so far: %q", problems(c))
	}
	c.Text(v["m"], "m")
	c.Int(v["neg"], "neg")
	c.Int(v["word"], "word")
	c.Float(v["nan"], "nan")
	c.Float(v["neg"], "neg")
	c.Bool(v["yes"], "yes")
	c.List(v["s"], "s", "a list of ids")
	items := c.List(v["l"], "l", "a list")
	check("List paths", []string{items[0].Path, items[2].Path}, []string{"l[0]", "l[2]"})
	wantProblems(t, c,
		"f:7:8: l[1]: expected a single value, got a list",
		"f:13:4: m: expected a single value, got a mapping",
		"f:9:6: neg: expected a whole number ≥ 0, got a number (-2)",
		"f:10:7: word: expected a whole number ≥ 0, got the string \"many\"",
		"f:12:6: nan: expected a number ≥ 0, got a number (.nan)",
		"f:9:6: neg: expected a number ≥ 0, got a number (-2)",
		"f:11:6: yes: expected true or false, got the string \"yes\"",
		"f:1:4: s: expected a list of ids, got the string \"text\"",
	)
	if !c.HasProblem("word") || c.HasProblem("s.x") {
		t.Error("HasProblem")
	}
}

func TestDuration(t *testing.T) {
	c := &Checker{File: "f"}
	v := values(c, "a: 90s\nb: 30d\nc: 1500\nd: [1s]\ne: ~\nf: soon\ng: &x 2m\nh: *x\n")
	days, ms := duration.Accept{Days: true}, duration.Accept{Millis: true}
	for _, tc := range []struct {
		key    string
		accept duration.Accept
		want   time.Duration
		ok     bool
	}{
		{"a", days, 90 * time.Second, true}, {"b", days, 30 * 24 * time.Hour, true}, {"c", ms, 1500 * time.Millisecond, true},
		{"h", ms, 2 * time.Minute, true}, {"e", days, 0, false}, {"d", days, 0, false}, {"f", ms, 0, false}, {"b", ms, 0, false},
	} {
		if got, ok := c.Duration(v[tc.key], tc.key, tc.accept); got != tc.want || ok != tc.ok {
			t.Errorf("Duration(%s) = %v, %v", tc.key, got, ok)
		}
	}
	wantProblems(t, c,
		"f:4:4: d: expected a duration, got a list",
		`f:6:4: f: "soon" is not a duration (examples: 90s, 5m, 1h30m; or whole milliseconds: 150000)`,
		`f:2:4: b: "30d" is not a duration (examples: 90s, 5m, 1h30m; or whole milliseconds: 150000)`,
	)
}

func TestDescribe(t *testing.T) {
	for src, want := range map[string]string{
		"{a: 1}": "a mapping", "[1]": "a list", "~": "null", "true": "a boolean (true)", "12": "a number (12)",
		"1.5": "a number (1.5)", "2026-01-02": "a date (2026-01-02)", "x": `the string "x"`, `"12"`: `the string "12"`,
		strings.Repeat("é", 61): `the string "` + strings.Repeat("é", 60) + `…"`,
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		if got := Describe(doc.Content[0]); got != want {
			t.Errorf("Describe(%s) = %s, want %s", src, got, want)
		}
	}
	if !IsNull(nil) || !IsNull(Resolve(nil)) {
		t.Error("nil is not null")
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"workspace", "apiVersion", "name", "état"}
	for key, want := range map[string]string{
		"wrkspace": " (did you mean workspace?)", "APIVERSION": " (did you mean apiVersion?)", "apiversin": " (did you mean apiVersion?)",
		"nmae": " (did you mean name?)", "etat": " (did you mean état?)", "completely": "", strings.Repeat("a", 70): "",
	} {
		if got := Suggest(key, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"état", "etat", 1}, {"日本", "日本語", 1}} {
		if got := EditDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// TestError checks the problems' order and their "file:line:col: path: msg"
// form, where unknown parts are left out.
func TestError(t *testing.T) {
	ps := []Problem{
		{File: "c.yaml", Line: 2, Msg: "whole line"},
		{File: "c.yaml", Line: 1, Column: 5, Path: "a.b", Msg: "second"},
		{File: "c.yaml", Line: 1, Column: 2, Msg: "first"},
		{File: "c.yaml", Line: 2, Path: "x[0]", Msg: "same place, kept in order"},
		{File: "c.yaml", Column: 9, Msg: "no line: no column"},
	}
	Sort(ps)
	e := &Error{File: "c.yaml", Problems: ps}
	want := "c.yaml: no line: no column\n" +
		"c.yaml:1:2: first\n" +
		"c.yaml:1:5: a.b: second\n" +
		"c.yaml:2: whole line\n" +
		"c.yaml:2: x[0]: same place, kept in order"
	if got := e.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzRead reads arbitrary bytes as a YAML document and walks whatever it
// gives. Properties: no panic, no hang, and a problem of a non-empty input
// carries a line within the input.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"a: 1\n", "targets:\n  - name: a\n    url: b\n   bad: x\n", "a: 1\nb: \"x\nc: \"y\"\n", "k: 'x\na\nb\n",
		"a: [1,\n2,\n3\n", "\ta: 1\n", "x: *nope\n", "a: &a [*a]\n", "<<: {<<: {}}", "a: 1\n---\nb: [\n", "\ufeffa: b\r\nc: d\r",
		"a: !!binary x\n", "%YAML 1.1\n---\na: 1\n", "? [a]\n: b\n", "a: |\n  x\n y\n", "\xff\xfea\x00:\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan *Checker, 1)
		go func() {
			c := &Checker{File: "f", MergeKeys: len(data)%2 == 0}
			root := c.Read(data)
			walk(c, root, "", 0)
			done <- c
		}()
		var c *Checker
		select {
		case c = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Read has not returned after 10s on %q", data)
		}
		lines := len(lineEnds(data))
		for _, p := range c.Problems {
			if p.Msg == "" || p.File != "f" {
				t.Fatalf("bad problem %+v", p)
			}
			if len(bytes.TrimSpace(data)) > 0 && !hasUTF16BOM(data) && (p.Line < 1 || p.Line > lines+1) {
				t.Fatalf("problem %q: line %d outside 1..%d", p, p.Line, lines+1)
			}
		}
	})
}

// walk reads every node the way the loaders do.
func walk(c *Checker, n *yaml.Node, path string, depth int) {
	if depth > 20 {
		return
	}
	n = Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range c.Pairs(n, path) {
			walk(c, p.Value, Join(path, p.Key), depth+1)
		}
	case yaml.SequenceNode:
		for _, it := range c.List(n, path, "a list") {
			walk(c, it.Node, it.Path, depth+1)
		}
	default:
		c.Text(n, path)
		c.Int(n, path)
		c.Float(n, path)
		c.Bool(n, path)
		Describe(n)
	}
}

// BenchmarkRead reads documents of 10 KiB and 1 MiB (a manifest's size
// limit), valid and with a bad indent near the end: the latter pays for
// placing the error.
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{10 << 10, 1 << 20} {
		var sb strings.Builder
		sb.WriteString("items:\n")
		for i := 0; sb.Len() < size; i++ {
			fmt.Fprintf(&sb, "  - name: item-%d\n    value: \"some text for item %d\"\n", i, i)
		}
		good := sb.String()
		bad := good + "  - name: last\n   value: x\n"
		for _, tc := range []struct {
			name string
			src  []byte
		}{{"valid", []byte(good)}, {"bad-indent-at-end", []byte(bad)}} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, tc.name), func(b *testing.B) {
				b.SetBytes(int64(len(tc.src)))
				for b.Loop() {
					c := &Checker{File: "f"}
					c.Read(tc.src)
					if (len(c.Problems) > 0) != (tc.name != "valid") {
						b.Fatalf("problems: %v", problems(c))
					}
				}
			})
		}
	}
}
