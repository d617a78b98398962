package sandbox

// The validator as it was before the scanner of xsdscan.go (git show
// 8cf071b:sandbox/xsd.go and, for refTooLong, sandbox/tasks.go), kept
// verbatim but for its names (ref…) and the unused method kid: the reference
// the production validator must agree with (TestValidatorsAgree,
// FuzzValidatorsAgree, and TestMain for every payload the tests post). The
// schema (testResultSchema) and the helpers that did not change (procAttr,
// qname, contains, seqOrder, abbreviate) are shared.
//
// A copy on purpose: a differential oracle. Its lines repeat validateTokens
// (xsd.go) closely, but it must not call it: it is the validator frozen
// before the fast paths (the scanner, attributes in a slice, lengthIn and
// parseLong without a rune count or a regexp, textUnits), so that a change
// to any of them shows as a disagreement. A change to the schema's rules or
// to a refusal's words is made in both.

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

var (
	refLongPattern = regexp.MustCompile(`^[+-]?[0-9]+$`)
	refStatuses    = map[string]bool{"Passed": true, "Failed": true, "Skipped": true, "Planned": true}
)

// refNode is a validated element.
type refNode struct {
	name  string
	attrs map[string]string
	text  string
	kids  []*refNode
	line  int
}

type refValidator struct {
	d    *xml.Decoder
	data []byte
}

func (v *refValidator) pos() string {
	line, col := v.d.InputPos()
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (v *refValidator) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", v.pos(), fmt.Sprintf(format, args...))
}

// refValidate checks a payload against the schema and returns its tree.
func refValidate(data []byte) (*refNode, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the payload is empty")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("the payload is not valid UTF-8")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	v := &refValidator{d: d, data: data}
	var root *refNode
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

func (v *refValidator) element(start xml.StartElement, t *elemType) (*refNode, error) {
	line, _ := v.d.InputPos()
	n := &refNode{name: start.Name.Local, attrs: map[string]string{}, line: line}
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

func (v *refValidator) attributes(start xml.StartElement, t *elemType, n *refNode) error {
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
		if _, dup := n.attrs[a.Name.Local]; dup {
			return v.errf("attribute %q appears twice on <%s>", a.Name.Local, name)
		}
		if err := refCheckValue(def.typ, a.Value); err != nil {
			return v.errf("<%s %s=%q>: %v", name, a.Name.Local, abbreviate(a.Value), err)
		}
		n.attrs[a.Name.Local] = a.Value
	}
	for _, def := range t.attrs {
		if _, ok := n.attrs[def.name]; def.required && !ok {
			return v.errf("<%s> is missing the required attribute %q", name, def.name)
		}
	}
	return nil
}

func refLengthIn(s string, minLen, maxLen int) error {
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return fmt.Errorf("length %d characters, must be %d to %d", n, minLen, maxLen)
	}
	return nil
}

func refCheckValue(t attrType, s string) error {
	switch t {
	case aStr:
		return nil
	case aStr255:
		return refLengthIn(s, 1, 255)
	case aStr0_255:
		return refLengthIn(s, 0, 255)
	case aStr3800:
		return refLengthIn(s, 1, 3800)
	case aStr0_3800:
		return refLengthIn(s, 0, 3800)
	case aLong:
		_, err := refParseLong(s)
		return err
	case aBool:
		switch strings.TrimSpace(s) {
		case "true", "false", "1", "0":
			return nil
		}
		return fmt.Errorf("not an xs:boolean (true, false, 1, 0)")
	case aURL:
		if err := refLengthIn(s, 6, 512); err != nil {
			return err
		}
		if !urlPattern.MatchString(s) {
			return fmt.Errorf("does not match the urlType pattern (http://, https://, td://, tds:// or testdirector:)")
		}
		return nil
	case aStatus:
		if !refStatuses[s] {
			return fmt.Errorf("status must be Passed, Failed, Skipped or Planned")
		}
		return nil
	case aFieldType:
		if !fieldTypes[s] {
			return fmt.Errorf("type must be Test_Level, Test_Type, Testing_Tool_Type or Framework")
		}
		return nil
	}
	return nil
}

// refParseLong parses an xs:long (whitespace collapsed, optional sign).
func refParseLong(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if !refLongPattern.MatchString(s) {
		return 0, fmt.Errorf("not an xs:long")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of the xs:long range")
	}
	return n, nil
}

// refTooLong is tooLong as it was (git show 8cf071b:sandbox/tasks.go), on the reference tree.
func refTooLong(n *refNode) string {
	check := func(what, v string) string {
		if len(v) <= MaxTextLength { // bytes >= UTF-16 units
			return ""
		}
		units := 0
		for _, r := range v {
			units++
			if r >= 0x10000 {
				units++
			}
		}
		if units <= MaxTextLength {
			return ""
		}
		return fmt.Sprintf("line %d: %s has %d characters; the XML parser reads at most %d (nothing of this payload was stored)", n.line, what, units, MaxTextLength)
	}
	names := make([]string, 0, len(n.attrs))
	for k := range n.attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if msg := check(fmt.Sprintf("<%s %s>", n.name, k), n.attrs[k]); msg != "" {
			return msg
		}
	}
	if msg := check(fmt.Sprintf("the text of <%s>", n.name), n.text); msg != "" {
		return msg
	}
	for _, k := range n.kids {
		if msg := refTooLong(k); msg != "" {
			return msg
		}
	}
	return ""
}
