package mapping

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func at(h, m int) time.Time { return time.Date(2026, 11, 20, h, m, 0, 0, time.UTC) }

// decision is a report's decision as Decide makes it, with the start and duration given.
func decision(start time.Time, startFrom string, dur time.Duration, durFrom string) *Decision {
	d := &Decision{Target: "prod", Server: Server{InstanceID: "s", Name: "s"}, Pipeline: "p", RootJob: "j", RootJobName: "j",
		Job: "j", JobName: "j", Build: "1", BuildName: "1", Start: start, Duration: dur, Status: "finished",
		From: map[string]string{"server": "rule", "pipeline": "rule", "root_job": "default", "job": "rule", "build": "rule",
			"start": startFrom, "status": "default"}}
	if durFrom != "" {
		d.From["duration"] = durFrom
	}
	return d
}

// The reports of one build merge field by field; the result does not depend on their order.
func TestBuildMergesReportsInAnyOrder(t *testing.T) {
	manifest := decision(at(9, 14), "manifest", 151*time.Second, "manifest")
	manifest.From["server"], manifest.Server = "manifest", Server{InstanceID: "s", Name: "Jenkins", Type: "jenkins"}
	manifest.Result, manifest.From["result"] = "unstable", "manifest"
	manifest.Parameters, manifest.From["parameters"] = []Parameter{{Name: "BRANCH", Value: "main"}}, "manifest"
	early := decision(at(9, 0), "report", 2*time.Minute, "report") // a suite that says it ran earlier
	late := decision(at(9, 30), "report", time.Minute, "report")

	tests := []struct {
		name   string
		decs   []*Decision
		failed []int
		start  time.Time
		from   string
		dur    time.Duration
		result string
	}{
		// Issue 12, defect 4: the manifest's start is never widened by a report's timestamp.
		{"manifest start stands", []*Decision{manifest, early, late}, []int{0, 0, 0}, at(9, 14), "manifest", 151 * time.Second, "unstable"},
		// Without a manifest: the earliest start, the latest end.
		{"reports span", []*Decision{early, late}, []int{0, 1}, at(9, 0), "report", 31 * time.Minute, "failure"},
		{"one report", []*Decision{late}, []int{0}, at(9, 30), "report", time.Minute, "success"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first *Build
			for _, order := range permutations(len(tc.decs)) {
				b := &Build{}
				for _, i := range order {
					b.Add(tc.decs[i], 10, tc.failed[i])
				}
				if !b.Start.Equal(tc.start) || b.From["start"] != tc.from || b.Duration != tc.dur || b.Result != tc.result {
					t.Errorf("order %v: start %v [%s] duration %v result %s; want %v [%s] %v %s",
						order, b.Start, b.From["start"], b.Duration, b.Result, tc.start, tc.from, tc.dur, tc.result)
				}
				if b.Reports != len(tc.decs) || b.Runs != 10*len(tc.decs) {
					t.Errorf("order %v: %d reports, %d runs", order, b.Reports, b.Runs)
				}
				if first == nil {
					first = b
				} else if !reflect.DeepEqual(first, b) {
					t.Errorf("order %v gives another build:\n%+v\n%+v", order, b, first)
				}
			}
		})
	}

	// What an earlier run recorded merges the same way.
	b := NewBuild(late, 10, 0)
	old := NewBuild(manifest, 10, 0)
	b.Merge(old)
	if !b.Start.Equal(at(9, 14)) || b.Duration != 151*time.Second || b.Server.Type != "jenkins" || len(b.Parameters) != 1 || b.Reports != 2 {
		t.Errorf("merged with the ledger's: %+v", b)
	}
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// Issue 12, defect 5: one description per CI server, the fullest, whatever sorts first;
// a conflict names both places.
func TestServersKeepTheFullestDescription(t *testing.T) {
	var s Servers
	rule := Server{InstanceID: "ci-1", Name: "ci-1", Type: "file"}
	man := Server{InstanceID: "ci-1", Name: "Payments Jenkins", Type: "jenkins", URL: "https://jenkins"}
	if got := s.Add("prod", rule, `rule "r" (line 3)`, "rule"); got != rule {
		t.Errorf("first: %+v", got)
	}
	if got := s.Add("prod", man, "manifest /d/octane-build.yaml", "manifest"); got != man {
		t.Errorf("fuller: %+v", got)
	}
	if got := s.Add("prod", rule, `rule "r" (line 3)`, "rule"); got != man {
		t.Errorf("a thinner one later does not replace it: %+v", got)
	}
	if got, _ := s.Get("prod", "ci-1"); got != man {
		t.Errorf("Get: %+v", got)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], `rule "r" (line 3)`) || !strings.Contains(s.Warnings[0], "manifest /d/octane-build.yaml") ||
		!strings.Contains(s.Warnings[0], "type file") || !strings.Contains(s.Warnings[0], "type jenkins") {
		t.Errorf("warnings: %q", s.Warnings)
	}
	// Another target is another server; a description that only adds values is no conflict.
	s.Add("staging", rule, "x", "rule")
	s.Add("staging", Server{InstanceID: "ci-1", Name: "ci-1", Type: "file", URL: "https://x"}, "y", "rule")
	if got, _ := s.Get("staging", "ci-1"); got.URL != "https://x" || len(s.Warnings) != 1 {
		t.Errorf("staging: %+v %q", got, s.Warnings)
	}
}
