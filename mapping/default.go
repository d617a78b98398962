package mapping

import (
	"path/filepath"
	"slices"
	"strings"
)

// LeafFolders are the folder names test tools write their reports into. The built-in rule
// looks through them to the build's own folder: build/test-results/test/TEST-a.xml belongs
// to the build of the folder holding build/.
var LeafFolders = []string{
	"surefire-reports", "failsafe-reports", "test-results", "test-reports", "testresults", "reports",
	"junit", "junit-reports", "xunit", "results", "test", "tests", "target", "build", "out", "output",
}

// Default is the rule used when no file exists: one catch-all rule, "default", sending to
// the target "sandbox" (whose URL the command fills in):
//
//   - the build is the folder holding the report, looking through the folders test tools
//     write reports into (LeafFolders: surefire-reports, test-results, reports, junit ...),
//     so that a folder of reports is one build; the job is the folder above the build's;
//   - both come from the report's absolute path, so the decision is the same whatever path
//     names the report (the file, its folder or a folder above);
//   - the server's instance id and name are hostname, its type "file";
//   - the pipeline is named after the job.
//
// A manifest, when present, wins over these values as with any rule.
func Default(hostname string) Rules {
	if hostname == "" {
		hostname = "octane-import"
	}
	r := &Rule{
		Name:     "default",
		index:    1,
		Target:   "sandbox",
		CatchAll: true,
		derive:   DeriveJobBuild,
	}
	r.set = ruleSet{
		serverInstanceID: literal(hostname),
		serverName:       literal(hostname),
		serverType:       literal("file"),
		job:              reference("job"),
		build:            reference("build"),
		// No pipeline: it falls back to the job's name, which is the
		// manifest's job when there is one.
	}
	return Rules{r}
}

// DefaultFor is the rule without a file for a run in env: in a CI job that
// DetectCI recognises, the built-in rule "default (<CI>)" takes the server, pipeline, job,
// build, build name, start and the build's link from the CI, so that a post-build step
// needs no configuration; elsewhere the folder rule of Default.
func DefaultFor(hostname string, env func(string) (string, bool)) Rules {
	rules := Default(hostname)
	if env == nil {
		return rules
	}
	ci, ok := DetectCI(env)
	if !ok {
		return rules
	}
	r := rules[0]
	r.Name, r.derive, r.CI = "default ("+ci.System+")", nil, ci
	r.set = ruleSet{
		serverInstanceID: literal(ci.Server.InstanceID),
		serverName:       literal(ci.Server.Name),
		serverType:       literal(ci.Server.Type),
		serverURL:        literal(ci.Server.URL),
		pipeline:         literal(ci.Pipeline),
		job:              literal(ci.Job),
		jobName:          literal(ci.JobName),
		build:            literal(ci.Build),
		buildName:        literal(ci.BuildName),
		buildURL:         literal(ci.URL),
	}
	if ci.Start != "" {
		if _, err := parseStart(ci.Start); err == nil {
			r.set.startMode, r.set.start = "template", literal(ci.Start)
		}
	}
	return rules
}

func literal(s string) *template {
	return &template{src: s, parts: []tmplPart{{lit: s}}}
}

func reference(ref string) *template {
	return &template{src: "{" + ref + "}", parts: []tmplPart{{ref: ref}}}
}

// DeriveJobBuild gives the built-in rule's captures for a report's absolute path: "build",
// the name of the build's folder (the report's folder, looking through LeafFolders), and
// "job", the name of the folder above it ("root" at the top of the file system).
func DeriveJobBuild(path string) map[string]string {
	dir := filepath.Dir(filepath.Clean(path))
	for isLeafFolder(filepath.Base(dir)) && filepath.Dir(dir) != dir && filepath.Dir(filepath.Dir(dir)) != filepath.Dir(dir) {
		dir = filepath.Dir(dir)
	}
	build := folderName(dir)
	job := folderName(filepath.Dir(dir))
	if filepath.Dir(dir) == dir {
		job = build
	}
	return map[string]string{"job": job, "build": build}
}

func isLeafFolder(name string) bool {
	return slices.Contains(LeafFolders, strings.ToLower(name))
}

func folderName(dir string) string {
	name := filepath.Base(dir)
	if name == string(filepath.Separator) || name == "." || name == "" || strings.HasSuffix(name, ":\\") {
		return "root"
	}
	return name
}
