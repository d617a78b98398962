package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/duration"
	"github.com/octane-import/octane-import/internal/glob"
	"github.com/octane-import/octane-import/internal/yamlnode"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/report"
	"gopkg.in/yaml.v3"
)

// loader walks the YAML node tree so that every problem carries the line
// and column of the node it is about, and so that all problems are found in
// one pass rather than stopping at the first.
type loader struct {
	yamlnode.Checker
	env      func(string) (string, bool)
	baseDir  string
	warnings []Problem
}

func (l *loader) warnAt(n *yaml.Node, path, format string, a ...any) {
	l.warnings = append(l.warnings, l.Problem(n, path, format, a...))
}

// durationVal reads a Go duration or whole days (30d).
func (l *loader) durationVal(n *yaml.Node, path string) (time.Duration, bool) {
	return l.Duration(n, path, duration.Accept{Days: true})
}

// expand resolves ${env:...} and ${file:...} in a value, reporting failures.
func (l *loader) expand(n *yaml.Node, path, s string) string {
	v, errs := expandRefs(s, l.env, l.baseDir)
	for _, e := range errs {
		l.Errorf(n, path, "%s", e.msg)
	}
	return v
}

func (l *loader) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.baseDir, p)
}

func (l *loader) load(data []byte) (cfg *File) {
	cfg = &File{}
	root := l.Read(data)
	if root == nil {
		if len(l.Problems) == 0 {
			l.ErrorAt(1, 1, "", "the file is empty: it needs at least one target and one rule")
		}
		return cfg
	}
	root = yamlnode.Resolve(root)
	if root.Kind != yaml.MappingNode {
		l.Errorf(root, "", "the file must be a mapping with targets, sources, settings and rules")
		return cfg
	}
	var rulesNode, rulesList, targetsNode *yaml.Node
	l.Fields(root, "", []string{"version", "targets", "sources", "settings", "rules"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			if s, _ := l.Text(v, key); s != "1" {
				l.Errorf(v, "", "version %q is not supported (this importer reads version 1)", s)
			}
		case "targets":
			targetsNode = k
			l.targets(cfg, v)
		case "sources":
			l.sources(cfg, v)
		case "settings":
			l.settings(cfg, v)
		case "rules":
			rulesNode, rulesList = k, v
		}
	})
	if rulesNode != nil {
		// The rules go last: they name the targets.
		names := make([]string, len(cfg.Targets))
		for i, t := range cfg.Targets {
			names[i] = t.Name
		}
		cfg.Rules = mapping.ParseRules(&l.Checker, rulesList, names)
	}
	if len(cfg.Targets) == 0 && targetsNode == nil {
		l.Errorf(root, "", "no targets: add a targets list with at least one Octane workspace")
	}
	if len(cfg.Rules) == 0 && rulesNode == nil && len(cfg.Targets) > 0 {
		// A file with only targets (and sources) gets the same rule as no file at all.
		l.warnAt(root, "", "no rules: the built-in default rule applies (the build is the report's folder, the job the folder above)")
		host, _ := os.Hostname()
		r := mapping.Default(host)[0]
		r.Target = cfg.Targets[0].Name
		cfg.Rules = mapping.Rules{r}
	}
	return cfg
}

var targetKeys = []string{"name", "url", "shared_space", "workspace", "client_id", "client_secret", "user", "password",
	"proxy", "no_proxy", "ca_file", "insecure", "compression", "client_type", "test_naming"}

func (l *loader) targets(cfg *File, n *yaml.Node) {
	if yamlnode.IsNull(n) {
		l.Errorf(n, "", "targets is empty: add at least one Octane workspace")
		return
	}
	seen := map[string]int{}
	for _, it := range l.List(n, "targets", "a list") {
		tn, path := it.Node, it.Path
		t := Target{Line: tn.Line}
		nodes := map[string]*yaml.Node{}
		l.Fields(tn, path, targetKeys, func(key string, k, v *yaml.Node) {
			nodes[key] = v
			p := yamlnode.Join(path, key)
			if key == "insecure" {
				t.Insecure, _ = l.Bool(v, p)
				return
			}
			raw, ok := l.Text(v, p)
			if !ok {
				return
			}
			if (key == "client_secret" || key == "password") && raw != "" && !strings.Contains(raw, "${") {
				l.warnAt(v, "", "%s is written inline: keep secrets out of the file with ${env:NAME} or ${file:PATH}", p)
			}
			// A reference that cannot be resolved now (a secret in an environment variable that
			// is only set where the importer connects) stops only the commands that connect.
			val, errs := expandRefs(raw, l.env, l.baseDir)
			for _, e := range errs {
				if !e.unresolved {
					l.Errorf(v, p, "%s", e.msg)
					continue
				}
				t.Unresolved = append(t.Unresolved, l.Problem(v, p, "%s", e.msg))
				l.warnAt(v, p, "%s (needed only to connect: scan, retry and watch)", e.msg)
			}
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
			case "compression":
				if val != "gzip" && val != "none" {
					l.Errorf(v, p, "%q is not a compression (gzip or none)", val)
				}
				t.Compression = val
			case "client_type":
				t.ClientType = val
			case "test_naming":
				if _, err := report.ParseNaming(val); err != nil {
					l.Errorf(v, p, "%v", err)
				}
				t.TestNaming = val
			}
		})
		for _, req := range []string{"name", "url", "shared_space", "workspace"} {
			if v := nodes[req]; yamlnode.IsNull(v) {
				l.Errorf(tn, path, "%s is required", req)
			}
		}
		if t.Name != "" {
			if first, dup := seen[t.Name]; dup {
				l.Errorf(nodes["name"], path, "target name %q is already used by the target at line %d", t.Name, first)
			} else {
				seen[t.Name] = tn.Line
			}
		}
		apiKey := nodes["client_id"] != nil || nodes["client_secret"] != nil
		login := nodes["user"] != nil || nodes["password"] != nil
		switch {
		case apiKey && login:
			l.Errorf(tn, path, "give either client_id/client_secret (API access) or user/password, not both")
		case apiKey && (nodes["client_id"] == nil || nodes["client_secret"] == nil):
			l.Errorf(tn, path, "client_id and client_secret go together")
		case login && (nodes["user"] == nil || nodes["password"] == nil):
			l.Errorf(tn, path, "user and password go together")
		case !apiKey && !login:
			l.Errorf(tn, path, "no credentials: set client_id and client_secret (API access), or user and password")
		}
		cfg.Targets = append(cfg.Targets, t)
	}
}

func (l *loader) sources(cfg *File, n *yaml.Node) {
	for _, it := range l.List(n, "sources", "a list") {
		sn, path := it.Node, it.Path
		s := importer.Source{Line: sn.Line}
		globs := func(v *yaml.Node, p string) []string {
			vals, nodes := l.Strings(v, p)
			for j, pat := range vals {
				if _, err := glob.Compile(pat); err != nil {
					l.Errorf(nodes[j], p, "bad glob: %v", err)
				}
			}
			return vals
		}
		l.Fields(sn, path, []string{"dir", "include", "exclude", "manifests", "max_age", "timezone"}, func(key string, k, v *yaml.Node) {
			p := yamlnode.Join(path, key)
			switch key {
			case "timezone":
				s.Timezone, s.Zone = l.Zone(v, p)
			case "dir":
				if raw, ok := l.Text(v, p); ok {
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
			l.Errorf(sn, path, "dir is required")
		}
		_ = s.Compile() // errors were reported above, with positions
		cfg.Sources = append(cfg.Sources, s)
	}
}

func (l *loader) settings(cfg *File, n *yaml.Node) {
	st := &cfg.Settings
	keys := []string{"state", "concurrency", "rate_limit", "max_runs_per_payload", "max_payload_bytes",
		"settle", "poll", "reconcile", "manifest_wait", "skip_errors", "build_reporting", "lease"}
	l.Fields(n, "settings", keys, func(key string, k, v *yaml.Node) {
		p := yamlnode.Join("settings", key)
		switch key {
		case "state":
			if raw, ok := l.Text(v, p); ok {
				// A path is relative to the file; a postgres:// URL is taken as it is.
				if st.State = l.expand(v, p, raw); !ledger.IsURL(st.State) {
					st.State = l.localPath(st.State)
				}
			}
		case "concurrency":
			st.Concurrency, _ = l.Int(v, p)
		case "rate_limit":
			st.RateLimit, _ = l.Float(v, p)
		case "max_runs_per_payload":
			st.MaxRunsPerPayload, _ = l.Int(v, p)
		case "max_payload_bytes":
			st.MaxPayloadBytes, _ = l.Int(v, p)
		case "settle":
			st.Settle, _ = l.durationVal(v, p)
		case "poll":
			st.Poll, _ = l.durationVal(v, p)
		case "reconcile":
			st.Reconcile, _ = l.durationVal(v, p)
		case "manifest_wait":
			st.ManifestWait, _ = l.durationVal(v, p)
		case "skip_errors":
			st.SkipErrors, _ = l.Bool(v, p)
		case "lease":
			if d, ok := l.durationVal(v, p); ok {
				if d < 3*time.Second {
					l.Errorf(v, p, "%s is too short for a lease: an instance renews its claims every third of it, so it must be at least 3s (default 30s)", d)
				}
				st.Lease = d
			}
		case "build_reporting":
			if raw, ok := l.Text(v, p); ok {
				if raw != "builds" && raw != "events" {
					l.Errorf(v, p, "%q is not a way to report builds (builds: PUT analytics/ci/builds, the documented API; events: CI events, as the Octane plugins do)", raw)
				}
				st.BuildReporting = raw
			}
		}
	})
}
