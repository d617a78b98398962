package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/octane-import/octane-import/internal/glob"
	"gopkg.in/yaml.v3"
)

// loader walks the YAML node tree so that every problem carries the line
// and column of the node it is about, and so that all problems are found in
// one pass rather than stopping at the first.
type loader struct {
	file     string
	env      func(string) (string, bool)
	baseDir  string
	problems []Problem
	warnings []Problem
	// ruleNodes holds, for each rule, its node and its target value's node.
	ruleNodes [][2]*yaml.Node
	// steps counts the mapping entries visited, against maxSteps.
	steps      int
	overBudget bool
}

// maxSteps bounds the mapping entries a load visits, aliases included.
const maxSteps = 200000

func (l *loader) problem(n *yaml.Node, msg string) Problem {
	p := Problem{File: l.file, Msg: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	return p
}

func (l *loader) errAt(n *yaml.Node, format string, a ...any) {
	l.problems = append(l.problems, l.problem(n, fmt.Sprintf(format, a...)))
}

func (l *loader) warnAt(n *yaml.Node, format string, a ...any) {
	l.warnings = append(l.warnings, l.problem(n, fmt.Sprintf(format, a...)))
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxErr turns a yaml.v3 error ("yaml: line 3: ...") into a problem.
func (l *loader) syntaxErr(err error) {
	msg := err.Error()
	p := Problem{File: l.file, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = "YAML: " + m[2]
	}
	l.problems = append(l.problems, p)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's key/value pairs, with YAML merge keys (<<)
// expanded and duplicate keys reported.
func (l *loader) pairs(n *yaml.Node, path string, depth int) []pair {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	// Merge keys over anchors can expand exponentially (a "billion laughs"
	// file); a budget on the pairs visited keeps the load linear.
	l.steps += len(n.Content)
	if l.steps > maxSteps {
		if !l.overBudget {
			l.overBudget = true
			l.errAt(n, "the file expands to too many keys through anchors and merge keys (more than %d)", maxSteps)
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errAt(n, "%s must be a mapping (key: value), got %s", orTop(path), kindName(n))
		return nil
	}
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 && depth < 16 {
			v = resolve(v)
			srcs := []*yaml.Node{v}
			if v != nil && v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				merged = append(merged, l.pairs(s, path, depth+1)...)
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	seen := map[string]*yaml.Node{}
	var out []pair
	for _, p := range own {
		if p.key.Kind != yaml.ScalarNode {
			l.errAt(p.key, "%s: keys must be plain words, got %s", orTop(path), kindName(p.key))
			continue
		}
		if first, dup := seen[p.key.Value]; dup {
			l.errAt(p.key, "%s repeated (first at line %d)", join(path, p.key.Value), first.Line)
			continue
		}
		seen[p.key.Value] = p.key
		out = append(out, p)
	}
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; !dup {
			seen[p.key.Value] = p.key
			out = append(out, p)
		}
	}
	return out
}

func orTop(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// fields calls fn for each known key of the mapping n and reports the others.
func (l *loader) fields(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) {
	for _, p := range l.pairs(n, path, 0) {
		key := p.key.Value
		if !contains(known, key) {
			l.errAt(p.key, "unknown key %s%s", join(path, key), suggest(key, known))
			continue
		}
		fn(key, p.key, resolve(p.val))
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

// suggest proposes the closest known key for a misspelt one.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (known: " + strings.Join(known, ", ") + ")"
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str reads a single value. A null gives "".
func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		l.errAt(n, "%s must be a single value, got %s", path, kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList reads a list of values; a single value counts as a list of one.
func (l *loader) strList(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []*yaml.Node{n}
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "%s must be a list, got %s", path, kindName(n))
		return nil, nil
	}
	var vals []string
	var nodes []*yaml.Node
	for i, e := range n.Content {
		e = resolve(e)
		if e == nil || e.Kind != yaml.ScalarNode {
			l.errAt(n, "%s[%d] must be a single value", path, i)
			continue
		}
		vals = append(vals, e.Value)
		nodes = append(nodes, e)
	}
	return vals, nodes
}

func (l *loader) intVal(n *yaml.Node, path string) (int, bool) {
	s, ok := l.str(n, path)
	if !ok || s == "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		l.errAt(n, "%s must be a whole number ≥ 0, got %q", path, s)
		return 0, false
	}
	return v, true
}

func (l *loader) floatVal(n *yaml.Node, path string) (float64, bool) {
	s, ok := l.str(n, path)
	if !ok || s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v != v {
		l.errAt(n, "%s must be a number ≥ 0, got %q", path, s)
		return 0, false
	}
	return v, true
}

func (l *loader) boolVal(n *yaml.Node, path string) (bool, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.errAt(n, "%s must be true or false, got %q", path, s)
	return false, false
}

func (l *loader) durationVal(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := l.str(n, path)
	if !ok || s == "" {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		l.errAt(n, "%s: %v", path, err)
		return 0, false
	}
	return d, true
}

// timezone reads an IANA zone name (Europe/Berlin, UTC) or "local".
func (l *loader) timezone(n *yaml.Node, path string) (string, *time.Location) {
	s, ok := l.str(n, path)
	if !ok || s == "" {
		return "", nil
	}
	if strings.EqualFold(s, "local") {
		return "local", time.Local
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		l.errAt(n, "%s: %q is not a time zone (an IANA name such as Europe/Berlin or UTC, or local)", path, s)
		return "", nil
	}
	return s, loc
}

// parseDuration accepts Go durations (90s, 1h30m) and whole days (30d).
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 365*100 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: 90s, 5m, 1h30m, 30d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// expand resolves ${env:...} and ${file:...} in a value, reporting failures.
func (l *loader) expand(n *yaml.Node, path, s string) string {
	v, errs := expandRefs(s, l.env, l.baseDir)
	for _, e := range errs {
		l.errAt(n, "%s: %s", path, e)
	}
	return v
}

func (l *loader) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.baseDir, p)
}

func (l *loader) load(data []byte) (cfg *Config) {
	cfg = &Config{}
	defer func() {
		// yaml.v3 is frozen and has panicked on hostile input before; a
		// configuration file must never take the program down.
		if r := recover(); r != nil {
			l.problems = append(l.problems, Problem{File: l.file, Msg: fmt.Sprintf("YAML parser failed: %v", r)})
		}
	}()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.problems = append(l.problems, Problem{File: l.file, Line: 1, Column: 1,
				Msg: "the file is empty: it needs at least one target and one rule"})
			return cfg
		}
		l.syntaxErr(err)
		return cfg
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errAt(&extra, "a second YAML document (---) is not allowed")
	} else if !errors.Is(err, io.EOF) {
		l.syntaxErr(err)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = resolve(doc.Content[0])
	}
	if isNull(root) || root.Kind != yaml.MappingNode {
		l.errAt(root, "the file must be a mapping with targets, sources, settings and rules")
		return cfg
	}
	var rulesNode, targetsNode *yaml.Node
	l.fields(root, "", []string{"version", "targets", "sources", "settings", "rules"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			if s, _ := l.str(v, key); s != "1" {
				l.errAt(v, "version %q is not supported (this importer reads version 1)", s)
			}
		case "targets":
			targetsNode = k
			l.targets(cfg, v)
		case "sources":
			l.sources(cfg, v)
		case "settings":
			l.settings(cfg, v)
		case "rules":
			rulesNode = k
			l.rules(cfg, v)
		}
	})
	if len(cfg.Targets) == 0 && targetsNode == nil {
		l.errAt(root, "no targets: add a targets list with at least one Octane workspace")
	}
	if len(cfg.Rules) == 0 && rulesNode == nil && len(cfg.Targets) > 0 {
		// A file with only targets (and sources) gets the same rule as no file at all.
		l.warnAt(root, "no rules: the built-in default rule applies (the build is the report's folder, the job the folder above)")
		host, _ := os.Hostname()
		r := Default(host).Rules[0]
		r.Target = cfg.Targets[0].Name
		cfg.Rules = []*Rule{r}
	}
	l.checkRules(cfg)
	return cfg
}

var targetKeys = []string{"name", "url", "shared_space", "workspace", "client_id", "client_secret", "user", "password",
	"proxy", "no_proxy", "ca_file", "insecure"}

func (l *loader) targets(cfg *Config, n *yaml.Node) {
	if isNull(n) {
		l.errAt(n, "targets is empty: add at least one Octane workspace")
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "targets must be a list, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i, tn := range n.Content {
		tn = resolve(tn)
		path := fmt.Sprintf("targets[%d]", i)
		t := Target{Line: tn.Line}
		nodes := map[string]*yaml.Node{}
		l.fields(tn, path, targetKeys, func(key string, k, v *yaml.Node) {
			nodes[key] = v
			p := join(path, key)
			if key == "insecure" {
				t.Insecure, _ = l.boolVal(v, p)
				return
			}
			raw, ok := l.str(v, p)
			if !ok {
				return
			}
			if (key == "client_secret" || key == "password") && raw != "" && !strings.Contains(raw, "${") {
				l.warnAt(v, "%s is written inline: keep secrets out of the file with ${env:NAME} or ${file:PATH}", p)
			}
			val := l.expand(v, p, raw)
			switch key {
			case "name":
				t.Name = raw
			case "url":
				t.URL = strings.TrimRight(val, "/")
			case "shared_space":
				t.SharedSpace = val
			case "workspace":
				t.Workspace = val
			case "client_id":
				t.ClientID = val
			case "client_secret":
				t.ClientSecret = val
			case "user":
				t.User = val
			case "password":
				t.Password = val
			case "proxy":
				t.Proxy = val
			case "no_proxy":
				t.NoProxy = val
			case "ca_file":
				t.CAFile = l.localPath(val)
			}
		})
		for _, req := range []string{"name", "url", "shared_space", "workspace"} {
			if v := nodes[req]; v == nil || isNull(v) {
				l.errAt(tn, "%s: %s is required", path, req)
			}
		}
		if t.Name != "" {
			if first, dup := seen[t.Name]; dup {
				l.errAt(nodes["name"], "%s: target name %q is already used by the target at line %d", path, t.Name, first)
			} else {
				seen[t.Name] = tn.Line
			}
		}
		apiKey := nodes["client_id"] != nil || nodes["client_secret"] != nil
		login := nodes["user"] != nil || nodes["password"] != nil
		switch {
		case apiKey && login:
			l.errAt(tn, "%s: give either client_id/client_secret (API access) or user/password, not both", path)
		case apiKey && (nodes["client_id"] == nil || nodes["client_secret"] == nil):
			l.errAt(tn, "%s: client_id and client_secret go together", path)
		case login && (nodes["user"] == nil || nodes["password"] == nil):
			l.errAt(tn, "%s: user and password go together", path)
		case !apiKey && !login:
			l.errAt(tn, "%s: no credentials: set client_id and client_secret (API access), or user and password", path)
		}
		cfg.Targets = append(cfg.Targets, t)
	}
}

func (l *loader) sources(cfg *Config, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "sources must be a list, got %s", kindName(n))
		return
	}
	for i, sn := range n.Content {
		sn = resolve(sn)
		path := fmt.Sprintf("sources[%d]", i)
		s := Source{Line: sn.Line}
		globs := func(v *yaml.Node, p string) []string {
			vals, nodes := l.strList(v, p)
			for j, pat := range vals {
				if _, err := glob.Compile(pat); err != nil {
					l.errAt(nodes[j], "%s: bad glob: %v", p, err)
				}
			}
			return vals
		}
		l.fields(sn, path, []string{"dir", "include", "exclude", "manifests", "max_age", "timezone"}, func(key string, k, v *yaml.Node) {
			p := join(path, key)
			switch key {
			case "timezone":
				s.Timezone, s.Zone = l.timezone(v, p)
			case "dir":
				if raw, ok := l.str(v, p); ok {
					s.Dir = filepath.Clean(l.localPath(l.expand(v, p, raw)))
				}
			case "include":
				s.Include = globs(v, p)
			case "exclude":
				s.Exclude = globs(v, p)
			case "manifests":
				s.Manifests = globs(v, p)
			case "max_age":
				s.MaxAge, _ = l.durationVal(v, p)
			}
		})
		if s.Dir == "" {
			l.errAt(sn, "%s: dir is required", path)
		}
		_ = s.Compile() // errors were reported above, with positions
		cfg.Sources = append(cfg.Sources, s)
	}
}

func (l *loader) settings(cfg *Config, n *yaml.Node) {
	st := &cfg.Settings
	keys := []string{"state", "concurrency", "rate_limit", "max_runs_per_payload", "max_payload_bytes",
		"settle", "poll", "reconcile", "manifest_wait", "skip_errors"}
	l.fields(n, "settings", keys, func(key string, k, v *yaml.Node) {
		p := join("settings", key)
		switch key {
		case "state":
			if raw, ok := l.str(v, p); ok {
				st.State = l.localPath(l.expand(v, p, raw))
			}
		case "concurrency":
			st.Concurrency, _ = l.intVal(v, p)
		case "rate_limit":
			st.RateLimit, _ = l.floatVal(v, p)
		case "max_runs_per_payload":
			st.MaxRunsPerPayload, _ = l.intVal(v, p)
		case "max_payload_bytes":
			st.MaxPayloadBytes, _ = l.intVal(v, p)
		case "settle":
			st.Settle, _ = l.durationVal(v, p)
		case "poll":
			st.Poll, _ = l.durationVal(v, p)
		case "reconcile":
			st.Reconcile, _ = l.durationVal(v, p)
		case "manifest_wait":
			st.ManifestWait, _ = l.durationVal(v, p)
		case "skip_errors":
			st.SkipErrors, _ = l.boolVal(v, p)
		}
	})
}

// pendingTemplate is a template whose captures are checked once the rule's
// match is known (keys may come in any order).
type pendingTemplate struct {
	node *yaml.Node
	path string
	t    *template
}

type ruleLoader struct {
	*loader
	rule    *Rule
	pending []pendingTemplate
	node    *yaml.Node
	tnode   *yaml.Node // the target value, for its position
}

func (l *loader) rules(cfg *Config, n *yaml.Node) {
	if isNull(n) {
		l.errAt(n, "rules is empty: every report would be unmatched")
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "rules must be a list, got %s", kindName(n))
		return
	}
	for i, rn := range n.Content {
		rn = resolve(rn)
		rl := &ruleLoader{loader: l, rule: &Rule{Line: rn.Line, index: i + 1}, node: rn}
		rl.load(fmt.Sprintf("rules[%d]", i))
		cfg.Rules = append(cfg.Rules, rl.rule)
		l.ruleNodes = append(l.ruleNodes, [2]*yaml.Node{rn, rl.tnode})
	}
}
