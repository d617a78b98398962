package importer

import "testing"

func TestSourceGlobs(t *testing.T) {
	s := Source{Dir: "/drops", Exclude: []string{"**/tmp/**"}}
	if err := s.Compile(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel              string
		report, manifest bool
	}{
		{"a/b/TEST-1.xml", true, false},
		{"TEST-1.xml", true, false},
		{"a/tmp/TEST-1.xml", false, false},
		{"a/octane-build.yaml", false, true},
		{"octane-build.json", false, true},
		{"a/tmp/octane-build.yml", false, false},
		{"a/readme.txt", false, false},
	}
	for _, tc := range tests {
		if got := s.IsReport(tc.rel); got != tc.report {
			t.Errorf("IsReport(%q) = %v", tc.rel, got)
		}
		if got := s.IsManifest(tc.rel); got != tc.manifest {
			t.Errorf("IsManifest(%q) = %v", tc.rel, got)
		}
	}
	// A Source built without Compile still works (compiling on the fly), and
	// a manifest is never a report even when the include would take it.
	raw := Source{Dir: "/x", Include: []string{"**"}}
	if raw.IsReport("b/octane-build.yaml") || !raw.IsManifest("b/octane-build.yaml") || !raw.IsReport("b/r.xml") {
		t.Error("uncompiled source: wrong classification")
	}
	bad := Source{Include: []string{"[abc"}}
	if err := bad.Compile(); err == nil {
		t.Error("Compile accepted a bad glob")
	}
	if bad.IsReport("a") {
		t.Error("a source with a bad glob matched")
	}
}
