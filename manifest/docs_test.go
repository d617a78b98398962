package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

type docBlock struct {
	line   int    // line of the opening fence
	lang   string // yaml, json, text, sh…
	marker string // the HTML comment on the line before the fence, if any
	body   string
}

// docBlocks extracts the fenced code blocks of a Markdown file.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	var cur *docBlock
	prev := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{line: n, lang: strings.TrimPrefix(line, "```")}
			if strings.HasPrefix(prev, "<!--") {
				cur.marker = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(prev, "<!--"), "-->"))
			}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
		prev = line
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code block", path, cur.line)
	}
	return blocks
}

// TestDocExamples checks docs/manifest.md: every YAML and JSON block parses
// (or, marked invalid, fails), and blocks marked "example: PATH" or
// "output: PATH" are byte-for-byte the fixture or golden file they show.
func TestDocExamples(t *testing.T) {
	root := testkit.RepoRoot(t)
	doc := filepath.Join(root, "docs", "manifest.md")
	counts := map[string]int{}
	for _, b := range docBlocks(t, doc) {
		where := "docs/manifest.md:" + strconv.Itoa(b.line)
		kind, arg, _ := strings.Cut(b.marker, ":")
		arg = strings.TrimSpace(arg)
		if kind == "example" || kind == "output" {
			want, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(arg)))
			if err != nil {
				t.Errorf("%s: %v", where, err)
			} else if b.body != string(want) {
				t.Errorf("%s: the block differs from %s; copy the file into the doc", where, arg)
			}
			counts[kind]++
		}
		if b.lang != "yaml" && b.lang != "json" {
			continue
		}
		counts[b.lang]++
		name := "doc-example." + b.lang
		_, err := Parse([]byte(b.body), name)
		switch {
		case kind == "invalid" && err == nil:
			t.Errorf("%s: a block marked invalid parses", where)
		case kind != "invalid" && err != nil:
			t.Errorf("%s: the example does not parse:\n%v", where, err)
		}
	}
	if counts["yaml"] < 3 || counts["json"] < 2 || counts["example"] < 4 || counts["output"] < 1 {
		t.Errorf("too few checked blocks in the doc: %v", counts)
	}
}

// TestDocFieldTable checks that the doc's field table lists exactly the keys
// the reader knows.
func TestDocFieldTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "manifest.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "## Fields\n")
	if !ok {
		t.Fatal("no ## Fields section")
	}
	section, _, _ := strings.Cut(after, "\n### ")
	re := regexp.MustCompile("(?m)^\\| `([a-zA-Z_.]+)` \\|")
	var got []string
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1])
	}
	sort.Strings(got)
	want := knownPaths()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("doc field table lists\n %v\nthe reader knows\n %v", got, want)
	}
}

// knownPaths lists every documented key: top-level keys, with the sections
// that are mappings of known keys expanded.
func knownPaths() []string {
	sections := map[string][]string{"server": serverKeys, "pipeline": pipelineKeys, "job": jobKeys, "build": buildKeys}
	var out []string
	for _, k := range topKeys {
		if sub, ok := sections[k]; ok {
			for _, s := range sub {
				out = append(out, k+"."+s)
			}
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSchemaMatchesReader checks docs/manifest.schema.json against the
// reader's key lists and enums, and that every valid fixture uses only keys
// the schema declares.
func TestSchemaMatchesReader(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "manifest.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	type schemaNode struct {
		Schema               string                 `json:"$schema"`
		Type                 any                    `json:"type"`
		Required             []string               `json:"required"`
		Properties           map[string]*schemaNode `json:"properties"`
		AdditionalProperties any                    `json:"additionalProperties"`
		OneOf                []*schemaNode          `json:"oneOf"`
		Items                *schemaNode            `json:"items"`
		Pattern              string                 `json:"pattern"`
		Examples             []string               `json:"examples"`
	}
	var s schemaNode
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q", s.Schema)
	}
	keys := func(n *schemaNode) []string {
		var out []string
		for k := range n.Properties {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(in []string) []string {
		out := append([]string(nil), in...)
		sort.Strings(out)
		return out
	}
	check := func(name string, n *schemaNode, want []string) {
		t.Helper()
		if n == nil {
			t.Errorf("schema has no %s", name)
			return
		}
		if got := keys(n); !reflect.DeepEqual(got, sorted(want)) {
			t.Errorf("schema %s properties %v, reader knows %v", name, got, sorted(want))
		}
		if n.AdditionalProperties != false {
			t.Errorf("schema %s allows unknown keys; the reader does not", name)
		}
	}
	check("top level", &s, topKeys)
	check("server", s.Properties["server"], serverKeys)
	check("pipeline", s.Properties["pipeline"], pipelineKeys)
	check("job", s.Properties["job"], jobKeys)
	check("build", s.Properties["build"], buildKeys)
	check("causes item", s.Properties["causes"].Items, causeKeys)
	check("parameters item", s.Properties["parameters"].OneOf[0].Items, parameterKeys)
	check("test_fields", s.Properties["test_fields"], TestFieldTypes)
	for _, c := range []struct {
		name string
		n    *schemaNode
		want []string
	}{
		{"build.status", s.Properties["build"].Properties["status"], Statuses},
		{"build.result", s.Properties["build"].Properties["result"], Results},
		{"parameter type", s.Properties["parameters"].OneOf[0].Items.Properties["type"], ParameterTypes},
	} {
		if !reflect.DeepEqual(c.n.Examples, c.want) {
			t.Errorf("schema %s lists %v, reader takes %v", c.name, c.n.Examples, c.want)
		}
		re, err := regexp.Compile(c.n.Pattern)
		if err != nil {
			t.Errorf("schema %s pattern: %v", c.name, err)
			continue
		}
		for _, v := range c.want {
			if !re.MatchString(v) || !re.MatchString(strings.ToUpper(v)) {
				t.Errorf("schema %s pattern refuses %q", c.name, v)
			}
		}
		if re.MatchString("bogus") {
			t.Errorf("schema %s pattern takes bogus", c.name)
		}
	}
	for sec, req := range map[string]string{"server": "instance_id", "job": "id", "build": "id"} {
		if !reflect.DeepEqual(s.Properties[sec].Required, []string{req}) {
			t.Errorf("schema %s.required = %v, want [%s]", sec, s.Properties[sec].Required, req)
		}
	}
}
