package sandbox

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The test_result schema of section 8.3, as a live Octane serves it
// (shared/octane/test-results.xsd; TestValidatorAgreesWithServerXSD checks
// the two agree with libxml2's xmllint). A later copy of the converter's XSD
// adds build/@artifact_id and test_run/@external_assets
// (shared/octane-clients.md section 1.1): servers differ, and the stand-in
// refuses both, as the served copy does (the stricter reading). Checked token
// by token with encoding/xml (validateTokens), or in one pass by the scanner
// of xsdscan.go for the payloads it knows to be valid (validatePayload):
// element order per xs:sequence, required attributes, enums,
// lengths in characters, xs:long and xs:boolean lexical forms, the url
// pattern, test_run and gherkin_test_run not mixed, unknown elements and
// attributes refused, no namespaces, no DOCTYPE.

type attrType int

const (
	aStr       attrType = iota // xs:string, any length
	aStr255                    // 1..255
	aStr0_255                  // 0..255
	aStr3800                   // 1..3800
	aStr0_3800                 // 0..3800
	aLong                      // xs:long
	aBool                      // xs:boolean
	aURL                       // urlType
	aStatus                    // nativeStatusType
	aFieldType                 // testFieldType
)

type attrDef struct {
	name     string
	typ      attrType
	required bool
}

type particle struct {
	names       []string
	min, max    int // max -1 = unbounded
	homogeneous bool
}

type contentKind int

const (
	cElements contentKind = iota // element-only (or empty): whitespace text only
	cMixed                       // text and no elements (errorType)
	cText                        // simple content, no elements
	cAny                         // anything (xs:anyType)
)

type elemType struct {
	name    string
	attrs   []attrDef
	seq     []particle
	kids    map[string]*elemType
	content contentKind
	kidList []kidDef // kids as a list, for the scanner (indexKids)
}

// kidDef is a child element the schema allows: its name and its type.
type kidDef struct {
	name string
	t    *elemType
}

// indexKids fills kidList from kids, in t and below.
func indexKids(t *elemType, done map[*elemType]bool) {
	if done[t] {
		return
	}
	done[t] = true
	names := make([]string, 0, len(t.kids))
	for name := range t.kids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.kidList = append(t.kidList, kidDef{name, t.kids[name]})
		indexKids(t.kids[name], done)
	}
}

var (
	urlPattern = regexp.MustCompile(`^(?:(?:[hH][tT]{2}[pP][sS]?://*.*)|(?:[tT][dD][sS]?://*.*)|(?:testdirector[s]?:*.*))$`)
	fieldTypes = map[string]bool{"Test_Level": true, "Test_Type": true, "Testing_Tool_Type": true, "Framework": true}
)

func one(name string) particle        { return particle{names: []string{name}, min: 1, max: 1} }
func opt(names ...string) particle    { return particle{names: names, min: 0, max: 1} }
func many(names ...string) particle   { return particle{names: names, min: 0, max: -1} }
func refAttrs() []attrDef             { return []attrDef{{"id", aLong, true}} }
func leaf(attrs ...attrDef) *elemType { return &elemType{attrs: attrs} }

var testResultSchema = buildSchema()

func buildSchema() *elemType {
	ref := leaf(refAttrs()...)
	suiteRef := leaf(attrDef{"id", aLong, true}, attrDef{"external_run_id", aStr0_255, false}, attrDef{"component", aStr0_255, false})
	release := leaf(attrDef{"name", aStr255, true})
	backlog := &elemType{seq: []particle{many("backlog_item_ref")}, kids: map[string]*elemType{"backlog_item_ref": ref}}
	areas := &elemType{seq: []particle{many("product_area_ref")}, kids: map[string]*elemType{"product_area_ref": ref}}
	fields := &elemType{seq: []particle{many("test_field")}, kids: map[string]*elemType{
		"test_field": leaf(attrDef{"type", aFieldType, true}, attrDef{"value", aStr255, true})}}
	env := &elemType{seq: []particle{many("taxonomy")}, kids: map[string]*elemType{
		"taxonomy": leaf(attrDef{"type", aStr255, true}, attrDef{"value", aStr255, true})}}
	text := &elemType{content: cText}
	params := &elemType{seq: []particle{{names: []string{"parameter"}, min: 1, max: -1}}, kids: map[string]*elemType{
		"parameter": leaf(attrDef{"name", aStr255, true}, attrDef{"value", aStr0_255, false}, attrDef{"type", aStr0_255, false})}}
	step := &elemType{
		attrs: []attrDef{{"name", aStr3800, true}, {"duration", aLong, true}, {"status", aStr255, true}, {"external_step_id", aStr255, false}},
		seq:   []particle{opt("error_message"), opt("input_parameters"), opt("output_parameters")},
		kids:  map[string]*elemType{"error_message": text, "input_parameters": params, "output_parameters": params},
	}
	steps := &elemType{attrs: []attrDef{{"iteration", aStr255, false}}, seq: []particle{many("step")}, kids: map[string]*elemType{"step": step}}
	bgStep := &elemType{
		attrs: []attrDef{{"name", aStr3800, true}, {"duration", aLong, false}, {"status", aStr255, false}},
		seq:   []particle{opt("error_message")}, kids: map[string]*elemType{"error_message": text},
	}
	bgSteps := &elemType{seq: []particle{many("step")}, kids: map[string]*elemType{"step": bgStep}}
	background := &elemType{seq: []particle{opt("steps")}, kids: map[string]*elemType{"steps": bgSteps}}
	scenario := &elemType{
		attrs: []attrDef{{"name", aStr0_3800, true}, {"outlineIndex", aLong, false}, {"status", aStatus, true}},
		seq:   []particle{one("steps")}, kids: map[string]*elemType{"steps": steps},
	}
	scenarios := &elemType{seq: []particle{opt("background"), many("scenario")}, kids: map[string]*elemType{"background": background, "scenario": scenario}}
	feature := &elemType{
		attrs: []attrDef{{"name", aStr0_255, true}, {"path", aStr255, true}, {"identifier", aStr0_255, false}, {"tag", aStr0_255, true}, {"started", aLong, true}},
		seq:   []particle{one("file"), opt("scenarios")},
		kids:  map[string]*elemType{"file": {content: cAny}, "scenarios": scenarios},
	}
	common := map[string]*elemType{
		"suite_ref": suiteRef, "program_ref": ref, "release_ref": ref, "release": release, "milestone_ref": ref,
		"backlog_items": backlog, "product_areas": areas, "test_fields": fields, "environment": env,
	}
	commonSeq := []particle{opt("suite_ref"), opt("program_ref"), opt("release_ref", "release"), opt("milestone_ref"),
		opt("backlog_items"), opt("product_areas"), opt("test_fields"), opt("environment")}
	runKids := map[string]*elemType{"error": {content: cMixed, attrs: []attrDef{{"type", aStr, false}, {"message", aStr, false}}},
		"description": text, "steps": steps}
	for k, v := range common {
		runKids[k] = v
	}
	testRun := &elemType{
		attrs: []attrDef{
			{"module", aStr0_255, false}, {"package", aStr0_255, false}, {"class", aStr0_255, false},
			{"name", aStr255, true}, {"run_name", aStr255, false}, {"duration", aLong, true}, {"status", aStatus, true},
			{"manual", aBool, false}, {"started", aLong, false}, {"external_report_url", aURL, false},
			{"external_test_id", aStr0_255, false}, {"external_run_id", aStr0_255, false},
			{"run_type", aStr0_255, false},
		},
		seq:  append(append([]particle{}, commonSeq...), opt("error"), opt("description"), many("steps")),
		kids: runKids,
	}
	gherkin := &elemType{
		attrs: []attrDef{{"name", aStr0_255, true}, {"duration", aLong, true}, {"status", aStatus, true}, {"external_run_id", aStr0_255, false}},
		seq:   []particle{one("feature")}, kids: map[string]*elemType{"feature": feature},
	}
	testRuns := &elemType{
		seq:  []particle{{names: []string{"test_run", "gherkin_test_run"}, min: 0, max: -1, homogeneous: true}},
		kids: map[string]*elemType{"test_run": testRun, "gherkin_test_run": gherkin},
	}
	build := leaf(attrDef{"server_id", aStr255, true}, attrDef{"job_id", aStr255, true}, attrDef{"job_name", aStr255, false},
		attrDef{"build_id", aStr255, true}, attrDef{"build_name", aStr255, false}, attrDef{"sub_type", aStr0_255, false})
	rootKids := map[string]*elemType{"build": build, "test_runs": testRuns}
	for k, v := range common {
		rootKids[k] = v
	}
	root := &elemType{
		name: "test_result",
		seq:  append(append([]particle{opt("build")}, commonSeq...), one("test_runs")),
		kids: rootKids,
	}
	indexKids(root, map[*elemType]bool{})
	return root
}

// xnode is a validated element. Its attributes are in document order; their
// names, like the element's, are the schema's own strings.
type xnode struct {
	name  string
	attrs []xattr
	text  string // the text of a cText or cMixed element; "" for the others
	kids  []*xnode
	line  int // the line at the end of the start tag (encoding/xml's InputPos)
}

// xattr is an attribute of an xnode.
type xattr struct{ name, value string }

// attr returns the value of the attribute name ("" when absent).
func (n *xnode) attr(name string) string {
	v, _ := n.attrOK(name)
	return v
}

// attrOK returns the value of the attribute name and whether it is present.
func (n *xnode) attrOK(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.name == name {
			return a.value, true
		}
	}
	return "", false
}

func (n *xnode) kid(name string) *xnode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

type validator struct {
	d    *xml.Decoder
	data []byte
}

func (v *validator) pos() string {
	line, col := v.d.InputPos()
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (v *validator) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", v.pos(), fmt.Sprintf(format, args...))
}

// validatePayload checks a payload against the schema and returns its tree.
// The scanner of xsdscan.go decides the payloads it knows to be valid; any
// other payload, invalid or using XML that scanner leaves alone (CDATA,
// DOCTYPE, processing instructions, entities beyond the five predefined and
// character references…), is decided by validateTokens, which also words
// every refusal. The two agree on every payload they both decide
// (TestValidatorsAgree, FuzzValidatorsAgree).
func validatePayload(doc string) (*xnode, error) {
	root, ok := scanTestResult(doc)
	var err error
	if !ok {
		root, err = validateTokens([]byte(doc))
	}
	if payloadCheck != nil {
		payloadCheck(doc, root, err)
	}
	return root, err
}

// payloadCheck, when set (by the package's tests, before any request), sees
// every payload validatePayload decides and what it decided.
var payloadCheck func(doc string, root *xnode, err error)

// validateTokens checks a payload against the schema token by token with
// encoding/xml (Strict) and returns its tree: the reference validator, and
// the one that words every refusal.
func validateTokens(data []byte) (*xnode, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the payload is empty")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("the payload is not valid UTF-8")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	v := &validator{d: d, data: data}
	var root *xnode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil {
				return nil, v.errf("a second root element <%s>; there can be only one <test_result>", t.Name.Local)
			}
			if t.Name.Space != "" {
				return nil, v.errf("element <%s> has a namespace; the schema has none", qname(t.Name))
			}
			if t.Name.Local != "test_result" {
				return nil, v.errf("the root element must be <test_result>, not <%s>", qname(t.Name))
			}
			root, err = v.element(t, testResultSchema)
			if err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, v.errf("text outside the root element")
			}
		case xml.Directive:
			return nil, v.errf("DOCTYPE and other <!…> declarations are refused")
		case xml.ProcInst:
			if t.Target == "xml" {
				if enc := procAttr(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "UTF-8") {
					return nil, v.errf("encoding %q is not supported; send UTF-8", enc)
				}
			}
		}
	}
	if root == nil {
		return nil, errors.New("no <test_result> element")
	}
	return root, nil
}

func procAttr(inst, name string) string {
	i := strings.Index(inst, name+"=")
	if i < 0 {
		return ""
	}
	rest := inst[i+len(name)+1:]
	if len(rest) < 2 {
		return ""
	}
	q := rest[0]
	if q != '"' && q != '\'' {
		return ""
	}
	j := strings.IndexByte(rest[1:], q)
	if j < 0 {
		return ""
	}
	return rest[1 : 1+j]
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func (v *validator) element(start xml.StartElement, t *elemType) (*xnode, error) {
	line, _ := v.d.InputPos()
	n := &xnode{name: start.Name.Local, line: line}
	if err := v.attributes(start, t, n); err != nil {
		return nil, err
	}
	if t.content == cAny {
		if err := v.d.Skip(); err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		return n, nil
	}
	idx, count := 0, 0
	chosen := ""
	var text strings.Builder
	for {
		tok, err := v.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, v.errf("<%s> is not closed", n.name)
			}
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch tk := tok.(type) {
		case xml.EndElement:
			// Remaining particles must allow zero occurrences.
			for ; idx < len(t.seq); idx++ {
				if count < t.seq[idx].min {
					return nil, v.errf("<%s> is missing the required <%s>", n.name, strings.Join(t.seq[idx].names, "> or <"))
				}
				count = 0
			}
			n.text = text.String()
			return n, nil
		case xml.CharData:
			switch t.content {
			case cElements:
				if len(bytes.TrimSpace(tk)) != 0 {
					return nil, v.errf("<%s> takes no text, found %q", n.name, abbreviate(string(tk)))
				}
			default:
				text.Write(tk)
			}
		case xml.Directive:
			return nil, v.errf("DOCTYPE and other <!…> declarations are refused")
		case xml.StartElement:
			name := tk.Name.Local
			if tk.Name.Space != "" {
				return nil, v.errf("element <%s> has a namespace; the schema has none", qname(tk.Name))
			}
			if t.content != cElements {
				return nil, v.errf("<%s> takes text only, not <%s>", n.name, name)
			}
			kt := t.kids[name]
			if kt == nil {
				return nil, v.errf("unknown element <%s> in <%s>", name, n.name)
			}
			for {
				if idx >= len(t.seq) {
					return nil, v.errf("<%s> is out of order in <%s> (expected order: %s)", name, n.name, seqOrder(t.seq))
				}
				p := t.seq[idx]
				if contains(p.names, name) {
					if p.homogeneous && chosen != "" && chosen != name {
						return nil, v.errf("<%s> and <%s> cannot be mixed in <%s>", chosen, name, n.name)
					}
					if p.max >= 0 && count >= p.max {
						if len(p.names) > 1 {
							return nil, v.errf("<%s> may hold only one of <%s>", n.name, strings.Join(p.names, "> or <"))
						}
						return nil, v.errf("<%s> may appear only %d time(s) in <%s>", name, p.max, n.name)
					}
					chosen = name
					count++
					break
				}
				if count < p.min {
					return nil, v.errf("<%s> is out of order in <%s>: <%s> must come first", name, n.name, strings.Join(p.names, "> or <"))
				}
				idx++
				count = 0
				chosen = ""
			}
			kid, err := v.element(tk, kt)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func seqOrder(seq []particle) string {
	var parts []string
	for _, p := range seq {
		parts = append(parts, strings.Join(p.names, "|"))
	}
	return strings.Join(parts, ", ")
}

func abbreviate(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

func (v *validator) attributes(start xml.StartElement, t *elemType, n *xnode) error {
	name := start.Name.Local
	for _, a := range start.Attr {
		if a.Name.Space != "" || a.Name.Local == "xmlns" {
			return v.errf("attribute %s on <%s> is not in the schema (no namespaces, xsi or xml: attributes)", qname(a.Name), name)
		}
		var def *attrDef
		for i := range t.attrs {
			if t.attrs[i].name == a.Name.Local {
				def = &t.attrs[i]
				break
			}
		}
		if def == nil {
			return v.errf("unknown attribute %q on <%s>", a.Name.Local, name)
		}
		if _, dup := n.attrOK(def.name); dup {
			return v.errf("attribute %q appears twice on <%s>", a.Name.Local, name)
		}
		if err := checkValue(def.typ, a.Value); err != nil {
			return v.errf("<%s %s=%q>: %v", name, a.Name.Local, abbreviate(a.Value), err)
		}
		n.attrs = append(n.attrs, xattr{def.name, a.Value})
	}
	for _, def := range t.attrs {
		if _, ok := n.attrOK(def.name); def.required && !ok {
			return v.errf("<%s> is missing the required attribute %q", name, def.name)
		}
	}
	return nil
}

func lengthIn(s string, minLen, maxLen int) error {
	if len(s) <= maxLen && (minLen == 0 || minLen == 1 && s != "") {
		return nil // at most len(s) characters, at least one when s != ""
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return fmt.Errorf("length %d characters, must be %d to %d", n, minLen, maxLen)
	}
	return nil
}

func checkValue(t attrType, s string) error {
	switch t {
	case aStr:
		return nil
	case aStr255:
		return lengthIn(s, 1, 255)
	case aStr0_255:
		return lengthIn(s, 0, 255)
	case aStr3800:
		return lengthIn(s, 1, 3800)
	case aStr0_3800:
		return lengthIn(s, 0, 3800)
	case aLong:
		_, err := parseLong(s)
		return err
	case aBool:
		switch strings.TrimSpace(s) {
		case "true", "false", "1", "0":
			return nil
		}
		return fmt.Errorf("not an xs:boolean (true, false, 1, 0)")
	case aURL:
		if err := lengthIn(s, 6, 512); err != nil {
			return err
		}
		if !urlPattern.MatchString(s) {
			return fmt.Errorf("does not match the urlType pattern (http://, https://, td://, tds:// or testdirector:)")
		}
		return nil
	case aStatus:
		switch s {
		case "Passed", "Failed", "Skipped", "Planned":
			return nil
		}
		return fmt.Errorf("status must be Passed, Failed, Skipped or Planned")
	case aFieldType:
		if !fieldTypes[s] {
			return fmt.Errorf("type must be Test_Level, Test_Type, Testing_Tool_Type or Framework")
		}
		return nil
	}
	return nil
}

var (
	errNotLong   = errors.New("not an xs:long")
	errLongRange = errors.New("out of the xs:long range")
)

// parseLong parses an xs:long (whitespace collapsed, optional sign):
// ^[+-]?[0-9]+$ after strings.TrimSpace.
func parseLong(s string) (int64, error) {
	s = strings.TrimSpace(s)
	digits := s
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, errNotLong
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, errNotLong
		}
	}
	if len(digits) <= 18 { // no overflow
		var n int64
		for i := 0; i < len(digits); i++ {
			n = n*10 + int64(digits[i]-'0')
		}
		if s[0] == '-' {
			n = -n
		}
		return n, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errLongRange
	}
	return n, nil
}
