package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// fixtures returns the manifests under testdata/builds, relative to the repo root.
func fixtures(t testing.TB) []string {
	t.Helper()
	root := testkit.RepoRoot(t)
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "testdata", "builds"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && IsManifestName(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 3 {
		t.Fatalf("found %d manifests under testdata/builds, want at least 3", len(out))
	}
	return out
}

// dump renders a manifest for golden files: stable, with the path relative
// to base.
func dump(t testing.TB, m *Manifest, base string) string {
	t.Helper()
	c := *m
	if c.Path != "" {
		rel, err := filepath.Rel(base, c.Path)
		if err != nil {
			t.Fatal(err)
		}
		c.Path = filepath.ToSlash(rel)
	}
	type view struct {
		Manifest
		Started  string
		Duration string
		Fields   map[string]string
	}
	v := view{Manifest: c, Duration: c.Duration.String(), Fields: c.Fields()}
	if !c.Started.IsZero() {
		v.Started = c.Started.Format(time.RFC3339Nano)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestFixtures parses the example builds of testdata/builds and compares
// each with its golden dump.
func TestFixtures(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, rel := range fixtures(t) {
		t.Run(rel, func(t *testing.T) {
			m, err := Load(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			name := "fixture-" + strings.NewReplacer("/", "_").Replace(strings.TrimPrefix(rel, "testdata/builds/")) + ".golden"
			testkit.Golden(t, filepath.Join("testdata", "golden", name), dump(t, m, root))
		})
	}
}

// TestCases runs testdata/cases/*: valid inputs give a dump, invalid ones
// their problem list, each compared with testdata/golden/<name>.golden.
func TestCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no cases in testdata/cases")
	}
	base, _ := filepath.Abs("testdata")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p := "testdata/cases/" + name
			m, err := Parse(data, p)
			var got string
			if err != nil {
				var me *Error
				if !errors.As(err, &me) {
					t.Fatalf("error is %T, want *Error: %v", err, err)
				}
				if !strings.HasPrefix(name, "bad-") {
					t.Fatalf("unexpected error:\n%v", err)
				}
				got = err.Error() + "\n"
			} else {
				if strings.HasPrefix(name, "bad-") {
					t.Fatalf("a bad- case parsed without error")
				}
				got = dump(t, m, base)
			}
			testkit.Golden(t, filepath.Join("testdata", "golden", name+".golden"), got)
		})
	}
}

const minimal = `version: 1
server: {instance_id: ci-1}
job: {id: job-a}
build: {id: "7"}
`

func TestDefaults(t *testing.T) {
	m, err := Parse([]byte(minimal), "dir/octane-build.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{
		Version:   1,
		Server:    Server{InstanceID: "ci-1", Name: "ci-1"},
		Pipeline:  "job-a",
		RootJob:   "job-a",
		JobID:     "job-a",
		JobName:   "job-a",
		BuildID:   "7",
		BuildName: "7",
		Status:    StatusFinished,
		Reports:   []string{DefaultReports},
		defaulted: map[string]bool{"server.name": true, "job.name": true, "build.name": true, "pipeline.root_job": true, "pipeline.name": true},
	}
	abs, _ := filepath.Abs("dir/octane-build.yaml")
	want.Path = abs
	got := *m
	got.globs = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}

	for _, f := range []string{"server.name", "job.name", "build.name", "pipeline.root_job", "pipeline.name", "build.id"} {
		if m.Defaulted(f) != (f != "build.id") {
			t.Errorf("Defaulted(%q) = %v", f, m.Defaulted(f))
		}
	}

	// pipeline.name defaults to root_job when only root_job is given.
	m, err = Parse([]byte(minimal+"pipeline: {root_job: root}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Defaulted("pipeline.root_job") || !m.Defaulted("pipeline.name") {
		t.Errorf("root_job given, name defaulted: %v", m.defaulted)
	}
	if m.Pipeline != "root" || m.RootJob != "root" {
		t.Errorf("pipeline %q root %q, want root/root", m.Pipeline, m.RootJob)
	}
}

// TestProblems covers every error class, with the exact position and path.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		want []string // every problem line, exactly, in order
	}{
		{"unknown key with suggestion", "m.yaml", minimal + "relase: x\n",
			[]string{`m.yaml:5:1: relase: unknown key (did you mean release?)`}},
		{"unknown nested key", "m.yaml", "version: 1\nserver:\n  instance_id: a\n  kind: jenkins\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:4:3: server.kind: unknown key; known keys: instance_id, name, type, url`}},
		{"misplaced key", "m.yaml", minimal + "started: 2026-01-01T00:00:00Z\n",
			[]string{`m.yaml:5:1: started: unknown key (it belongs under build:)`}},
		{"wrong type: list for mapping", "m.yaml", "version: 1\nserver: [a]\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:2:9: server: expected a mapping, got a list`}},
		{"wrong type: mapping for string", "m.yaml", "version: 1\nserver: {instance_id: {a: b}}\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:2:23: server.instance_id: expected a string, got a mapping`}},
		{"wrong type: string for id", "m.yaml", minimal + "milestone_id: next\n",
			[]string{`m.yaml:5:15: milestone_id: expected an id (a positive integer), got the string "next"`}},
		{"wrong type: string for list of ids", "m.yaml", minimal + "product_areas: 12\n",
			[]string{`m.yaml:5:16: product_areas: expected a list of ids, got a number (12)`}},
		{"missing everything required", "m.yaml", "pipeline: {name: p}\n",
			[]string{
				`m.yaml:1:1: version: required field is missing`,
				`m.yaml:1:1: server.instance_id: required field is missing`,
				`m.yaml:1:1: job.id: required field is missing`,
				`m.yaml:1:1: build.id: required field is missing`,
			}},
		{"missing nested required", "m.yaml", "version: 1\nserver:\n  name: x\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:3:3: server.instance_id: required field is missing`}},
		{"empty required", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: \"\"}\nbuild: {id: b}\n",
			[]string{`m.yaml:3:6: job.id: required field is missing`}},
		{"bad date: zone-less", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild:\n  id: b\n  started: 2026-11-20T09:14:03\n",
			[]string{`m.yaml:6:12: build.started: "2026-11-20T09:14:03" has no time zone; add Z for UTC or an offset such as +01:00 (like 2026-11-20T09:14:03Z)`}},
		{"bad date: date only", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, started: 2026-11-20}\n",
			[]string{`m.yaml:4:25: build.started: "2026-11-20" has no time of day; write an RFC 3339 date-time such as 2026-11-20T09:14:03Z`}},
		{"bad date: garbage", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, started: yesterday}\n",
			[]string{`m.yaml:4:25: build.started: "yesterday" is not an RFC 3339 date-time (like 2026-11-20T09:14:03Z) nor epoch milliseconds`}},
		{"bad date: epoch seconds", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, started: 1763630043}\n",
			[]string{`m.yaml:4:25: build.started: 1763630043 is before 1973 as epoch milliseconds; was it epoch seconds? (use milliseconds: 1763630043000)`}},
		{"bad date: invalid day", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, started: \"2026-02-30T00:00:00Z\"}\n",
			[]string{`m.yaml:4:25: build.started: "2026-02-30T00:00:00Z" is not an RFC 3339 date-time (like 2026-11-20T09:14:03Z) nor epoch milliseconds`}},
		{"bad duration", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, duration: 2 minutes}\n",
			[]string{`m.yaml:4:26: build.duration: "2 minutes" is not a duration (examples: 90s, 5m, 1h30m; or whole milliseconds: 150000)`}},
		{"negative duration", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, duration: -5}\n",
			[]string{`m.yaml:4:26: build.duration: duration must not be negative, got -5`}},
		{"bad enum: result", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, result: passed}\n",
			[]string{`m.yaml:4:24: build.result: "passed" is not one of success, failure, unstable, aborted, unavailable`}},
		{"bad enum: status", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b, status: done}\n",
			[]string{`m.yaml:4:24: build.status: "done" is not one of running, finished`}},
		{"bad enum: parameter type", "m.yaml", minimal + "parameters:\n  - {name: A, type: text, value: x}\n",
			[]string{`m.yaml:6:21: parameters[0].type: "text" is not one of unknown, password, boolean, string, number, file, axis`}},
		{"bad enum: test field type", "m.yaml", minimal + "test_fields:\n  Level: Unit Test\n",
			[]string{`m.yaml:6:3: test_fields.Level: unknown test field type; Octane takes Test_Level, Test_Type, Testing_Tool_Type, Framework`}},
		{"too long", "m.yaml", minimal + "release: " + strings.Repeat("r", 256) + "\n",
			[]string{`m.yaml:5:10: release: 256 characters long; Octane takes at most 255`}},
		{"control character", "m.yaml", "version: 1\nserver: {instance_id: \"a\\tb\"}\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:2:23: server.instance_id: contains the control or invalid character U+0009, which Octane cannot store in a name or id`}},
		{"cause without build", "m.yaml", minimal + "causes:\n  - job: root\n",
			[]string{`m.yaml:6:5: causes[0].build: required field is missing: a cause names the upstream job and build`}},
		{"parameter without name", "m.yaml", minimal + "parameters:\n  - value: x\n",
			[]string{`m.yaml:6:5: parameters[0].name: required field is missing`}},
		{"duplicate parameter", "m.yaml", minimal + "parameters:\n  - {name: A}\n  - {name: A}\n",
			[]string{`m.yaml:7:5: parameters[1].name: parameter "A" is given twice (first at line 6)`}},
		{"duplicate key", "m.yaml", minimal + "release: a\nrelease: b\n",
			[]string{`m.yaml:6:1: release: duplicate key (first at line 5)`}},
		{"release and release_id", "m.yaml", minimal + "release: R1\nrelease_id: 1001\n",
			[]string{`m.yaml:6:1: release_id: give either release (a name) or release_id, not both: Octane takes one`}},
		{"unsupported version", "m.yaml", "version: 2\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:1:10: version: unsupported version 2: this octane-import reads version 1`}},
		{"bad apiVersion", "m.yaml", "apiVersion: octane-import/v2\nserver: {instance_id: a}\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:1:13: apiVersion: unsupported apiVersion "octane-import/v2": this octane-import reads "octane-import/v1"`}},
		{"bad url", "m.yaml", "version: 1\nserver: {instance_id: a, url: jenkins.local}\njob: {id: j}\nbuild: {id: b}\n",
			[]string{`m.yaml:2:31: server.url: "jenkins.local" is not an absolute http or https URL`}},
		{"report glob escapes", "m.yaml", minimal + "reports: [../other/*.xml, /abs/*.xml, 'a\\b', '[x']\n",
			[]string{
				`m.yaml:5:11: reports[0]: "../other/*.xml" leaves the manifest's folder: a manifest owns only reports at or below it`,
				`m.yaml:5:27: reports[1]: "/abs/*.xml" is absolute: report globs are relative to the manifest's folder`,
				`m.yaml:5:39: reports[2]: "a\\b" contains a backslash: separate folders with /, and write a literal * ? [ { as [*] [?] [[] [{]`,
				`m.yaml:5:46: reports[3]: glob "[x": unclosed '[' at offset 0`,
			}},
		{"empty environment value", "m.yaml", minimal + "environment:\n  OS: \"\"\n",
			[]string{`m.yaml:6:7: environment.OS: a taxonomy value must not be empty`}},
		{"duplicate id", "m.yaml", minimal + "backlog_items: [5, 6, 5]\n",
			[]string{`m.yaml:5:23: backlog_items[2]: id 5 is listed twice`}},
		{"not a mapping", "m.yaml", "- a\n- b\n",
			[]string{`m.yaml:1:1: a manifest must be a mapping of keys to values, got a list`}},
		{"empty", "m.yaml", "# nothing\n",
			[]string{`m.yaml:1:1: empty manifest: it needs at least version, server.instance_id, job.id and build.id`}},
		{"two documents", "m.yaml", minimal + "---\nversion: 1\n",
			[]string{`m.yaml:5:1: a second YAML document: a manifest is one document (remove the '---' separator)`}},
		{"yaml syntax", "m.yaml", "version: 1\nserver: {instance_id: a\njob: {id: j}\n",
			[]string{`m.yaml:2: invalid YAML: did not find expected ',' or '}'`}},
		{"yaml syntax: scanner", "m.yaml", "version: 1\nserver:\n  instance_id: a\n   bad: x\n",
			[]string{`m.yaml:4: invalid YAML: mapping values are not allowed in this context`}},
		{"yaml syntax: first line", "m.yaml", "version: [1\n",
			[]string{`m.yaml:1: invalid YAML: did not find expected ',' or ']'`}},
		{"yaml invalid utf-8", "m.yaml", "version: 1\nserver: {instance_id: \"a\xffb\"}\n",
			[]string{`m.yaml:2:25: invalid YAML: not valid UTF-8 (byte 0xff)`}},
		{"yaml control character", "m.yaml", "version: 1\njob: {id: a\x01}\n",
			[]string{`m.yaml:2:12: invalid YAML: the character U+0001 is not allowed in YAML`}},
		{"merge key", "m.yaml", "base: &b {instance_id: a}\n",
			[]string{`m.yaml:1:1: base: unknown key; known keys: version, apiVersion, server, pipeline, job, build, parameters, causes, reports, release, release_id, milestone_id, environment, test_fields, product_areas, backlog_items, run_link`,
				`m.yaml:1:1: version: required field is missing`,
				`m.yaml:1:1: server.instance_id: required field is missing`,
				`m.yaml:1:1: job.id: required field is missing`,
				`m.yaml:1:1: build.id: required field is missing`}},
		{"json syntax", "m.json", "{\n  \"version\": 1,\n  \"server\": {\"instance_id\": \"a\",}\n}\n",
			[]string{`m.json:3:33: invalid JSON: invalid character '}' looking for beginning of object key string`}},
		{"json truncated", "m.json", "{\n  \"version\": 1,\n",
			[]string{`m.json:3:1: invalid JSON: unexpected end of input`}},
		{"json trailing data", "m.json", "{\"version\": 1} {}",
			[]string{`m.json:1:16: invalid JSON: more data after the top-level object`}},
		{"json types and positions", "m.json", "{\n  \"version\": 1,\n  \"server\": {\"instance_id\": \"a\"},\n  \"job\": {\"id\": \"j\"},\n  \"build\": {\"id\": \"b\", \"duration\": 1.5, \"started\": \"2026-11-20\"},\n  \"milestone_id\": true\n}\n",
			[]string{
				`m.json:5:36: build.duration: milliseconds must be an integer, got 1.5 (or write a duration such as 1.5s)`,
				`m.json:5:52: build.started: "2026-11-20" has no time of day; write an RFC 3339 date-time such as 2026-11-20T09:14:03Z`,
				`m.json:6:19: milestone_id: expected an id (a positive integer), got a boolean (true)`,
			}},
		{"json invalid utf-8", "m.json", "{\n \"version\": \"\xc3\"}",
			[]string{`m.json:2:14: invalid JSON: not valid UTF-8 (byte 0xc3)`}},
		{"no path", "", "version: 1\n",
			[]string{`<manifest>:1:1: server.instance_id: required field is missing`, `<manifest>:1:1: job.id: required field is missing`, `<manifest>:1:1: build.id: required field is missing`}},
		{"windows path glob", "m.yaml", minimal + "reports: ['C:/ci/*.xml']\n",
			[]string{`m.yaml:5:11: reports[0]: "C:/ci/*.xml" is absolute: report globs are relative to the manifest's folder`}},
		{"json duplicate key", "m.json", `{"version": 1, "version": 1, "server": {"instance_id": "a"}, "job": {"id": "j"}, "build": {"id": "b"}}`,
			[]string{`m.json:1:16: version: duplicate key (first at line 1)`}},
		{"many problems at once", "m.yaml", "version: 1\nserver: {instance_id: a}\njob: {id: j, nme: x}\nbuild: {id: b, result: ok, started: 2026-11-20T09:14:03}\nreports: 5\n",
			[]string{
				`m.yaml:3:14: job.nme: unknown key (did you mean name?)`,
				`m.yaml:4:24: build.result: "ok" is not one of success, failure, unstable, aborted, unavailable`,
				`m.yaml:4:37: build.started: "2026-11-20T09:14:03" has no time zone; add Z for UTC or an offset such as +01:00 (like 2026-11-20T09:14:03Z)`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.in), tc.file)
			if err == nil {
				t.Fatalf("parsed without error: %+v", m)
			}
			if m != nil {
				t.Error("a manifest came back with the error")
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if want := tc.file; me.File != want && !(want == "" && me.File == "<manifest>") {
				t.Errorf("Error.File = %q, want %q", me.File, tc.file)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(*Manifest) bool
	}{
		{"apiVersion instead of version", "", nil},
		{"result case-insensitive", "build: {id: b, result: SUCCESS, status: Running}\n", func(m *Manifest) bool {
			return m.Result == "success" && m.Status == "running"
		}},
		{"epoch ms", "build: {id: b, started: 1795172562417}\n", func(m *Manifest) bool {
			return m.Started.Equal(time.UnixMilli(1795172562417)) && m.Started.Location() == time.UTC
		}},
		{"epoch ms as string", "build: {id: b, started: \"1795172562417\"}\n", func(m *Manifest) bool {
			return m.Started.UnixMilli() == 1795172562417
		}},
		{"offset date kept as instant", "build: {id: b, started: 2026-11-20T10:14:03.5+01:00}\n", func(m *Manifest) bool {
			return m.Started.Equal(time.Date(2026, 11, 20, 9, 14, 3, 5e8, time.UTC))
		}},
		{"space separator", "build: {id: b, started: 2026-11-20 09:14:03Z}\n", func(m *Manifest) bool {
			return m.Started.Equal(time.Date(2026, 11, 20, 9, 14, 3, 0, time.UTC))
		}},
		{"duration string", "build: {id: b, duration: 1h2m3.5s}\n", func(m *Manifest) bool {
			return m.Duration == time.Hour+2*time.Minute+3500*time.Millisecond
		}},
		{"duration ms", "build: {id: b, duration: 120490}\n", func(m *Manifest) bool { return m.Duration == 120490*time.Millisecond }},
		{"numeric build id", "build: {id: 1041, name: 1041}\n", func(m *Manifest) bool { return m.BuildID == "1041" && m.BuildName == "1041" }},
		{"parameters short form", "build: {id: b}\nparameters: {A: x, B: true, C: 3, D: 2.5, E: ~}\n", func(m *Manifest) bool {
			return reflect.DeepEqual(m.Parameters, []Parameter{{"A", "string", "x"}, {"B", "boolean", "true"}, {"C", "number", "3"}, {"D", "number", "2.5"}, {"E", "string", ""}})
		}},
		{"test field keys case-insensitive", "build: {id: b}\ntest_fields: {test_level: Unit Test, FRAMEWORK: JUnit}\n", func(m *Manifest) bool {
			return reflect.DeepEqual(m.TestFields, map[string]string{"Test_Level": "Unit Test", "Framework": "JUnit"})
		}},
		{"ids as strings", "build: {id: b}\nrelease_id: \"1001\"\nmilestone_id: 2002\nproduct_areas: [\"3001\", 3002]\n", func(m *Manifest) bool {
			return m.ReleaseID == 1001 && m.Milestone == 2002 && reflect.DeepEqual(m.ProductAreas, []int64{3001, 3002})
		}},
		{"single report glob, ./ prefix", "build: {id: b}\nreports: ./out/*.xml\n", func(m *Manifest) bool {
			return reflect.DeepEqual(m.Reports, []string{"out/*.xml"})
		}},
		{"empty report list", "build: {id: b}\nreports: []\n", func(m *Manifest) bool { return m.Reports != nil && len(m.Reports) == 0 }},
		{"nulls are absent", "build: {id: b, name: ~, result: ~}\nrelease: ~\nparameters: ~\nenvironment: ~\n", func(m *Manifest) bool {
			return m.BuildName == "b" && m.Result == "" && m.Parameters == nil && m.Environment == nil
		}},
		{"aliases", "build: {id: &x b}\npipeline: {root_job: *x}\n", func(m *Manifest) bool { return m.RootJob == "b" }},
		{"colon in glob", "build: {id: b}\nreports: ['a:b/*.xml', 'ab:c.xml']\n", func(m *Manifest) bool { return len(m.Reports) == 2 }},
		{"255 characters", "build: {id: " + strings.Repeat("é", 255) + "}\n", func(m *Manifest) bool { return len([]rune(m.BuildID)) == 255 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "apiVersion: octane-import/v1\nserver: {instance_id: ci}\njob: {id: j}\n" + tc.extra
			if !strings.Contains(tc.extra, "build:") {
				in += "build: {id: b}\n"
			}
			m, err := Parse([]byte(in), "m.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != 1 {
				t.Errorf("Version = %d", m.Version)
			}
			if tc.check != nil && !tc.check(m) {
				t.Errorf("unexpected manifest: %+v", m)
			}
		})
	}
}

func TestJSONAndYAMLAgree(t *testing.T) {
	y := "version: 1\nserver: {instance_id: ci, url: 'https://ci.example.com'}\njob: {id: j}\nbuild: {id: '9', started: '2026-11-20T09:14:03Z', duration: 1500}\nparameters: [{name: P, type: number, value: '3'}]\nenvironment: {OS: Linux}\n"
	j := `{"version": 1, "server": {"instance_id": "ci", "url": "https://ci.example.com"}, "job": {"id": "j"},
	"build": {"id": "9", "started": "2026-11-20T09:14:03Z", "duration": 1500},
	"parameters": [{"name": "P", "type": "number", "value": "3"}], "environment": {"OS": "Linux"}}`
	my, err := Parse([]byte(y), "a/octane-build.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mj, err := Parse([]byte(j), "a/octane-build.json")
	if err != nil {
		t.Fatal(err)
	}
	my.Path, mj.Path = "", ""
	if !reflect.DeepEqual(my, mj) {
		t.Errorf("YAML and JSON differ:\n%+v\n%+v", my, mj)
	}
	// JSON with a byte-order mark, and JSON given no path (sniffed).
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), j...), "m.json"); err != nil {
		t.Errorf("JSON with BOM: %v", err)
	}
	if m, err := Parse([]byte(j), ""); err != nil || m.Path != "" {
		t.Errorf("JSON without a path: %v, %+v", err, m)
	}
}

func TestOwns(t *testing.T) {
	dir := t.TempDir()
	mp := filepath.Join(dir, "build", "octane-build.yaml")
	m, err := Parse([]byte(minimal+"reports: [surefire-reports/TEST-*.xml, 'logs/**/*.{xml,junit}']\n"), mp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{filepath.Join(dir, "build", "surefire-reports", "TEST-a.xml"), true},
		{filepath.Join(dir, "build", "surefire-reports", "deep", "TEST-a.xml"), false},
		{filepath.Join(dir, "build", "logs", "x.junit"), true},
		{filepath.Join(dir, "build", "logs", "a", "b", "x.xml"), true},
		{filepath.Join(dir, "build", "other.xml"), false},
		{filepath.Join(dir, "surefire-reports", "TEST-a.xml"), false}, // outside
		{mp, false},
		{filepath.Join(dir, "build", "surefire-reports", "..", "surefire-reports", "TEST-b.xml"), true},
	}
	for _, tc := range tests {
		if got := m.Owns(tc.path); got != tc.want {
			t.Errorf("Owns(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}

	// The default glob, and never the manifest itself or another manifest.
	d, err := Parse([]byte(minimal), mp)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		filepath.Join(dir, "build", "r.xml"):                    true,
		filepath.Join(dir, "build", "a", "b", "r.xml"):          true,
		filepath.Join(dir, "build", "r.json"):                   false,
		filepath.Join(dir, "build", "sub", "octane-build.json"): false,
		filepath.Join(dir, "buildx", "r.xml"):                   false,
	} {
		if got := d.Owns(p); got != want {
			t.Errorf("default Owns(%s) = %v, want %v", p, got, want)
		}
	}
	jm, err := Parse([]byte(`{"version": 1, "server": {"instance_id": "a"}, "job": {"id": "j"}, "build": {"id": "b"}, "reports": ["*.json", "*"]}`), filepath.Join(dir, "octane-build.json"))
	if err != nil {
		t.Fatal(err)
	}
	if jm.Owns(filepath.Join(dir, "octane-build.json")) {
		t.Error("a manifest owns itself")
	}
	if !jm.Owns(filepath.Join(dir, "results.json")) {
		t.Error("*.json should own results.json")
	}

	// A hand-built Manifest (no Parse) compiles its globs on demand.
	hand := &Manifest{Path: mp, Reports: []string{"*.xml"}}
	if !hand.Owns(filepath.Join(dir, "build", "a.xml")) || hand.Owns(filepath.Join(dir, "build", "x", "a.xml")) {
		t.Error("hand-built manifest: wrong ownership")
	}
	if (&Manifest{Path: mp}).Owns(filepath.Join(dir, "build", "x", "a.xml")) != true {
		t.Error("nil Reports should mean the default glob")
	}
	if (&Manifest{}).Owns(filepath.Join(dir, "a.xml")) {
		t.Error("a manifest without a path owns nothing")
	}
	empty, err := Parse([]byte(minimal+"reports: []\n"), mp)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Owns(filepath.Join(dir, "build", "a.xml")) {
		t.Error("an empty reports list owns nothing")
	}
}

func TestFields(t *testing.T) {
	m, err := Parse([]byte(minimal+"release_id: 1001\nmilestone_id: 2002\nparameters: {BRANCH: main}\nenvironment: {OS: Linux}\ntest_fields: {Framework: JUnit}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := m.Fields()
	want := map[string]string{
		"server.instance_id": "ci-1", "server.name": "ci-1", "server.type": "", "server.url": "",
		"pipeline": "job-a", "root_job": "job-a", "job": "job-a", "job.name": "job-a", "build": "7", "build.name": "7",
		"status": "finished", "result": "", "release": "", "release_id": "1001", "milestone_id": "2002",
		"parameters.BRANCH": "main", "environment.OS": "Linux", "test_fields.Framework": "JUnit",
	}
	if !reflect.DeepEqual(got, want) {
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("Fields() = %v (keys %v), want %v", got, keys, want)
	}
}

func TestIsManifestName(t *testing.T) {
	for name, want := range map[string]bool{
		"octane-build.yaml": true, "octane-build.yml": true, "octane-build.json": true,
		"/a/b/octane-build.yaml": true, "Octane-Build.yaml": false, "octane-build.xml": false, "my-octane-build.yaml": false,
	} {
		if got := IsManifestName(name); got != want {
			t.Errorf("IsManifestName(%q) = %v", name, got)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big)
	var me *Error
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "larger than") || !strings.HasPrefix(err.Error(), big) {
		t.Errorf("big file: %v", err)
	}
	ok := filepath.Join(dir, "octane-build.yml")
	if err := os.WriteFile(ok, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(ok)
	if err != nil || m.Path != ok {
		t.Errorf("Load: %v, path %q", err, m.Path)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 3, Column: 4, Path: "a.b", Msg: "m"}, "f:3:4: a.b: m"},
		{Problem{File: "f", Line: 3, Msg: "m"}, "f:3: m"},
		{Problem{File: "f", Path: "x", Msg: "m"}, "f: x: m"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestFullExamplesAgree checks that the YAML and JSON spellings of the
// complete example (also shown in docs/manifest.md) read the same.
func TestFullExamplesAgree(t *testing.T) {
	var ms []*Manifest
	for _, name := range []string{"full.yaml", "full.json"} {
		m, err := Load(filepath.Join("testdata", "cases", name))
		if err != nil {
			t.Fatal(err)
		}
		m.Path = ""
		ms = append(ms, m)
	}
	if !reflect.DeepEqual(ms[0], ms[1]) {
		t.Errorf("full.yaml and full.json differ:\n%+v\n%+v", ms[0], ms[1])
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"full.yaml", "full.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "cases", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSyntaxErrorLines checks that a YAML syntax error is reported on the
// line the mistake is on (issue 14, item 12), as for the configuration.
func TestSyntaxErrorLines(t *testing.T) {
	const doc = `version: 1
server:
  instance_id: ci-1
  name: CI
job:
  id: job-a
build:
  id: "7"
  name: Build 7
parameters:
  BRANCH: main
  COMMIT: abc
reports: ["**/*.xml"]
`
	// Each case changes one line of doc (or adds one), and names the first problem.
	tests := map[string][3]string{
		"unclosed quote, first key of a mapping": {"  BRANCH: main\n", "  BRANCH: \"main\n",
			`m.yaml:11: invalid YAML: a quoted value starts here and runs on to line 13, where: did not find expected alphabetic or numeric character (is its closing quote missing?)`},
		"unclosed quote, later key of a mapping": {"  COMMIT: abc\n", "  COMMIT: \"abc\n",
			`m.yaml:12: invalid YAML: a quoted value starts here and runs on to line 13, where: did not find expected alphabetic or numeric character (is its closing quote missing?)`},
		"unclosed quote on the last line": {`reports: ["**/*.xml"]`, `reports: "**/*.xml`, `m.yaml:13: invalid YAML: found unexpected end of stream`},
		"unclosed quote on line 1":        {"version: 1\n", "version: '1\n", `m.yaml:1: invalid YAML: found unexpected end of stream`},
		"bad indent, less": {"parameters:\n  BRANCH: main\n  COMMIT: abc\n", "causes:\n  - job: root\n   build: \"12\"\n",
			`m.yaml:12: invalid YAML: did not find expected '-' indicator (check the indentation of this line)`},
		"bad indent, more":           {"  name: CI\n", "   name: CI\n", `m.yaml:4: invalid YAML: mapping values are not allowed in this context`},
		"unclosed brace":             {"  BRANCH: main\n", "  BRANCH: {a: b\n", `m.yaml:11: invalid YAML: did not find expected ',' or '}'`},
		"unclosed bracket on line 1": {"version: 1\n", "version: [1\n", `m.yaml:1: invalid YAML: did not find expected ',' or ']'`},
		"tab":                        {"  id: job-a\n", "\tid: job-a\n", `m.yaml:6: invalid YAML: found character that cannot start any token`},
		"tab on line 1":              {"version: 1\n", "\tversion: 1\n", `m.yaml:1: invalid YAML: found character that cannot start any token`},
		"unknown anchor":             {"  COMMIT: abc\n", "  COMMIT: *nope\n", `m.yaml:12: invalid YAML: unknown anchor 'nope' referenced`},
		"invalid UTF-8":              {"  COMMIT: abc\n", "  COMMIT: \"a\xffb\"\n", `m.yaml:12:13: invalid YAML: not valid UTF-8 (byte 0xff)`},
		"second document":            {`reports: ["**/*.xml"]` + "\n", `reports: ["**/*.xml"]` + "\n---\nx: 1\n", `m.yaml:14:1: a second YAML document: a manifest is one document (remove the '---' separator)`},
	}
	for name, tc := range tests {
		src := strings.Replace(doc, tc[0], tc[1], 1)
		if src == doc {
			t.Fatalf("%s: the edit does not apply", name)
		}
		_, err := Parse([]byte(src), "m.yaml")
		if err == nil {
			t.Errorf("%s: parsed", name)
			continue
		}
		if first, _, _ := strings.Cut(err.Error(), "\n"); first != tc[2] {
			t.Errorf("%s:\n got %s\nwant %s", name, first, tc[2])
		}
	}
}
