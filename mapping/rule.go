package mapping

import (
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Rule is one entry of the `rules:` list. Rules are tried in order; the
// first whose every condition holds decides the report.
type Rule struct {
	Name     string // as written, or "" (the decision then says "rule N")
	Line     int    // line of the rule in the file (0 for the built-in default)
	Target   string // the target it sends to (the first target when the file names none)
	Path     string // the path pattern, "" when none
	Regexp   string // the regular expression, "" when none
	CatchAll bool   // the rule matches every report
	Timezone string // the zone of zone-less report timestamps ("" = the source's, else the machine's)
	// TestNaming is how a test's classname becomes Octane's package and class: "split" (the
	// default), "clt" or "converter" (docs/test-naming.md); "" = the target's.
	TestNaming string

	index       int // 1-based position in the list
	path        *pathPattern
	re          *regexp.Regexp
	manifest    []fieldCond
	property    []fieldCond
	env         []fieldCond
	hasManifest *bool
	set         ruleSet
	// derive, when set, supplies captures computed in code from the report's
	// absolute path (the built-in default rule's job and build).
	derive func(path string) map[string]string
	// zone reads the report's zone-less timestamps (Timezone), nil when unset.
	zone *time.Location
	// CI is the CI job a built-in rule describes (DefaultFor), nil otherwise.
	CI *CI
}

type fieldCond struct {
	key string
	w   *wildcard
}

type namedTemplate struct {
	key string
	t   *template
}

type ruleSet struct {
	serverInstanceID, serverName, serverType, serverURL *template
	pipeline, job, jobName, build, buildName            *template
	startMode                                           string // "suite" (default), "mtime" or "template"
	start                                               *template
	result                                              string // "" = derive from runs
	release, releaseID, milestone                       *template
	environment, testFields                             []namedTemplate
	productAreas, backlogItems                          []*template
	buildURL                                            *template // the build's page (links runs back to the CI)
	runLink                                             *template // each run's link; may name {package}, {class}, {name}, {suite}
}

// label is how decisions and problems name the rule.
func (r *Rule) label() string {
	if r.Name != "" {
		return r.Name
	}
	return "rule " + strconv.Itoa(r.index)
}

// describe names the rule in messages: rule "name", or rule N.
func (r *Rule) describe() string {
	if r.Name != "" {
		return "rule " + strconv.Quote(r.Name)
	}
	return "rule " + strconv.Itoa(r.index)
}

// captureNames lists what the rule's path pattern and regexp capture.
func (r *Rule) captureNames() map[string]bool {
	names := map[string]bool{}
	if r.path != nil {
		for _, n := range r.path.captures {
			names[n] = true
		}
	}
	if r.re != nil {
		for _, n := range r.re.SubexpNames() {
			if n != "" {
				names[n] = true
			}
		}
	}
	return names
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isCatchAllRegexp recognises the regular expressions that match every path.
func isCatchAllRegexp(src string) bool {
	switch src {
	case ".*", "^.*", "^.*$", ".*$", "(?s).*", "^(?s).*$", ".+", "^.+$", "^.+", "":
		return true
	}
	return false
}

// ExpectManifests reports whether some rule asks for a build manifest: it matches on
// manifest fields or on has_manifest: true. A watcher then waits for a report's manifest.
func (rs Rules) ExpectManifests() bool {
	for _, r := range rs {
		if len(r.manifest) > 0 || (r.hasManifest != nil && *r.hasManifest) {
			return true
		}
	}
	return false
}
