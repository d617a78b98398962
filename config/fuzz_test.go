package config

import (
	"os"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/mapping"
)

// FuzzParse feeds arbitrary files to Parse and decides a few paths with
// whatever loads: neither may panic, and a failed load must say why.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/mistakes.yaml", "../docs/examples/octane-import.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(minimal))
	f.Add([]byte("rules: [{match: {path: '{a}/{b}/**'}, set: {job: '{a|replace:x:y}', build: '{b}'}}]"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("<<: {<<: {}}"))
	env := testkit.LookupEnv(map[string]string{"OCTANE_CLIENT_ID": "a", "OCTANE_CLIENT_SECRET": "b"})
	inputs := []mapping.Input{
		{Path: "/d/a/b/c.xml", Root: "/d", Env: env, ModTime: time.Unix(1, 0)},
		{Path: "/d/x.xml", Root: "/d", Env: env, Manifest: mustManifest(f, "/d/octane-build.yaml", "version: 1\nserver: {instance_id: s}\njob: {id: j}\nbuild: {id: '1'}\n"),
			Report: mapping.ReportFacts{Properties: map[string]string{"a": "b"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml", env)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, in := range inputs {
			d, err := cfg.Rules.Decide(in)
			if err == nil && d == nil {
				t.Fatal("nil decision without error")
			}
		}
	})
}

func mustManifest(t testing.TB, path, src string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte(src), path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
