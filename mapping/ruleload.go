package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/octane-import/octane-import/internal/glob"
	"github.com/octane-import/octane-import/internal/yamlnode"
	"github.com/octane-import/octane-import/report"
	"gopkg.in/yaml.v3"
)

// Octane's test field types (the XSD's enumeration) and CI build results.
var (
	testFieldTypes = []string{"Test_Level", "Test_Type", "Testing_Tool_Type", "Framework"}
	buildResults   = []string{"success", "failure", "unstable", "aborted", "unavailable"}
)

func (rl *ruleLoader) load(path string) {
	r := rl.rule
	before := len(rl.Problems)
	rl.Fields(rl.node, path, []string{"name", "target", "timezone", "test_naming", "match", "set"}, func(key string, k, v *yaml.Node) {
		p := yamlnode.Join(path, key)
		switch key {
		case "name":
			r.Name, _ = rl.Text(v, p)
		case "test_naming":
			if s, ok := rl.Text(v, p); ok && s != "" {
				if _, err := report.ParseNaming(s); err != nil {
					rl.Errorf(v, p, "%v", err)
				}
				r.TestNaming = s
			}
		case "timezone":
			r.Timezone, r.zone = rl.Zone(v, p)
		case "target":
			r.Target, _ = rl.Text(v, p)
			rl.tnode = v
		case "match":
			rl.match(v, p)
		case "set":
			rl.set(v, p)
		}
	})
	// A rule with mistakes is never taken for a catch-all: what it was
	// meant to match is unknown, and "can never match" would be noise.
	r.CatchAll = len(rl.Problems) == before && (r.path == nil || r.path.catchAll) && (r.re == nil || isCatchAllRegexp(r.Regexp)) &&
		len(r.manifest) == 0 && len(r.property) == 0 && len(r.env) == 0 && r.hasManifest == nil

	// Every capture a template names must come from the rule's pattern.
	caps := r.captureNames()
	for _, pt := range rl.pending {
		for _, name := range pt.t.captureRefs() {
			if caps[name] || (pt.t == r.set.runLink && slices.Contains(runRefs, name)) {
				continue
			}
			switch {
			case r.path == nil && r.re == nil:
				rl.Errorf(pt.node, pt.path, "{%s} is not defined: %s has no path pattern or regexp to capture it (manifest., property., env. and file. values need their prefix)",
					name, r.describe())
			case len(caps) == 0:
				rl.Errorf(pt.node, pt.path, "{%s} is not defined: the rule's pattern captures nothing", name)
			default:
				rl.Errorf(pt.node, pt.path, "{%s} is not defined: the rule's pattern captures %s", name, strings.Join(sortedKeys(caps), ", "))
			}
		}
	}
}

func (rl *ruleLoader) match(n *yaml.Node, path string) {
	r := rl.rule
	keys := []string{"path", "regexp", "manifest", "property", "env", "has_manifest"}
	rl.Fields(n, path, keys, func(key string, k, v *yaml.Node) {
		p := yamlnode.Join(path, key)
		switch key {
		case "path":
			s, ok := rl.Text(v, p)
			if !ok {
				return
			}
			pat, err := compilePattern(s)
			if err != nil {
				rl.Errorf(v, p, "bad pattern: %v", err)
				return
			}
			r.Path, r.path = s, pat
		case "regexp":
			s, ok := rl.Text(v, p)
			if !ok {
				return
			}
			re, err := regexp.Compile(s)
			if err != nil {
				rl.Errorf(v, p, "bad regular expression: %v", err)
				return
			}
			for _, name := range re.SubexpNames() {
				if name != "" && !glob.IsCaptureName(name) {
					rl.Errorf(v, p, "group name %q cannot be used in templates (letters, digits and _, not starting with a digit)", name)
				}
			}
			r.Regexp, r.re = s, re
		case "manifest", "property", "env":
			var conds []fieldCond
			for _, pr := range rl.Pairs(v, p) {
				name, val := pr.Key, pr.Value
				var w *wildcard
				switch {
				case yamlnode.IsNull(val):
					w = &wildcard{absent: true}
				case val.Kind == yaml.ScalarNode:
					w = compileWildcard(val.Value)
				default:
					rl.Errorf(val, yamlnode.Join(p, name), "a value pattern must be a single value (or ~ for absent), got %s", yamlnode.Describe(val))
					continue
				}
				conds = append(conds, fieldCond{key: name, w: w})
			}
			switch key {
			case "manifest":
				r.manifest = conds
			case "property":
				r.property = conds
			case "env":
				r.env = conds
			}
		case "has_manifest":
			if b, ok := rl.Bool(v, p); ok {
				r.hasManifest = &b
			}
		}
	})
}

// tmpl parses a template value and queues its capture check.
func (rl *ruleLoader) tmpl(v *yaml.Node, path string) *template {
	s, ok := rl.Text(v, path)
	if !ok || s == "" {
		return nil
	}
	t, err := parseTemplate(s)
	if err != nil {
		rl.Errorf(v, path, "%v", err)
		return nil
	}
	rl.pending = append(rl.pending, pendingTemplate{node: v, path: path, t: t})
	return t
}

// idTmpl is a template that must give an Octane id; a literal is checked now.
func (rl *ruleLoader) idTmpl(v *yaml.Node, path string) *template {
	t := rl.tmpl(v, path)
	if t != nil && t.isLiteral() {
		if _, err := parseID(t.src); err != nil {
			rl.Errorf(v, path, "%v", err)
			return nil
		}
	}
	return t
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an Octane id (a whole number > 0)", s)
	}
	return id, nil
}

func (rl *ruleLoader) set(n *yaml.Node, path string) {
	s := &rl.rule.set
	keys := []string{"server", "pipeline", "job", "job_name", "build", "build_name", "start", "result",
		"release", "release_id", "milestone", "environment", "test_fields", "product_areas", "backlog_items", "run_link"}
	var releaseNode, releaseIDNode *yaml.Node
	rl.Fields(n, path, keys, func(key string, k, v *yaml.Node) {
		p := yamlnode.Join(path, key)
		switch key {
		case "server":
			rl.Fields(v, p, []string{"instance_id", "name", "type", "url"}, func(key string, k, v *yaml.Node) {
				sp := yamlnode.Join(p, key)
				switch key {
				case "instance_id":
					s.serverInstanceID = rl.tmpl(v, sp)
				case "name":
					s.serverName = rl.tmpl(v, sp)
				case "type":
					s.serverType = rl.tmpl(v, sp)
				case "url":
					s.serverURL = rl.tmpl(v, sp)
				}
			})
		case "run_link":
			s.runLink = rl.tmpl(v, p)
		case "pipeline":
			s.pipeline = rl.tmpl(v, p)
		case "job":
			s.job = rl.tmpl(v, p)
		case "job_name":
			s.jobName = rl.tmpl(v, p)
		case "build":
			s.build = rl.tmpl(v, p)
		case "build_name":
			s.buildName = rl.tmpl(v, p)
		case "start":
			raw, ok := rl.Text(v, p)
			if !ok {
				return
			}
			switch raw {
			case "mtime", "suite":
				s.startMode = raw
			default:
				t := rl.tmpl(v, p)
				if t == nil {
					return
				}
				if t.isLiteral() {
					if _, err := parseStart(t.src); err != nil {
						rl.Errorf(v, p, "%v (or use mtime or suite)", err)
						return
					}
				}
				s.startMode, s.start = "template", t
			}
		case "result":
			raw, ok := rl.Text(v, p)
			if !ok {
				return
			}
			raw = strings.ToLower(strings.TrimSpace(raw))
			switch {
			case raw == "derive" || raw == "":
				s.result = ""
			case slices.Contains(buildResults, raw):
				s.result = raw
			default:
				rl.Errorf(v, p, "%q is not a result (derive, %s)", raw, strings.Join(buildResults, ", "))
			}
		case "release":
			releaseNode = k
			s.release = rl.tmpl(v, p)
		case "release_id":
			releaseIDNode = k
			s.releaseID = rl.idTmpl(v, p)
		case "milestone":
			s.milestone = rl.idTmpl(v, p)
		case "environment", "test_fields":
			var out []namedTemplate
			for _, pr := range rl.Pairs(v, p) {
				name := pr.Key
				np := yamlnode.Join(p, name)
				if key == "test_fields" && !slices.Contains(testFieldTypes, name) {
					rl.Errorf(pr.KeyNode, p, "%q is not an Octane test field type (%s)", name, strings.Join(testFieldTypes, ", "))
					continue
				}
				if t := rl.tmpl(pr.Value, np); t != nil {
					out = append(out, namedTemplate{key: name, t: t})
				}
			}
			if key == "environment" {
				s.environment = out
			} else {
				s.testFields = out
			}
		case "product_areas", "backlog_items":
			var out []*template
			for _, it := range rl.ListOrValue(v, p, "a list") {
				if t := rl.idTmpl(it.Node, it.Path); t != nil {
					out = append(out, t)
				}
			}
			if key == "product_areas" {
				s.productAreas = out
			} else {
				s.backlogItems = out
			}
		}
	})
	if releaseNode != nil && releaseIDNode != nil {
		rl.Errorf(releaseIDNode, path, "set either release (a name) or release_id, not both")
	}
}

// pendingTemplate is a template whose captures are checked once the rule's
// match is known (keys may come in any order).
type pendingTemplate struct {
	node *yaml.Node
	path string
	t    *template
}

type ruleLoader struct {
	*yamlnode.Checker
	rule    *Rule
	pending []pendingTemplate
	node    *yaml.Node
	tnode   *yaml.Node // the target value, for its position
}

// ParseRules reads the `rules:` list of a configuration file (n, the list's node) into c,
// which collects every problem with its line; targets are the file's target names (a rule
// naming another is a problem; a rule naming none goes to the first). It also finds what
// only the whole list shows: repeated names, and rules an earlier catch-all hides.
func ParseRules(c *yamlnode.Checker, n *yaml.Node, targets []string) Rules {
	if yamlnode.IsNull(n) {
		c.Errorf(n, "", "rules is empty: every report would be unmatched")
		return nil
	}
	var rules Rules
	var nodes [][2]*yaml.Node // each rule's node and its target value's node
	for i, it := range c.List(n, "rules", "a list") {
		rn := it.Node
		rl := &ruleLoader{Checker: c, rule: &Rule{Line: rn.Line, index: i + 1}, node: rn}
		rl.load(it.Path)
		rules = append(rules, rl.rule)
		nodes = append(nodes, [2]*yaml.Node{rn, rl.tnode})
	}
	checkRules(c, rules, nodes, targets)
	return rules
}

// checkRules finds what only the whole list shows: unknown targets and
// rules that an earlier catch-all rule hides.
func checkRules(c *yamlnode.Checker, rules Rules, nodes [][2]*yaml.Node, targets []string) {
	var catchAll *Rule
	names := map[string]int{}
	for i, r := range rules {
		rn, tn := nodes[i][0], nodes[i][1]
		if r.Name != "" {
			if first, dup := names[r.Name]; dup {
				c.Errorf(rn, yamlnode.Index("rules", i), "rule name %q is already used by the rule at line %d", r.Name, first)
			} else {
				names[r.Name] = r.Line
			}
		}
		if r.Target == "" {
			if len(targets) > 0 {
				r.Target = targets[0]
			}
		} else if !slices.Contains(targets, r.Target) && len(targets) > 0 {
			var known []string
			for _, t := range targets {
				if !slices.Contains(known, t) {
					known = append(known, t)
				}
			}
			c.Errorf(tn, yamlnode.Index("rules", i)+".target", "no target named %q (targets: %s)", r.Target, strings.Join(known, ", "))
		}
		if catchAll != nil {
			c.Errorf(rn, yamlnode.Index("rules", i), "%s can never match: %s at line %d matches every report before it",
				r.describe(), catchAll.describe(), catchAll.Line)
			continue
		}
		if r.CatchAll {
			catchAll = r
		}
	}
}
