package mapping

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/manifest"
)

// man parses a manifest written at path (YAML; version 1 is added).
func man(t testing.TB, path, yaml string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte("version: 1\n"+yaml), path)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

// props is report facts with only properties.
func props(kv map[string]string) ReportFacts { return ReportFacts{Properties: kv} }

const targetsOnly = `targets:
  - name: prod
    url: https://octane.example.com
    shared_space: "1"
    workspace: "2"
    client_id: a
    client_secret: ${env:OCTANE_CLIENT_SECRET}
  - name: staging
    url: https://staging.example.com
    shared_space: "1"
    workspace: "3"
    client_id: a
    client_secret: ${env:OCTANE_CLIENT_SECRET}
`

// matchRules has one rule per kind of match, each setting job to its own name.
const matchRules = targetsOnly + `rules:
  - name: path
    match: { path: "surefire/{job}/{build}/*.xml" }
    set: { server: { instance_id: s }, job: "{job}", build: "{build}" }
  - name: regexp
    match: { regexp: '^gradle/(?P<job>[^/]+)/build-(?P<build>\d+)/' }
    set: { server: { instance_id: s }, job: "{job}", build: "{build}" }
  - name: abs-path
    match: { path: "/mnt/ci/{job}/{build}.xml" }
    set: { server: { instance_id: s }, job: "{job}", build: "{build}" }
  - name: abs-regexp
    match: { regexp: '^/srv/(?P<job>\w+)/' }
    set: { server: { instance_id: s }, job: "{job}", build: "{file.stem}" }
  - name: manifest
    match: { manifest: { job: "nightly-*" } }
    set: { job: "x" }
  - name: manifest-absent
    match: { path: "m/**", manifest: { release: ~ }, has_manifest: true }
    set: { server: { instance_id: s }, job: "m-no-release", build: "1" }
  - name: has-manifest
    match: { path: "m/**", has_manifest: true }
    set: { server: { instance_id: s }, job: "m-manifest", build: "1" }
  - name: no-manifest
    match: { path: "m/**", has_manifest: false }
    set: { server: { instance_id: s }, job: "m-bare", build: "1" }
  - name: property
    target: staging
    match: { property: { "ci.branch": "release/*" } }
    set: { server: { instance_id: s }, job: "{property.ci.branch|trimprefix:release/}", build: "{file.stem}" }
  - name: env
    match: { env: { IMPORT_MODE: backfill } }
    set: { server: { instance_id: s }, job: "backfill", build: "{file.stem}" }
  - name: combined
    match:
      path: "{team}/{job}/*.xml"
      property: { os: "linux" }
      env: { CI: "true" }
    set: { server: { instance_id: s }, job: "{team}-{job}-linux", build: "{file.stem}" }
  - name: combined-fallback
    match: { path: "{team}/{job}/*.xml" }
    set: { server: { instance_id: s }, job: "{team}-{job}", build: "{file.stem}" }
`

func TestDecideMatchKinds(t *testing.T) {
	cfg := mustParse(t, matchRules)
	tests := []struct {
		name     string
		in       Input
		rule     string
		target   string
		job      string
		build    string
		captures map[string]string
	}{
		{"path pattern", Input{Path: "/drops/surefire/api/17/TEST-a.xml"}, "path", "prod", "api", "17",
			map[string]string{"job": "api", "build": "17"}},
		{"regexp", Input{Path: "/drops/gradle/web/build-9/test-results/TEST-b.xml"}, "regexp", "prod", "web", "9",
			map[string]string{"job": "web", "build": "9"}},
		{"absolute path pattern", Input{Path: "/mnt/ci/tools/44.xml", Root: "/mnt"}, "abs-path", "prod", "tools", "44",
			map[string]string{"job": "tools", "build": "44"}},
		{"absolute regexp", Input{Path: "/srv/etl/r1.xml", Root: "/srv"}, "abs-regexp", "prod", "etl", "r1",
			map[string]string{"job": "etl"}},
		{"manifest field", Input{Path: "/drops/x/r.xml", Manifest: man(t, "/drops/x/octane-build.yaml", "server: {instance_id: j}\njob: {id: nightly-7}\nbuild: {id: '7'}\n")},
			"manifest", "prod", "nightly-7", "7", nil},
		{"manifest field absent (empty)", Input{Path: "/drops/m/r.xml", Manifest: man(t, "/drops/m/octane-build.yaml", "server: {instance_id: j}\njob: {id: j}\nbuild: {id: '1'}\n")},
			"manifest-absent", "prod", "j", "1", map[string]string{}},
		{"has manifest", Input{Path: "/drops/m/r.xml", Manifest: man(t, "/drops/m/octane-build.yaml", "server: {instance_id: j}\njob: {id: j}\nbuild: {id: '1'}\nrelease: R1\n")},
			"has-manifest", "prod", "j", "1", map[string]string{}},
		{"no manifest", Input{Path: "/drops/m/r.xml"}, "no-manifest", "prod", "m-bare", "1", map[string]string{}},
		{"junit property", Input{Path: "/drops/p/r.xml", Report: props(map[string]string{"ci.branch": "release/2026.1"})},
			"property", "staging", "2026.1", "r", nil},
		{"env var", Input{Path: "/drops/e/r.xml", Env: testkit.LookupEnv(map[string]string{"IMPORT_MODE": "backfill"})},
			"env", "prod", "backfill", "r", nil},
		{"combination: all hold", Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Report: props(map[string]string{"os": "linux"}),
			Env: testkit.LookupEnv(map[string]string{"CI": "true"})}, "combined", "prod", "teamA-api-linux", "r1",
			map[string]string{"team": "teamA", "job": "api"}},
		{"combination: one fails, next rule", Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Report: props(map[string]string{"os": "windows"}),
			Env: testkit.LookupEnv(map[string]string{"CI": "true"})}, "combined-fallback", "prod", "teamA-api", "r1",
			map[string]string{"team": "teamA", "job": "api"}},
		{"first match wins", Input{Path: "/drops/surefire/api/17/TEST-a.xml", Report: props(map[string]string{"ci.branch": "release/x"})},
			"path", "prod", "api", "17", map[string]string{"job": "api", "build": "17"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Root == "" {
				in.Root = "/drops"
			}
			if in.Env == nil {
				in.Env = testkit.LookupEnv(nil)
			}
			d, err := cfg.Decide(in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Rule != tc.rule || d.Target != tc.target || d.Job != tc.job || d.Build != tc.build {
				t.Errorf("rule %q target %q job %q build %q; want %q %q %q %q", d.Rule, d.Target, d.Job, d.Build, tc.rule, tc.target, tc.job, tc.build)
			}
			if tc.captures != nil && len(tc.captures) == 0 {
				tc.captures = nil
			}
			if !reflect.DeepEqual(d.Captures, tc.captures) {
				t.Errorf("captures = %v, want %v", d.Captures, tc.captures)
			}
			if d.RuleLine == 0 {
				t.Error("RuleLine is 0")
			}
		})
	}
}

func TestDecideUnmatched(t *testing.T) {
	cfg := mustParse(t, matchRules)
	d, err := cfg.Decide(Input{Path: "/drops/elsewhere/r.xml", Root: "/drops", Env: testkit.LookupEnv(nil)})
	if d != nil || !errors.Is(err, ErrUnmatched) || !strings.Contains(err.Error(), "/drops/elsewhere/r.xml") {
		t.Fatalf("d = %v err = %v", d, err)
	}
}

func TestDecideRelativeToRoot(t *testing.T) {
	cfg := mustParse(t, matchRules)
	// Outside its root, the path is matched without its leading slash.
	d, err := cfg.Decide(Input{Path: "/surefire/api/3/r.xml", Root: "/drops", Env: testkit.LookupEnv(nil)})
	if err != nil || d.Rule != "path" || d.Build != "3" {
		t.Fatalf("%+v %v", d, err)
	}
}

const combineRules = targetsOnly + `rules:
  - name: r
    match: { path: "{team}/{job}/{build}/*.xml" }
    set:
      server: { instance_id: share, name: "Share", type: file, url: "https://share" }
      pipeline: "{team}-pipeline"
      job: "{team}-{job}"
      job_name: "{job|upper}"
      build: "{build}"
      build_name: "#{build}"
      result: unstable
      release: "R-{team}"
      milestone: 12
      environment: { OS: Linux, Browser: "{property.browser}" }
      test_fields: { Framework: JUnit, Test_Level: "Unit Test" }
      product_areas: [1, "{property.area}"]
      backlog_items: 5
`

func TestDecideCombine(t *testing.T) {
	cfg := mustParse(t, combineRules)
	mod := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	suite := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	base := Input{Path: "/d/payments/api/17/r.xml", Root: "/d", ModTime: mod, Env: testkit.LookupEnv(nil),
		Report: ReportFacts{Start: suite, Duration: 90 * time.Second, Runs: 3, Failed: 1,
			Properties: map[string]string{"browser": "", "area": "2"}}}

	t.Run("rule and report", func(t *testing.T) {
		d, err := cfg.Decide(base)
		if err != nil {
			t.Fatal(err)
		}
		want := &Decision{Rule: "r", RuleLine: 15, Captures: map[string]string{"team": "payments", "job": "api", "build": "17"},
			Target: "prod", Root: "/d", Server: Server{"share", "Share", "file", "https://share"}, Pipeline: "payments-pipeline",
			RootJob: "payments-api", RootJobName: "API", Job: "payments-api", JobName: "API", Build: "17", BuildName: "#17",
			Start: suite, Duration: 90 * time.Second, Status: "finished", Result: "unstable",
			Release: "R-payments", Milestone: 12, Environment: map[string]string{"OS": "Linux"},
			TestFields: map[string]string{"Framework": "JUnit", "Test_Level": "Unit Test"}, ProductAreas: []int64{1, 2}, BacklogItems: []int64{5},
			zone: time.Local,
			From: map[string]string{"server": "rule", "pipeline": "rule", "root_job": "default", "job": "rule", "build": "rule",
				"start": "report", "duration": "report", "status": "default", "result": "rule", "release": "rule", "milestone": "rule"}}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("got  %+v\nwant %+v", d, want)
		}
	})
	t.Run("manifest wins, field by field", func(t *testing.T) {
		in := base
		in.Manifest = man(t, "/d/payments/api/17/octane-build.yaml", `server: {instance_id: share, type: jenkins}
pipeline: {name: payments, root_job: payments-pipeline}
job: {id: payments-unit, name: Payments unit}
build: {id: "1041", started: "2026-02-01T08:00:00Z", duration: 151000, result: success}
parameters: [{name: BRANCH, value: main}]
causes: [{job: payments-pipeline, build: "311"}]
release_id: 1001
milestone_id: 77
environment: {OS: Windows, DB: PostgreSQL}
test_fields: {Test_Type: Regression}
product_areas: [2, 3]
`)
		d, err := cfg.Decide(in)
		if err != nil {
			t.Fatal(err)
		}
		want := &Decision{Rule: "r", RuleLine: 15, Captures: map[string]string{"team": "payments", "job": "api", "build": "17"},
			Target: "prod", Root: "/d", Manifest: "/d/payments/api/17/octane-build.yaml",
			// The manifest names the rule's server: the name and url it leaves out are the rule's.
			Server: Server{"share", "Share", "jenkins", "https://share"}, Pipeline: "payments",
			RootJob: "payments-pipeline", RootJobName: "payments-pipeline",
			Job: "payments-unit", JobName: "Payments unit", Build: "1041", BuildName: "1041",
			Start: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC), Duration: 151 * time.Second, Status: "finished", Result: "success",
			Parameters: []Parameter{{Name: "BRANCH", Type: "string", Value: "main"}}, Causes: []Cause{{Job: "payments-pipeline", Build: "311"}},
			ReleaseID: 1001, Milestone: 77, Environment: map[string]string{"OS": "Windows", "DB": "PostgreSQL"},
			TestFields:   map[string]string{"Framework": "JUnit", "Test_Level": "Unit Test", "Test_Type": "Regression"},
			ProductAreas: []int64{2, 3, 1}, BacklogItems: []int64{5},
			zone: time.Local,
			From: map[string]string{"server": "manifest", "pipeline": "manifest", "root_job": "manifest", "job": "manifest", "build": "manifest",
				"start": "manifest", "duration": "manifest", "status": "manifest", "result": "manifest", "parameters": "manifest",
				"causes": "manifest", "release": "manifest", "milestone": "manifest"}}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("got  %+v\nwant %+v", d, want)
		}
	})
	t.Run("a manifest's defaults rank below the rule", func(t *testing.T) {
		in := base
		in.Manifest = man(t, "/d/payments/api/17/octane-build.yaml", "server: {instance_id: other}\njob: {id: j}\nbuild: {id: b}\n")
		d, err := cfg.Decide(in)
		if err != nil {
			t.Fatal(err)
		}
		// The pipeline the manifest leaves out is the rule's; the server is another one, so
		// none of the rule's server values apply; the result is the rule's.
		if d.Pipeline != "payments-pipeline" || d.From["pipeline"] != "rule" || d.Server != (Server{InstanceID: "other", Name: "other"}) ||
			d.Result != "unstable" || d.Start != suite || d.From["start"] != "report" {
			t.Errorf("%+v", d)
		}
	})
}

func TestDecideStartAndResult(t *testing.T) {
	mod := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	suite := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		set       string
		suite     time.Time
		failed    int
		want      time.Time
		from      string
		result    string
		errSubstr string
	}{
		{"start: suite", suite, 0, suite, "report", "success", ""},
		{"start: suite", time.Time{}, 0, mod, "mtime", "success", ""},
		{"result: derive", suite, 2, suite, "report", "failure", ""}, // suite is the default
		{"start: mtime", suite, 0, mod, "mtime", "success", ""},
		{`start: "2026-01-02T03:04:05+01:00"`, suite, 0, time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), "rule", "success", ""},
		{`start: "1767225600000"`, suite, 0, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "rule", "success", ""},
		{`start: "{property.started}"`, suite, 0, time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), "rule", "success", ""},
		{`start: "{property.missing}"`, suite, 0, time.Time{}, "rule", "", "set.start: empty start time"},
		{"result: failure", suite, 0, suite, "report", "failure", ""},
		{"result: ABORTED", suite, 3, suite, "report", "aborted", ""},
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			src := targetsOnly + "rules:\n  - set:\n      server: { instance_id: s }\n      job: j\n      build: b\n      " + tc.set + "\n"
			cfg := mustParse(t, src)
			d, err := cfg.Decide(Input{Path: "/x/r.xml", Root: "/x", ModTime: mod, Env: testkit.LookupEnv(nil),
				Report: ReportFacts{Start: tc.suite, Runs: 5, Failed: tc.failed, Properties: map[string]string{"started": "2025-12-31T23:00:00Z"}}})
			if tc.errSubstr != "" {
				if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("err = %v, want %q", err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !d.Start.Equal(tc.want) || d.From["start"] != tc.from || d.Result != tc.result {
				t.Errorf("start %v from %q result %q; want %v %q %q", d.Start, d.From["start"], d.Result, tc.want, tc.from, tc.result)
			}
		})
	}
}

// Zone-less report timestamps are read in the rule's zone, else the source's, else the
// machine's, and the decision says so (issue 12, defect 7).
func TestDecideZonelessStart(t *testing.T) {
	wall := time.Date(2020, 11, 18, 13, 17, 18, 0, time.UTC) // as the reader gives it: the wall clock
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	src := targetsOnly + `rules:
  - match: { path: "berlin/**" }
    timezone: Europe/Berlin
    set: { server: { instance_id: s }, job: j, build: b }
  - set: { server: { instance_id: s }, job: j, build: b }
`
	cfg := mustParse(t, src)
	tests := []struct {
		path     string
		zone     *time.Location
		zoneless bool
		want     time.Time
		tz, from string
	}{
		{"/x/berlin/r.xml", tokyo, true, time.Date(2020, 11, 18, 12, 17, 18, 0, time.UTC), "Europe/Berlin", "rule"},
		{"/x/other/r.xml", tokyo, true, time.Date(2020, 11, 18, 4, 17, 18, 0, time.UTC), "Asia/Tokyo", "source"},
		{"/x/other/r.xml", time.UTC, true, wall, "UTC", "source"},
		{"/x/other/r.xml", tokyo, false, wall, "", ""}, // a zone was written: nothing to say
	}
	for _, tc := range tests {
		d, err := cfg.Decide(Input{Path: tc.path, Root: "/x", Zone: tc.zone, Env: testkit.LookupEnv(nil), Report: ReportFacts{Start: wall, Zoneless: tc.zoneless}})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Start.Equal(tc.want) || d.Timezone != tc.tz || d.From["timezone"] != tc.from || d.Zoneless != tc.zoneless {
			t.Errorf("%s in %v: start %v tz %q from %q; want %v %q %q", tc.path, tc.zone, d.Start, d.Timezone, d.From["timezone"], tc.want, tc.tz, tc.from)
		}
	}
	if _, err := parseRules(targetsOnly + "rules:\n  - timezone: Mars/Olympus\n    set: { server: { instance_id: s }, job: j, build: b }\n"); err == nil ||
		!strings.Contains(err.Error(), `rules[0].timezone: "Mars/Olympus" is not a time zone`) {
		t.Errorf("bad zone: %v", err)
	}
}

func TestDecideIncomplete(t *testing.T) {
	src := targetsOnly + `rules:
  - match: { path: "{job}/*.xml" }
    set: { job: "{job}", build: "{property.build}" }
`
	cfg := mustParse(t, src)
	d, err := cfg.Decide(Input{Path: "/x/api/r.xml", Root: "/x", Env: testkit.LookupEnv(nil)})
	if !errors.Is(err, ErrIncomplete) || d == nil || d.Job != "api" {
		t.Fatalf("d = %+v err = %v", d, err)
	}
	for _, frag := range []string{"no server instance id", "no build", "rule 1 (line 15)"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q lacks %q", err, frag)
		}
	}
	if strings.Contains(err.Error(), "no job") {
		t.Errorf("job was set: %v", err)
	}
	long := strings.Repeat("x", 256)
	d, err = cfg.Decide(Input{Path: "/x/api/r.xml", Root: "/x", Env: testkit.LookupEnv(nil), Report: props(map[string]string{"build": long})})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "build is 256 characters long") || d.Build != long {
		t.Errorf("long build id: %v", err)
	}
}

func TestDefault(t *testing.T) {
	cfg := Default("buildhost")
	if len(cfg) != 1 || cfg[0].Target != "sandbox" {
		t.Fatalf("rules = %v", cfg)
	}
	m := man(t, "/drops/team/api/17/octane-build.yaml", "server: {instance_id: jenkins}\njob: {id: payments-unit}\nbuild: {id: '1041'}\n")
	tests := []struct {
		name, path       string
		manifest         *manifest.Manifest
		job, build, pipe string
		server           string
	}{
		{"parent is build, grandparent job", "/drops/team/api/17/TEST-a.xml", nil, "api", "17", "api", "buildhost"},
		{"a flat folder is one build", "/drops/nightly/TEST-a.xml", nil, "drops", "nightly", "drops", "buildhost"},
		{"report folders are looked through", "/drops/team/job/1000/surefire-reports/TEST-a.xml", nil, "job", "1000", "job", "buildhost"},
		{"nested report folders", "/w/shop/123/build/test-results/test/TEST-a.xml", nil, "shop", "123", "shop", "buildhost"},
		{"filesystem root", "/r.xml", nil, "root", "root", "root", "buildhost"},
		{"top folder", "/ci/r.xml", nil, "root", "ci", "root", "buildhost"},
		{"manifest wins", "/drops/team/api/17/TEST-a.xml", m, "payments-unit", "1041", "payments-unit", "jenkins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The root does not matter: the built-in rule reads the absolute path.
			for _, root := range []string{"/", filepath.Dir(tc.path), "/drops"} {
				d, err := cfg.Decide(Input{Path: tc.path, Root: root, Manifest: tc.manifest, Env: testkit.LookupEnv(nil)})
				if err != nil {
					t.Fatal(err)
				}
				if d.Job != tc.job || d.Build != tc.build || d.Pipeline != tc.pipe || d.Server.InstanceID != tc.server ||
					d.Target != "sandbox" || d.Rule != "default" || d.RuleLine != 0 {
					t.Errorf("root %s: %+v", root, d)
				}
				if tc.manifest == nil && (d.Server.Name != "buildhost" || d.Server.Type != "file") {
					t.Errorf("server = %+v", d.Server)
				}
			}
		})
	}
	if d, _ := Default("").Decide(Input{Path: "/a/b/c.xml", Root: "/a", Env: testkit.LookupEnv(nil)}); d.Server.InstanceID != "octane-import" {
		t.Errorf("empty host name: %+v", d.Server)
	}
}

func BenchmarkDecide(b *testing.B) {
	cfg, err := parseRules(matchRules)
	if err != nil {
		b.Fatal(err)
	}
	// The last rule: every earlier rule is tried first.
	in := Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Env: testkit.LookupEnv(nil), Report: props(map[string]string{"os": "windows"})}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Decide(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRulesExpectManifests(t *testing.T) {
	for src, want := range map[string]bool{
		targetsOnly + "rules:\n  - set: { server: { instance_id: s }, job: j, build: b }\n":                                            false,
		targetsOnly + "rules:\n  - match: { has_manifest: false }\n    set: { server: { instance_id: s }, job: j, build: b }\n":        false,
		targetsOnly + "rules:\n  - match: { has_manifest: true }\n    set: { server: { instance_id: s }, job: j, build: b }\n":         true,
		targetsOnly + "rules:\n  - match: { manifest: { job: \"x-*\" } }\n    set: { server: { instance_id: s }, job: j, build: b }\n": true,
	} {
		if got := mustParse(t, src).ExpectManifests(); got != want {
			t.Errorf("%s: ExpectManifests = %v", src, got)
		}
	}
}
