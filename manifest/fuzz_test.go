package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/testkit"
)

// FuzzParse feeds arbitrary bytes to both front ends. Properties: no panic
// (Parse turns one into an "internal error" problem, which fails here), no
// hang (a watchdog fails an input that takes more than 10 s), every
// error is an *Error whose problems all name the file, and every accepted
// manifest satisfies the documented invariants and parses the same twice.
func FuzzParse(f *testing.F) {
	root := testkit.RepoRoot(f)
	for _, rel := range fixtures(f) {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(rel, ".json"))
	}
	cases, _ := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(c, ".json"))
	}
	f.Add([]byte(minimal), false)
	f.Add([]byte(minimal), true)
	f.Add([]byte("{\"version\": 1, \"build\": {\"started\": \"\\ud83d\"}}"), true)
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"), false)

	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		name := "dir/octane-build.yaml"
		if asJSON {
			name = "dir/octane-build.json"
		}
		var m *Manifest
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			m, err = Parse(data, name)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// A hang: the fuzzer records this input under testdata/fuzz.
			t.Fatalf("Parse has not returned after 10s on %q", data)
		}
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if len(me.Problems) == 0 {
				t.Fatal("an *Error without problems")
			}
			for _, p := range me.Problems {
				if p.File != name || p.Line < 0 || p.Column < 0 || p.Msg == "" {
					t.Fatalf("bad problem %+v", p)
				}
				if strings.Contains(p.Msg, "internal error") {
					t.Fatalf("panic inside Parse: %s", p.Msg)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Fatalf("error line %q does not start with the file name", line)
				}
			}
			return
		}
		if m.Version != Version || m.Server.InstanceID == "" || m.JobID == "" || m.BuildID == "" {
			t.Fatalf("required fields empty: %+v", m)
		}
		if m.Server.Name == "" || m.JobName == "" || m.BuildName == "" || m.Pipeline == "" || m.RootJob == "" {
			t.Fatalf("defaults not applied: %+v", m)
		}
		if !slices.Contains(Statuses, m.Status) || (m.Result != "" && !slices.Contains(Results, m.Result)) {
			t.Fatalf("bad status/result %q/%q", m.Status, m.Result)
		}
		for _, s := range []string{m.Server.InstanceID, m.Server.Name, m.JobID, m.JobName, m.BuildID, m.BuildName, m.Pipeline, m.RootJob, m.Release} {
			if utf8.RuneCountInString(s) > MaxLen || !utf8.ValidString(s) {
				t.Fatalf("field %q too long or not UTF-8", s)
			}
		}
		for k := range m.TestFields {
			if !slices.Contains(TestFieldTypes, k) {
				t.Fatalf("test field type %q", k)
			}
		}
		for _, p := range m.Parameters {
			if p.Name == "" || !slices.Contains(ParameterTypes, p.Type) {
				t.Fatalf("bad parameter %+v", p)
			}
		}
		if m.Release != "" && m.ReleaseID != 0 {
			t.Fatal("both release and release_id")
		}
		if m.Duration < 0 {
			t.Fatal("negative duration")
		}
		m.Fields()
		m.Owns(filepath.Join(filepath.Dir(m.Path), "a", "b.xml"))
		again, err := Parse(data, name)
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
