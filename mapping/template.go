package mapping

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/octane-import/octane-import/internal/glob"
)

// A template is a string with `{...}` substitutions:
//
//	{build}                     a capture of the rule's path pattern or regexp
//	{manifest.job}              a manifest field
//	{property.NAME}             a JUnit suite property
//	{env.NAME}                  an environment variable
//	{file.name}                 a value of the report file (see fileVars)
//	{job|lower}                 a value through functions, left to right
//	{build|trimprefix:build-}   function arguments follow a colon
//	{team|replace:_:-}
//	{{ and }}                   literal braces
//
// Inside {...} a backslash escapes the next character, so `\:`, `\|` and
// `\}` put those characters into an argument.
type template struct {
	src   string
	parts []tmplPart
}

type tmplPart struct {
	lit   string // literal text when ref == ""
	ref   string // the variable
	funcs []tmplFunc
}

type tmplFunc struct {
	name string
	args []string
}

// fileVars are the values `{file.X}` may name.
var fileVars = map[string]string{
	"name":   "base name of the report (TEST-a.xml)",
	"stem":   "base name without its last extension (TEST-a)",
	"ext":    "last extension without the dot (xml)",
	"dir":    "directory of the report relative to the root, slash-separated (teamA/api/17; . at the root)",
	"parent": "name of the folder holding the report",
	"rel":    "path of the report relative to the root, slash-separated",
	"path":   "absolute path of the report, slash-separated",
	"root":   "name of the scanned root folder",
}

// funcArity lists the template functions and how many arguments each takes.
var funcArity = map[string]int{
	"lower":      0,
	"upper":      0,
	"trim":       0,
	"trimprefix": 1,
	"trimsuffix": 1,
	"replace":    2,
	"default":    1,
}

func funcNames() string {
	names := make([]string, 0, len(funcArity))
	for n := range funcArity {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseTemplate parses src. It checks the syntax, the variable prefixes and
// the functions; whether a capture exists is checked by the caller, which
// knows the rule's pattern.
func parseTemplate(src string) (*template, error) {
	t := &template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '{' && i+1 < len(src) && src[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(src) && src[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return nil, fmt.Errorf("template %q: unexpected } at offset %d (write }} for a literal brace)", src, i)
		case c == '{':
			end, fields, err := scanExpr(src, i+1)
			if err != nil {
				return nil, fmt.Errorf("template %q: %v", src, err)
			}
			part, err := parseExpr(fields)
			if err != nil {
				return nil, fmt.Errorf("template %q: %v", src, err)
			}
			flush()
			t.parts = append(t.parts, part)
			i = end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// scanExpr reads an expression from src[start:] up to the closing brace. It
// returns the index of the brace and the expression split at unescaped `|`,
// each piece split at unescaped `:`.
func scanExpr(src string, start int) (int, [][]string, error) {
	var pieces [][]string
	var cur []string
	var b strings.Builder
	for i := start; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\\':
			if i+1 >= len(src) {
				return 0, nil, fmt.Errorf("lone backslash at the end")
			}
			i++
			b.WriteByte(src[i])
		case ':':
			cur = append(cur, b.String())
			b.Reset()
		case '|':
			cur = append(cur, b.String())
			b.Reset()
			pieces = append(pieces, cur)
			cur = nil
		case '{':
			return 0, nil, fmt.Errorf("{ inside {...} at offset %d (escape it as \\{)", i)
		case '}':
			cur = append(cur, b.String())
			pieces = append(pieces, cur)
			return i, pieces, nil
		default:
			b.WriteByte(c)
		}
	}
	return 0, nil, fmt.Errorf("unclosed { at offset %d", start-1)
}

func parseExpr(pieces [][]string) (tmplPart, error) {
	var p tmplPart
	head := pieces[0]
	if len(head) != 1 {
		return p, fmt.Errorf("unexpected : in the variable name %q", strings.Join(head, ":"))
	}
	ref := strings.TrimSpace(head[0])
	if ref == "" {
		return p, fmt.Errorf("empty {} (write {{}} for literal braces)")
	}
	if err := checkRef(ref); err != nil {
		return p, err
	}
	p.ref = ref
	for _, f := range pieces[1:] {
		name := strings.TrimSpace(f[0])
		want, ok := funcArity[name]
		if !ok {
			return p, fmt.Errorf("unknown function %q (known: %s)", name, funcNames())
		}
		if got := len(f) - 1; got != want {
			return p, fmt.Errorf("function %s takes %d argument(s), got %d", name, want, got)
		}
		p.funcs = append(p.funcs, tmplFunc{name: name, args: f[1:]})
	}
	return p, nil
}

// checkRef validates a variable reference's form.
func checkRef(ref string) error {
	prefix, rest, dotted := strings.Cut(ref, ".")
	if !dotted {
		if !glob.IsCaptureName(ref) {
			return fmt.Errorf("{%s} is not a valid capture name", ref)
		}
		return nil
	}
	switch prefix {
	case "manifest", "property", "env":
		if rest == "" {
			return fmt.Errorf("{%s.} names no %s value", prefix, prefix)
		}
		return nil
	case "file":
		if _, ok := fileVars[rest]; !ok {
			names := make([]string, 0, len(fileVars))
			for n := range fileVars {
				names = append(names, "file."+n)
			}
			sort.Strings(names)
			return fmt.Errorf("{%s} is not a file value (known: %s)", ref, strings.Join(names, ", "))
		}
		return nil
	}
	return fmt.Errorf("{%s}: unknown prefix %q (use a capture name or manifest., property., env., file.)", ref, prefix)
}

// captureRefs returns the bare capture names the template uses.
func (t *template) captureRefs() []string {
	var out []string
	for _, p := range t.parts {
		if p.ref != "" && !strings.Contains(p.ref, ".") {
			out = append(out, p.ref)
		}
	}
	return out
}

// isLiteral reports whether the template has no substitutions.
func (t *template) isLiteral() bool {
	for _, p := range t.parts {
		if p.ref != "" {
			return false
		}
	}
	return true
}

// runRefs are the references a run_link template may use beside the usual ones: the test
// run's own values.
var runRefs = []string{"package", "class", "name", "suite"}

// evalContext holds the values a template can name.
type evalContext struct {
	run      map[string]string // a test run's values, for run_link only
	captures map[string]string
	manifest map[string]string
	props    map[string]string
	env      func(string) (string, bool)
	file     map[string]string
}

func (c *evalContext) lookup(ref string) string {
	prefix, rest, dotted := strings.Cut(ref, ".")
	if !dotted {
		if v, ok := c.captures[ref]; ok || c.run == nil {
			return v
		}
		return c.run[ref] // a run_link's {package}, {class}, {name}, {suite}
	}
	switch prefix {
	case "manifest":
		return c.manifest[rest]
	case "property":
		return c.props[rest]
	case "env":
		if c.env != nil {
			v, _ := c.env(rest)
			return v
		}
	case "file":
		return c.file[rest]
	}
	return ""
}

func (t *template) eval(c *evalContext) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.lit)
			continue
		}
		v := c.lookup(p.ref)
		for _, f := range p.funcs {
			v = applyFunc(f, v)
		}
		b.WriteString(v)
	}
	return b.String()
}

func applyFunc(f tmplFunc, v string) string {
	switch f.name {
	case "lower":
		return strings.ToLower(v)
	case "upper":
		return strings.ToUpper(v)
	case "trim":
		return strings.TrimSpace(v)
	case "trimprefix":
		return strings.TrimPrefix(v, f.args[0])
	case "trimsuffix":
		return strings.TrimSuffix(v, f.args[0])
	case "replace":
		if f.args[0] == "" {
			return v
		}
		return strings.ReplaceAll(v, f.args[0], f.args[1])
	case "default":
		if v == "" {
			return f.args[0]
		}
	}
	return v
}

// fileValues computes the {file.X} values for a report.
func fileValues(abs, rel, root string) map[string]string {
	base := path.Base(rel)
	ext := path.Ext(base)
	dir := path.Dir(rel)
	parent := path.Base(dir)
	rootName := path.Base(strings.TrimRight(root, "/"))
	if dir == "." {
		parent = rootName
	}
	return map[string]string{
		"name":   base,
		"stem":   strings.TrimSuffix(base, ext),
		"ext":    strings.TrimPrefix(ext, "."),
		"dir":    dir,
		"parent": parent,
		"rel":    rel,
		"path":   abs,
		"root":   rootName,
	}
}
