package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

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
		{"manifest field", Input{Path: "/drops/x/r.xml", Manifest: map[string]string{"job": "nightly-7", "build": "7", "server.instance_id": "j"}},
			"manifest", "prod", "nightly-7", "7", nil},
		{"manifest field absent (empty)", Input{Path: "/drops/m/r.xml", Manifest: map[string]string{"job": "j", "release": ""}},
			"manifest-absent", "prod", "j", "1", map[string]string{}},
		{"has manifest", Input{Path: "/drops/m/r.xml", Manifest: map[string]string{"job": "j", "release": "R1"}},
			"has-manifest", "prod", "j", "1", map[string]string{}},
		{"no manifest", Input{Path: "/drops/m/r.xml"}, "no-manifest", "prod", "m-bare", "1", map[string]string{}},
		{"junit property", Input{Path: "/drops/p/r.xml", Properties: map[string]string{"ci.branch": "release/2026.1"}},
			"property", "staging", "2026.1", "r", nil},
		{"env var", Input{Path: "/drops/e/r.xml", Env: envMap(map[string]string{"IMPORT_MODE": "backfill"})},
			"env", "prod", "backfill", "r", nil},
		{"combination: all hold", Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Properties: map[string]string{"os": "linux"},
			Env: envMap(map[string]string{"CI": "true"})}, "combined", "prod", "teamA-api-linux", "r1",
			map[string]string{"team": "teamA", "job": "api"}},
		{"combination: one fails, next rule", Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Properties: map[string]string{"os": "windows"},
			Env: envMap(map[string]string{"CI": "true"})}, "combined-fallback", "prod", "teamA-api", "r1",
			map[string]string{"team": "teamA", "job": "api"}},
		{"first match wins", Input{Path: "/drops/surefire/api/17/TEST-a.xml", Properties: map[string]string{"ci.branch": "release/x"}},
			"path", "prod", "api", "17", map[string]string{"job": "api", "build": "17"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Root == "" {
				in.Root = "/drops"
			}
			if in.Env == nil {
				in.Env = envMap(nil)
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
	d, err := cfg.Decide(Input{Path: "/drops/elsewhere/r.xml", Root: "/drops", Env: envMap(nil)})
	if d != nil || !errors.Is(err, ErrUnmatched) || !strings.Contains(err.Error(), "/drops/elsewhere/r.xml") {
		t.Fatalf("d = %v err = %v", d, err)
	}
}

func TestDecideRelativeToRoot(t *testing.T) {
	cfg := mustParse(t, matchRules)
	// Outside its root, the path is matched without its leading slash.
	d, err := cfg.Decide(Input{Path: "/surefire/api/3/r.xml", Root: "/drops", Env: envMap(nil)})
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
	base := Input{Path: "/d/payments/api/17/r.xml", Root: "/d", ModTime: mod, SuiteTime: suite, Env: envMap(nil),
		Properties: map[string]string{"browser": "", "area": "2"}}

	t.Run("rule only", func(t *testing.T) {
		d, err := cfg.Decide(base)
		if err != nil {
			t.Fatal(err)
		}
		want := &Decision{Rule: "r", RuleLine: 15, Captures: map[string]string{"team": "payments", "job": "api", "build": "17"},
			Target: "prod", Server: Server{"share", "Share", "file", "https://share"}, Pipeline: "payments-pipeline",
			Job: "payments-api", JobName: "API", Build: "17", BuildName: "#17", Start: suite, Result: "unstable",
			Release: "R-payments", Milestone: 12, Environment: map[string]string{"OS": "Linux"},
			TestFields: map[string]string{"Framework": "JUnit", "Test_Level": "Unit Test"}, ProductAreas: []int64{1, 2}, BacklogItems: []int64{5},
			From: map[string]string{"server": "rule", "pipeline": "rule", "job": "rule", "build": "rule", "start": "suite", "result": "rule", "release": "rule"}}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("got  %+v\nwant %+v", d, want)
		}
	})
	t.Run("manifest wins", func(t *testing.T) {
		in := base
		in.Manifest = map[string]string{
			"server.instance_id": "jenkins-1", "server.name": "", "server.type": "jenkins", "server.url": "",
			"pipeline": "payments", "root_job": "payments-pipeline", "job": "payments-unit", "job.name": "Payments unit",
			"build": "1041", "build.name": "", "status": "finished", "result": "success", "release": "",
			"release_id": "1001", "milestone_id": "77", "started": "2026-02-01T08:00:00Z", "duration": "151000",
			"environment.OS": "Windows", "environment.DB": "PostgreSQL", "test_fields.Test_Type": "Regression",
			"product_areas": "2, 3",
		}
		d, err := cfg.Decide(in)
		if err != nil {
			t.Fatal(err)
		}
		want := &Decision{Rule: "r", RuleLine: 15, Captures: map[string]string{"team": "payments", "job": "api", "build": "17"},
			Target: "prod", Server: Server{"jenkins-1", "jenkins-1", "jenkins", ""}, Pipeline: "payments",
			Job: "payments-unit", JobName: "Payments unit", Build: "1041", BuildName: "1041",
			Start: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC), Duration: 151 * time.Second, Result: "success",
			ReleaseID: 1001, Milestone: 77, Environment: map[string]string{"OS": "Windows", "DB": "PostgreSQL"},
			TestFields:   map[string]string{"Framework": "JUnit", "Test_Level": "Unit Test", "Test_Type": "Regression"},
			ProductAreas: []int64{2, 3, 1}, BacklogItems: []int64{5},
			From: map[string]string{"server": "manifest", "pipeline": "manifest", "job": "manifest", "build": "manifest",
				"start": "manifest", "result": "manifest", "release": "manifest"}}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("got  %+v\nwant %+v", d, want)
		}
	})
	t.Run("manifest without ids leaves the rule's", func(t *testing.T) {
		in := base
		in.Manifest = map[string]string{"server.instance_id": "", "job": "", "build": "", "pipeline": "", "result": "", "release": ""}
		d, err := cfg.Decide(in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Server.InstanceID != "share" || d.Job != "payments-api" || d.Build != "17" || d.Pipeline != "payments-pipeline" || d.Result != "unstable" {
			t.Errorf("%+v", d)
		}
	})
	t.Run("bad manifest values", func(t *testing.T) {
		in := base
		in.Manifest = map[string]string{"started": "yesterday", "result": "green", "release_id": "x", "duration": "long",
			"test_fields.Level": "x", "product_areas": "a"}
		d, err := cfg.Decide(in)
		if !errors.Is(err, ErrIncomplete) || d == nil {
			t.Fatalf("err = %v", err)
		}
		for _, frag := range []string{"manifest started", "manifest result", "manifest release_id", "manifest duration", "Level", "manifest product_areas"} {
			if !strings.Contains(err.Error(), frag) {
				t.Errorf("error lacks %q: %v", frag, err)
			}
		}
	})
}

func TestDecideStartAndResult(t *testing.T) {
	mod := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	suite := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		set       string
		suite     time.Time
		want      time.Time
		from      string
		result    string
		errSubstr string
	}{
		{"start: suite", suite, suite, "suite", "", ""},
		{"start: suite", time.Time{}, mod, "mtime", "", ""},
		{"result: derive", suite, suite, "suite", "", ""}, // suite is the default
		{"start: mtime", suite, mod, "mtime", "", ""},
		{`start: "2026-01-02T03:04:05+01:00"`, suite, time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), "rule", "", ""},
		{`start: "1767225600000"`, suite, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "rule", "", ""},
		{`start: "{property.started}"`, suite, time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), "rule", "", ""},
		{`start: "{property.missing}"`, suite, time.Time{}, "rule", "", "set.start: empty start time"},
		{"result: failure", suite, suite, "suite", "failure", ""},
		{"result: ABORTED", suite, suite, "suite", "aborted", ""},
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			src := targetsOnly + "rules:\n  - set:\n      server: { instance_id: s }\n      job: j\n      build: b\n      " + tc.set + "\n"
			cfg := mustParse(t, src)
			d, err := cfg.Decide(Input{Path: "/x/r.xml", Root: "/x", ModTime: mod, SuiteTime: tc.suite, Env: envMap(nil),
				Properties: map[string]string{"started": "2025-12-31T23:00:00Z"}})
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

func TestDecideIncomplete(t *testing.T) {
	src := targetsOnly + `rules:
  - match: { path: "{job}/*.xml" }
    set: { job: "{job}", build: "{property.build}" }
`
	cfg := mustParse(t, src)
	d, err := cfg.Decide(Input{Path: "/x/api/r.xml", Root: "/x", Env: envMap(nil)})
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
	d, err = cfg.Decide(Input{Path: "/x/api/r.xml", Root: "/x", Env: envMap(nil), Properties: map[string]string{"build": long},
		Manifest: map[string]string{"server.instance_id": "s"}})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "build is 256 characters long") || d.Build != long {
		t.Errorf("long build id: %v", err)
	}
}

func TestDefault(t *testing.T) {
	cfg := Default("buildhost")
	if len(cfg.Targets) != 1 || cfg.Targets[0].Name != "sandbox" || cfg.Targets[0].URL != "" {
		t.Fatalf("targets = %v", cfg.Targets)
	}
	tests := []struct {
		name, path, root string
		manifest         map[string]string
		job, build, pipe string
		server           string
	}{
		{"parent is build, grandparent job", "/drops/team/api/17/TEST-a.xml", "/drops", nil, "api", "17", "api", "buildhost"},
		{"grandparent is the root", "/drops/17/TEST-a.xml", "/drops", nil, "drops", "17", "drops", "buildhost"},
		{"file in the root", "/drops/nightly-2026-03-01.xml", "/drops", nil, "drops", "nightly-2026-03-01", "drops", "buildhost"},
		{"root with trailing slash", "/drops/a/b/c.xml", "/drops/", nil, "a", "b", "a", "buildhost"},
		{"filesystem root", "/r.xml", "/", nil, "root", "r", "root", "buildhost"},
		{"manifest wins", "/drops/team/api/17/TEST-a.xml", "/drops",
			map[string]string{"server.instance_id": "jenkins", "job": "payments-unit", "build": "1041", "pipeline": ""},
			"payments-unit", "1041", "payments-unit", "jenkins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := cfg.Decide(Input{Path: tc.path, Root: tc.root, Manifest: tc.manifest, Env: envMap(nil)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Job != tc.job || d.Build != tc.build || d.Pipeline != tc.pipe || d.Server.InstanceID != tc.server ||
				d.Target != "sandbox" || d.Rule != "default" || d.RuleLine != 0 {
				t.Errorf("%+v", d)
			}
			if tc.manifest == nil && (d.Server.Name != "buildhost" || d.Server.Type != "file") {
				t.Errorf("server = %+v", d.Server)
			}
		})
	}
	if d, _ := Default("").Decide(Input{Path: "/a/b/c.xml", Root: "/a", Env: envMap(nil)}); d.Server.InstanceID != "octane-import" {
		t.Errorf("empty host name: %+v", d.Server)
	}
}

func BenchmarkDecide(b *testing.B) {
	cfg, err := Parse([]byte(matchRules), "bench.yaml", testEnv)
	if err != nil {
		b.Fatal(err)
	}
	// The last rule: every earlier rule is tried first.
	in := Input{Path: "/d/teamA/api/r1.xml", Root: "/d", Env: envMap(nil), Properties: map[string]string{"os": "windows"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Decide(in); err != nil {
			b.Fatal(err)
		}
	}
}
