package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
)

var testEnv = testkit.LookupEnv(map[string]string{"OCTANE_CLIENT_ID": "id-123", "OCTANE_CLIENT_SECRET": "s3cret-value"})

// minimal is a valid file; the error cases below append to or edit it.
const minimal = `targets:
  - name: prod
    url: https://octane.example.com/
    shared_space: "1001"
    workspace: "1002"
    client_id: ${env:OCTANE_CLIENT_ID}
    client_secret: ${env:OCTANE_CLIENT_SECRET}
rules:
  - name: all
    set:
      server: { instance_id: share }
      job: "{file.parent}"
      build: "{file.stem}"
`

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.yaml", testEnv)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return cfg
}

func TestParseMinimal(t *testing.T) {
	cfg := mustParse(t, minimal)
	if len(cfg.Targets) != 1 || len(cfg.Rules) != 1 {
		t.Fatalf("targets %d rules %d", len(cfg.Targets), len(cfg.Rules))
	}
	tg, ok := cfg.Target("prod")
	if !ok {
		t.Fatal("Target(prod) not found")
	}
	if tg.URL != "https://octane.example.com" || tg.ClientID != "id-123" || tg.ClientSecret != "s3cret-value" || tg.Line != 2 {
		t.Errorf("target = %#v / secret resolved %v", tg, tg.ClientSecret == "s3cret-value")
	}
	if _, ok := cfg.Target("nope"); ok {
		t.Error("Target(nope) found")
	}
	r := cfg.Rules[0]
	if r.Target != "prod" || r.Line != 9 || !r.CatchAll || r.Name != "all" {
		t.Errorf("rule = %+v", r)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}

func TestParseFull(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
targets:
  - name: prod
    url: https://${env:OCTANE_HOST}/
    shared_space: "1001"
    workspace: "1002"
    user: importer
    password: ${file:secret.txt}
    proxy: http://proxy:3128
    no_proxy: localhost
    ca_file: certs/ca.pem
    insecure: true
sources:
  - dir: drops
    include: ["**/*.xml", "**/*.XML"]
    exclude: ["**/tmp/**"]
    manifests: ["**/build.yaml"]
    max_age: 30d
  - dir: /abs/other
settings:
  state: state.db
  concurrency: 8
  rate_limit: 12.5
  max_runs_per_payload: 5000
  max_payload_bytes: 10000000
  settle: 3s
  poll: 1m
  reconcile: 1h
  manifest_wait: 90s
  skip_errors: true
  lease: 12s
rules:
  - match: { path: "{job}/{build}/*.xml" }
    set:
      server: { instance_id: share, name: Share, type: file, url: "https://share/" }
      job: "{job}"
      build: "{build}"
`
	cfgPath := filepath.Join(dir, "octane-import.yaml")
	cfg, err := Parse([]byte(src), cfgPath, testkit.LookupEnv(map[string]string{"OCTANE_HOST": "octane.local"}))
	if err != nil {
		t.Fatal(err)
	}
	tg := cfg.Targets[0]
	want := Target{Name: "prod", URL: "https://octane.local", SharedSpace: "1001", Workspace: "1002", User: "importer",
		Password: "from-file", Proxy: "http://proxy:3128", NoProxy: "localhost", CAFile: filepath.Join(dir, "certs/ca.pem"),
		Insecure: true, Line: 3}
	if !reflect.DeepEqual(tg, want) {
		t.Errorf("target:\n got %s\nwant %s (password ok: %v)", tg, want, tg.Password == want.Password)
	}
	if s := cfg.Sources[0]; s.Dir != filepath.Join(dir, "drops") || s.MaxAge != 30*24*time.Hour || len(s.Include) != 2 ||
		!s.IsReport("a/b.XML") || s.IsReport("a/tmp/b.xml") || !s.IsManifest("x/build.yaml") || s.IsManifest("x/octane-build.yaml") {
		t.Errorf("source 0 = %+v", s)
	}
	if s := cfg.Sources[1]; s.Dir != "/abs/other" || !s.IsReport("x.xml") || !s.IsManifest("a/octane-build.json") {
		t.Errorf("source 1 = %+v", s)
	}
	wantSettings := Settings{State: filepath.Join(dir, "state.db"), Concurrency: 8, RateLimit: 12.5, MaxRunsPerPayload: 5000,
		MaxPayloadBytes: 10000000, Settle: 3 * time.Second, Poll: time.Minute, Reconcile: time.Hour,
		ManifestWait: 90 * time.Second, SkipErrors: true, Lease: 12 * time.Second}
	if cfg.Settings != wantSettings {
		t.Errorf("settings = %+v\nwant %+v", cfg.Settings, wantSettings)
	}
	if cfg.Rules[0].Name != "" || cfg.Rules[0].CatchAll || cfg.Rules[0].Path != "{job}/{build}/*.xml" {
		t.Errorf("rule = %+v", cfg.Rules[0])
	}
	if cfg.Path != cfgPath {
		t.Errorf("Path = %q", cfg.Path)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "octane-import.yaml")
	t.Setenv("OCTANE_CLIENT_ID", "x")
	t.Setenv("OCTANE_CLIENT_SECRET", "y")
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Targets[0].ClientSecret != "y" {
		t.Error("Load did not read the process environment")
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestParseErrors covers each load error on its own: the message and its
// position.
func TestParseErrors(t *testing.T) {
	rule := func(body string) string { return minimal + body }
	tests := []struct {
		name string
		src  string
		want string // "line:col: message fragment"
	}{
		{"empty file", "", "1:1: the file is empty"},
		{"syntax", "targets: [\n  - a\n", "test.yaml:2: invalid YAML: did not find expected node content"},
		{"not a mapping", "- a\n- b\n", "1:1: the file must be a mapping"},
		{"second document", minimal + "---\nx: 1\n", "a second YAML document"},
		{"unknown top key", minimal + "rulez: []\n", "14:1: rulez: unknown key (did you mean rules?)"},
		{"unknown target key", strings.Replace(minimal, "    workspace:", "    wrkspace:", 1), "5:5: targets[0].wrkspace: unknown key (did you mean workspace?)"},
		{"unknown match key", rule("  - match: { pth: x }\n"), "14:14: rules[1].match.pth: unknown key (did you mean path?)"},
		{"unknown set key", rule("  - match: { path: x }\n    set: { pipelin: x }\n"), "15:12: rules[1].set.pipelin: unknown key (did you mean pipeline?)"},
		{"unknown server key", rule("  - match: { path: x }\n    set: { server: { id: x } }\n"), "15:22: rules[1].set.server.id: unknown key; known keys: instance_id, name, type, url"},
		{"duplicate key", rule("  - match: { path: x }\n    set: { job: a, job: b }\n"), "15:20: rules[1].set.job: duplicate key (first at line 15)"},
		{"version", "version: 2\n" + minimal, "1:10: version \"2\" is not supported"},
		{"bad glob", minimal + "sources:\n  - dir: /d\n    include: [\"[abc\"]\n", "16:15: sources[0].include: bad glob"},
		{"source without dir", minimal + "sources:\n  - include: x\n", "15:5: sources[0]: dir is required"},
		{"bad max_age", minimal + "sources:\n  - dir: /d\n    max_age: forever\n", "16:14: sources[0].max_age: \"forever\" is not a duration"},
		{"negative duration", minimal + "settings:\n  poll: -1s\n", "15:9: settings.poll: duration must not be negative, got -1s"},
		{"bad int", minimal + "settings:\n  concurrency: many\n", "15:16: settings.concurrency: expected a whole number ≥ 0, got the string \"many\""},
		{"bad bool", minimal + "settings:\n  skip_errors: yes\n", "15:16: settings.skip_errors: expected true or false, got the string \"yes\""},
		{"short lease", minimal + "settings:\n  lease: 1s\n", "15:10: settings.lease: 1s is too short for a lease"},
		{"bad float", minimal + "settings:\n  rate_limit: fast\n", "15:15: settings.rate_limit: expected a number ≥ 0, got the string \"fast\""},
		{"unknown settings key", minimal + "settings:\n  workers: 3\n", "15:3: settings.workers: unknown key; known keys: state, concurrency"},
		{"bad pattern", rule("  - match: { path: \"{job\" }\n"), "14:20: rules[1].match.path: bad pattern: pattern \"{job\": unclosed '{' at offset 0"},
		{"bad regexp", rule("  - match: { regexp: \"(?P<job>[a-\" }\n"), "14:22: rules[1].match.regexp: bad regular expression"},
		{"undefined capture", rule("  - match: { path: \"{team}/{job}/*.xml\" }\n    set: { build: \"{bild}\" }\n"),
			"15:19: rules[1].set.build: {bild} is not defined: the rule's pattern captures job, team"},
		{"capture without pattern", rule("  - match: { property: { a: b } }\n    set: { build: \"{build}\" }\n"),
			"15:19: rules[1].set.build: {build} is not defined: rule 2 has no path pattern or regexp"},
		{"regexp captures count", rule("  - match: { regexp: \"^(?P<job>[^/]+)/\" }\n    set: { build: \"{job}-{n}\" }\n"),
			"15:19: rules[1].set.build: {n} is not defined: the rule's pattern captures job"},
		{"unknown function", rule("  - match: { path: \"{job}/*\" }\n    set: { job: \"{job|shout}\" }\n"), "15:17: rules[1].set.job: template \"{job|shout}\": unknown function \"shout\""},
		{"bad template", rule("  - match: { path: \"{job}/*\" }\n    set: { job: \"{job\" }\n"), "15:17: rules[1].set.job: template \"{job\": unclosed {"},
		{"bad file value", rule("  - match: { path: x }\n    set: { job: \"{file.size}\" }\n"), "is not a file value"},
		{"shadowed rule", rule("  - match: { path: x }\n"), "14:5: rules[1]: rule 2 can never match: rule \"all\" at line 9 matches every report before it"},
		{"shadowed by **", strings.Replace(minimal, "  - name: all\n", "  - name: all\n    match: { path: \"**\" }\n", 1) + "  - name: late\n    match: { path: x }\n",
			"15:5: rules[1]: rule \"late\" can never match: rule \"all\" at line 9"},
		{"shadowed by .*", strings.Replace(minimal, "  - name: all\n", "  - name: all\n    match: { regexp: \"^.*$\" }\n", 1) + "  - name: late\n",
			"15:5: rules[1]: rule \"late\" can never match"},
		{"unknown target", strings.Replace(minimal, "  - name: all\n", "  - name: all\n    target: prd\n", 1), "10:13: rules[0].target: no target named \"prd\" (targets: prod)"},
		{"duplicate target", strings.Replace(minimal, "rules:", `  - name: prod
    url: https://b
    shared_space: "1"
    workspace: "2"
    client_id: a
    client_secret: ${env:OCTANE_CLIENT_SECRET}
rules:`, 1), "8:11: targets[1]: target name \"prod\" is already used by the target at line 2"},
		{"duplicate rule name", rule("  - name: all\n"), "14:5: rules[1]: rule name \"all\" is already used"},
		{"unknown reference", strings.Replace(minimal, "${env:OCTANE_CLIENT_SECRET}", "${OCTANE_CLIENT_SECRET}", 1), "unknown reference ${OCTANE_CLIENT_SECRET}"},
		{"missing url", strings.Replace(minimal, "    url: https://octane.example.com/\n", "", 1), "2:5: targets[0]: url is required"},
		{"no credentials", strings.Replace(strings.Replace(minimal, "    client_id: ${env:OCTANE_CLIENT_ID}\n", "", 1), "    client_secret: ${env:OCTANE_CLIENT_SECRET}\n", "", 1), "2:5: targets[0]: no credentials"},
		{"half credentials", strings.Replace(minimal, "    client_id: ${env:OCTANE_CLIENT_ID}\n", "", 1), "client_id and client_secret go together"},
		{"both credentials", strings.Replace(minimal, "rules:", "    user: u\n    password: ${env:OCTANE_CLIENT_SECRET}\nrules:", 1), "either client_id/client_secret"},
		{"no targets", "rules:\n  - set: { job: a, build: b }\n", "no targets"},
		{"targets not a list", "targets: prod\n" + minimal[strings.Index(minimal, "rules:"):], "1:10: targets: expected a list, got the string \"prod\""},
		{"bad result", rule("  - match: { path: x }\n    set: { result: green }\n"), "15:20: rules[1].set.result: \"green\" is not a result"},
		{"bad start literal", rule("  - match: { path: x }\n    set: { start: yesterday }\n"), "15:19: rules[1].set.start: start \"yesterday\" is neither RFC 3339"},
		{"bad release id", rule("  - match: { path: x }\n    set: { release_id: R1 }\n"), "15:24: rules[1].set.release_id: \"R1\" is not an Octane id"},
		{"release and id", rule("  - match: { path: x }\n    set: { release: a, release_id: 3 }\n"), "rules[1].set: set either release (a name) or release_id, not both"},
		{"bad milestone", rule("  - match: { path: x }\n    set: { milestone: -4 }\n"), "rules[1].set.milestone: \"-4\" is not an Octane id"},
		{"bad product area", rule("  - match: { path: x }\n    set: { product_areas: [1, x2] }\n"), "15:31: rules[1].set.product_areas[1]: \"x2\" is not an Octane id"},
		{"bad test field", rule("  - match: { path: x }\n    set: { test_fields: { Level: Unit } }\n"), "15:27: rules[1].set.test_fields: \"Level\" is not an Octane test field type"},
		{"match value not scalar", rule("  - match: { manifest: { job: [a] } }\n"), "14:31: rules[1].match.manifest.job: a value pattern must be a single value"},
		{"has_manifest not bool", rule("  - match: { has_manifest: maybe }\n"), "14:28: rules[1].match.has_manifest: expected true or false"},
		{"set not mapping", rule("  - set: [a]\n"), "14:10: rules[1].set: expected a mapping, got a list"},
		{"job as list", rule("  - match: { path: x }\n    set: { job: [a] }\n"), "15:17: rules[1].set.job: expected a single value, got a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml", testEnv)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v (%T), want *LoadError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("errors:\n%v\nwant one containing %q", err, tc.want)
			}
			for _, p := range le.Problems {
				if p.File != "test.yaml" {
					t.Errorf("problem without the file name: %+v", p)
				}
			}
		})
	}
}

// TestParseManyMistakes checks that every problem is reported at once, in
// file order, against a golden file.
func TestParseManyMistakes(t *testing.T) {
	src, err := os.ReadFile("testdata/mistakes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(src, "mistakes.yaml", testEnv)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *LoadError", err)
	}
	if len(le.Problems) < 12 {
		t.Errorf("only %d problems found", len(le.Problems))
	}
	testkit.Golden(t, filepath.Join("testdata", "mistakes.golden"), err.Error()+"\n")
}

func TestInlineSecretWarning(t *testing.T) {
	src := strings.Replace(minimal, "${env:OCTANE_CLIENT_SECRET}", "hunter2", 1)
	cfg := mustParse(t, src)
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "test.yaml:7:20: targets[0].client_secret is written inline") {
		t.Fatalf("warnings = %v", cfg.Warnings)
	}
	if strings.Contains(cfg.Warnings[0].String(), "hunter2") {
		t.Error("the warning prints the secret")
	}
}

func TestSecretFileTrimsOneNewline(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"abc\n": "abc", "abc\r\n": "abc", "abc": "abc", "abc\n\n": "abc\n", " abc ": " abc "} {
		p := filepath.Join(dir, "s")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, errs := expandRefs("${file:s}", testEnv, dir)
		if len(errs) > 0 || got != want {
			t.Errorf("%q: got %q, %v", content, got, errs)
		}
	}
	if got, errs := expandRefs("a$${env:X}b", testEnv, dir); got != "a${env:X}b" || errs != nil {
		t.Errorf("escape: %q %v", got, errs)
	}
	for _, bad := range []string{"${file:/dev/zero}", "${file:" + dir + "}"} {
		if _, errs := expandRefs(bad, testEnv, dir); len(errs) != 1 || !strings.Contains(errs[0].msg, "not a regular file") {
			t.Errorf("%s: %v", bad, errs)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs := expandRefs("${file:big}", testEnv, dir); len(errs) != 1 || !strings.Contains(errs[0].msg, "not a secret") {
		t.Errorf("big file: %v", errs)
	}
	if _, errs := expandRefs("${env:", testEnv, dir); len(errs) != 1 {
		t.Errorf("unclosed: %v", errs)
	}
}

func TestTargetNeverPrintsSecrets(t *testing.T) {
	tg := Target{Name: "prod", URL: "https://svc:TOPSECRET4@o", ClientID: "cid", ClientSecret: "TOPSECRET1", User: "u", Password: "TOPSECRET2",
		Proxy: "http://pu:TOPSECRET3@proxy:3128"}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("target", "t", tg)
	js, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, _ := json.Marshal(&File{Targets: []Target{tg}})
	outputs := map[string]string{
		"String": tg.String(),
		"%v":     fmt.Sprintf("%v", tg),
		"%+v":    fmt.Sprintf("%+v", tg),
		"%#v":    fmt.Sprintf("%#v", tg),
		"%s ptr": fmt.Sprint(&tg),
		"config": fmt.Sprintf("%+v", File{Targets: []Target{tg}}),
		"slog":   logBuf.String(),
		"json":   string(js),
		"cfg":    string(cfgJSON),
	}
	for name, out := range outputs {
		if strings.Contains(out, "TOPSECRET") {
			t.Errorf("%s leaks a secret: %s", name, out)
		}
		if !strings.Contains(out, "prod") {
			t.Errorf("%s lost the name: %s", name, out)
		}
	}
	if !strings.Contains(outputs["json"], `"client_secret":"[redacted]"`) || !strings.Contains(outputs["String"], "password=[redacted]") {
		t.Errorf("redaction markers missing: %s / %s", outputs["json"], outputs["String"])
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Column: 7, Msg: "m"}, "a.yaml:3:7: m"},
		{Problem{File: "a.yaml", Line: 3, Msg: "m"}, "a.yaml:3: m"},
		{Problem{File: "a.yaml", Line: 3, Column: 7, Path: "rules[0].set", Msg: "m"}, "a.yaml:3:7: rules[0].set: m"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
	// A configuration given without a path is named <config>.
	if _, err := Parse([]byte("rulez: []\n"), "", testEnv); err == nil || !strings.HasPrefix(err.Error(), "<config>:1:1: rulez: unknown key") {
		t.Errorf("unnamed configuration: %v", err)
	}
}

func TestMergeKeyBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {k: v, j: w}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [*a%d, *a%d, *a%d]}\n", i, i, i-1, i-1, i-1)
	}
	b.WriteString("settings: *a30\n")
	done := make(chan error, 1)
	go func() {
		_, err := Parse([]byte(b.String()), "bomb.yaml", testEnv)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "too many keys") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Parse did not finish on a merge-key bomb")
	}
}

func TestMergeKeysAndAnchors(t *testing.T) {
	src := minimal[:strings.Index(minimal, "rules:")] + `rules:
  - name: a
    match: { path: "{job}/{build}/*.xml", property: { branch: "release/*" } }
    set:
      <<: &common
        server: { instance_id: share }
        job: "{job}"
        build: "{build}"
      release: "{property.branch|trimprefix:release/}"
  - name: b
    match: { path: "{job}/{build}/*.xml" }
    set: *common
`
	cfg := mustParse(t, src)
	d, err := cfg.Rules.Decide(mapping.Input{Path: "/r/api/7/x.xml", Root: "/r", Report: mapping.ReportFacts{Properties: map[string]string{"branch": "release/2026.1"}}})
	if err != nil || d.Rule != "a" || d.Job != "api" || d.Build != "7" || d.Release != "2026.1" {
		t.Fatalf("rule a: %+v %v", d, err)
	}
	d, err = cfg.Rules.Decide(mapping.Input{Path: "/r/api/8/x.xml", Root: "/r"})
	if err != nil || d.Rule != "b" || d.Build != "8" || d.Release != "" {
		t.Fatalf("rule b: %+v %v", d, err)
	}
}

// TestExampleFile loads docs/examples/octane-import.yaml, so the example in
// the documentation always loads.
func TestExampleFile(t *testing.T) {
	cfg := loadExample(t)
	if len(cfg.Targets) != 2 || len(cfg.Rules) != 4 || len(cfg.Sources) != 1 {
		t.Fatalf("example: %d targets, %d rules, %d sources", len(cfg.Targets), len(cfg.Rules), len(cfg.Sources))
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("the example has warnings: %v", cfg.Warnings)
	}
	if cfg.Targets[1].ClientSecret != "staging-secret" {
		t.Errorf("staging secret not read from its file")
	}
}

// loadExample parses the documented example, with its secret file moved
// into a temporary directory and the environment it names.
func loadExample(t *testing.T) *File {
	t.Helper()
	src, err := os.ReadFile("../docs/examples/octane-import.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "octane-staging-secret"), []byte("staging-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src = bytes.ReplaceAll(src, []byte("/run/secrets/"), []byte(filepath.ToSlash(dir)+"/"))
	cfg, err := Parse(src, "octane-import.yaml", testEnv)
	if err != nil {
		t.Fatalf("example:\n%v", err)
	}
	return cfg
}

func TestNoRulesMeansTheDefaultRule(t *testing.T) {
	cfg, err := Parse([]byte(strings.Split(minimal, "rules:")[0]), "octane-import.yaml", func(string) (string, bool) { return "x", true })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 1 || !cfg.Rules[0].CatchAll || cfg.Rules[0].Target != cfg.Targets[0].Name {
		t.Fatalf("rules = %+v", cfg.Rules)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Msg, "built-in default rule") {
		t.Errorf("warnings = %v", cfg.Warnings)
	}
	d, err := cfg.Rules.Decide(mapping.Input{Path: "/drops/api/17/TEST-a.xml", Root: "/drops"})
	if err != nil || d.Job != "api" || d.Build != "17" {
		t.Errorf("decision = %+v, %v", d, err)
	}
}

// TestSyntaxErrorLines checks that a YAML syntax error is reported on the
// line the mistake is on (issue 14, item 12: an unclosed quote on line 11
// was reported at line 10, a bad indent on line 4 at line 1).
func TestSyntaxErrorLines(t *testing.T) {
	lines := strings.SplitAfter(minimal, "\n")
	edit := func(line int, text string) string {
		l := append([]string(nil), lines...)
		l[line-1] = text + "\n"
		return strings.Join(l, "")
	}
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"unclosed quote, first key of a mapping", edit(11, `      server: "share`), 11, "is its closing quote missing?"},
		{"unclosed quote, later key of a mapping", edit(12, `      job: "{file.parent}`), 12, "is its closing quote missing?"},
		{"unclosed quote on the last line", edit(13, `      build: "{file.stem}`), 13, "found unexpected end of stream"},
		{"unclosed quote on line 1", "version: '1\n" + minimal, 1, "found unexpected end of stream"},
		{"bad indent, less", edit(4, `   shared_space: "1001"`), 4, "did not find expected '-' indicator"},
		{"bad indent, more", edit(4, `     shared_space: "1001"`), 4, "mapping values are not allowed in this context"},
		{"unclosed brace", edit(11, `      server: { instance_id: share`), 11, "did not find expected ',' or '}'"},
		{"unclosed bracket on line 1", "version: [1\n" + minimal, 1, "did not find expected ',' or ']'"},
		{"tab", edit(6, "\tclient_id: x"), 6, "found character that cannot start any token"},
		{"tab on line 1", "\t" + minimal, 1, "found character that cannot start any token"},
		{"unknown anchor", edit(12, `      job: *nope`), 12, "unknown anchor 'nope' referenced"},
		{"invalid UTF-8", edit(12, "      job: \"a\xffb\""), 12, "not valid UTF-8 (byte 0xff)"},
		{"second document", minimal + "---\nx: 1\n", 14, "a second YAML document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml", testEnv)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LoadError", err)
			}
			p := le.Problems[0]
			if p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got %s\nwant line %d and %q", p, tc.line, tc.msg)
			}
		})
	}
}

// A secret that is not there at load (issue 14 item 5) is a warning, and makes its target
// unusable: only the commands that connect stop on it.
func TestUnresolvedSecretsAreNeededOnlyToConnect(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"missing env", strings.Replace(minimal, "OCTANE_CLIENT_SECRET", "NOT_SET_ANYWHERE", 1), "7:20: targets[0].client_secret: environment variable NOT_SET_ANYWHERE is not set"},
		{"unreadable file", strings.Replace(minimal, "${env:OCTANE_CLIENT_SECRET}", "${file:/nonexistent/secret}", 1), "7:20: targets[0].client_secret: cannot read ${file:/nonexistent/secret}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.src), "test.yaml", testEnv)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), tc.want) || !strings.Contains(cfg.Warnings[0].String(), "needed only to connect") {
				t.Errorf("warnings %v", cfg.Warnings)
			}
			if err := cfg.Targets[0].Usable(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Usable = %v", err)
			}
			run := Resolve(cfg, Overrides{})
			if len(run.Unusable) != 1 || !strings.Contains(run.Unusable[0].Error(), `target "prod"`) {
				t.Errorf("Unusable = %v", run.Unusable)
			}
			if run := Resolve(cfg, Overrides{Sandbox: &Sandbox{URL: "http://127.0.0.1:1"}}); len(run.Unusable) != 0 {
				t.Errorf("with the sandbox the target's own credentials are not used: %v", run.Unusable)
			}
		})
	}
}
