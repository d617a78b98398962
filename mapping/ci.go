package mapping

import (
	"net/url"
	"strings"
)

// CI is what a CI system says, in its documented environment variables, about the job the
// importer runs in: where a post-build step's results belong.
type CI struct {
	System string // the CI's name, for people: "GitHub Actions"
	Server Server // the CI server (instance id, name, type, url)
	// Pipeline, Job and Build are Octane's pipeline name, job id and build id; JobName and
	// BuildName their display names.
	Pipeline, Job, JobName, Build, BuildName string
	Start                                    string // the build's start (RFC 3339) when the CI says it, else ""
	URL                                      string // the build's page
}

// DetectCI reads the environment of the CI systems octane-import knows (GitHub Actions,
// GitLab CI, Jenkins, Azure Pipelines, CircleCI, Buildkite, TeamCity, Bitbucket Pipelines,
// Bamboo) and says which one runs the importer, if any. A CI whose variables are only
// partly there (a job id, but no build number) is not taken.
func DetectCI(env func(string) (string, bool)) (*CI, bool) {
	get := func(k string) string {
		v, _ := env(k)
		return strings.TrimSpace(v)
	}
	for _, d := range detectors {
		if ci := d(get); ci != nil && ci.Job != "" && ci.Build != "" && ci.Server.InstanceID != "" {
			ci.JobName = firstOf(ci.JobName, ci.Job)
			ci.BuildName = firstOf(ci.BuildName, ci.Build)
			ci.Pipeline = firstOf(ci.Pipeline, ci.JobName)
			ci.Server.Name = firstOf(ci.Server.Name, ci.Server.InstanceID)
			return ci, true
		}
	}
	return nil, false
}

var detectors = []func(get func(string) string) *CI{
	github, gitlab, jenkins, azure, circleci, buildkite, teamcity, bitbucket, bamboo,
}

// github reads GitHub Actions' default variables
// (docs.github.com/actions/reference/variables-reference).
func github(get func(string) string) *CI {
	if get("GITHUB_ACTIONS") != "true" {
		return nil
	}
	srv, repo, owner := strings.TrimRight(get("GITHUB_SERVER_URL"), "/"), get("GITHUB_REPOSITORY"), get("GITHUB_REPOSITORY_OWNER")
	if srv == "" {
		srv = "https://github.com"
	}
	if owner == "" {
		owner, _, _ = strings.Cut(repo, "/")
	}
	workflow := firstOf(get("GITHUB_WORKFLOW"), "workflow")
	build, attempt := get("GITHUB_RUN_ID"), get("GITHUB_RUN_ATTEMPT")
	if attempt != "" && attempt != "1" && build != "" {
		build += "-" + attempt // a re-run is another build of the job
	}
	ci := &CI{System: "GitHub Actions",
		Server:   Server{InstanceID: "github-actions:" + host(srv) + "/" + owner, Name: "GitHub Actions " + owner, Type: "github_actions", URL: srv + "/" + owner},
		Pipeline: repo + " " + workflow, Job: repo + "/" + workflow + "/" + get("GITHUB_JOB"), JobName: workflow + " / " + get("GITHUB_JOB"),
		Build: build, BuildName: "#" + get("GITHUB_RUN_NUMBER")}
	if get("GITHUB_RUN_ID") != "" {
		ci.URL = srv + "/" + repo + "/actions/runs/" + get("GITHUB_RUN_ID")
	}
	if get("GITHUB_JOB") == "" || repo == "" {
		return nil
	}
	return ci
}

// gitlab reads GitLab CI's predefined variables (docs.gitlab.com/ci/variables/predefined_variables).
func gitlab(get func(string) string) *CI {
	if get("GITLAB_CI") != "true" {
		return nil
	}
	srv := strings.TrimRight(get("CI_SERVER_URL"), "/")
	project := get("CI_PROJECT_PATH")
	return &CI{System: "GitLab CI",
		Server:   Server{InstanceID: "gitlab:" + firstOf(get("CI_SERVER_HOST"), host(srv)), Name: "GitLab " + firstOf(get("CI_SERVER_HOST"), host(srv)), Type: "gitlab", URL: srv},
		Pipeline: project, Job: project + "/" + get("CI_JOB_NAME"), JobName: get("CI_JOB_NAME"),
		Build: get("CI_JOB_ID"), BuildName: "#" + get("CI_JOB_ID") + " (pipeline #" + get("CI_PIPELINE_IID") + ")",
		Start: get("CI_JOB_STARTED_AT"), URL: get("CI_JOB_URL")}
}

// jenkins reads the variables Jenkins sets for every build (JENKINS_URL/env-vars.html).
func jenkins(get func(string) string) *CI {
	u := get("JENKINS_URL")
	if u == "" || get("BUILD_NUMBER") == "" || get("JOB_NAME") == "" {
		return nil
	}
	top, _, _ := strings.Cut(get("JOB_NAME"), "/")
	return &CI{System: "Jenkins",
		Server:   Server{InstanceID: "jenkins:" + host(u) + strings.TrimRight(urlPath(u), "/"), Name: "Jenkins " + host(u), Type: "jenkins", URL: u},
		Pipeline: top, Job: get("JOB_NAME"), JobName: firstOf(get("JOB_BASE_NAME"), get("JOB_NAME")),
		Build: get("BUILD_NUMBER"), BuildName: firstOf(get("BUILD_DISPLAY_NAME"), "#"+get("BUILD_NUMBER")), URL: get("BUILD_URL")}
}

// azure reads Azure Pipelines' predefined variables (learn.microsoft.com/azure/devops/pipelines/build/variables).
func azure(get func(string) string) *CI {
	if !strings.EqualFold(get("TF_BUILD"), "true") {
		return nil
	}
	coll := get("SYSTEM_COLLECTIONURI")
	project, def := get("SYSTEM_TEAMPROJECT"), get("BUILD_DEFINITIONNAME")
	ci := &CI{System: "Azure Pipelines",
		Server:   Server{InstanceID: "azure-devops:" + host(coll) + strings.TrimRight(urlPath(coll), "/"), Name: "Azure DevOps " + host(coll) + strings.TrimRight(urlPath(coll), "/"), Type: "azure_devops", URL: coll},
		Pipeline: project + "/" + def, Job: project + "/" + def + "/" + firstOf(get("SYSTEM_JOBNAME"), "job"), JobName: def + " / " + firstOf(get("SYSTEM_JOBDISPLAYNAME"), get("SYSTEM_JOBNAME")),
		Build: get("BUILD_BUILDID"), BuildName: get("BUILD_BUILDNUMBER")}
	if coll != "" && get("BUILD_BUILDID") != "" {
		ci.URL = strings.TrimRight(coll, "/") + "/" + url.PathEscape(project) + "/_build/results?buildId=" + get("BUILD_BUILDID")
	}
	if coll == "" || def == "" {
		return nil
	}
	return ci
}

// circleci reads CircleCI's built-in variables (circleci.com/docs/variables).
func circleci(get func(string) string) *CI {
	if get("CIRCLECI") != "true" {
		return nil
	}
	org, repo := get("CIRCLE_PROJECT_USERNAME"), get("CIRCLE_PROJECT_REPONAME")
	return &CI{System: "CircleCI",
		Server:   Server{InstanceID: "circleci:" + org, Name: "CircleCI " + org, Type: "circleci", URL: "https://app.circleci.com/pipelines/" + org},
		Pipeline: org + "/" + repo, Job: org + "/" + repo + "/" + get("CIRCLE_JOB"), JobName: get("CIRCLE_JOB"),
		Build: get("CIRCLE_BUILD_NUM"), BuildName: "#" + get("CIRCLE_BUILD_NUM"), URL: get("CIRCLE_BUILD_URL")}
}

// buildkite reads Buildkite's job environment (buildkite.com/docs/pipelines/environment-variables).
func buildkite(get func(string) string) *CI {
	if get("BUILDKITE") != "true" {
		return nil
	}
	org, pipe := get("BUILDKITE_ORGANIZATION_SLUG"), get("BUILDKITE_PIPELINE_SLUG")
	step := firstOf(get("BUILDKITE_STEP_KEY"), get("BUILDKITE_LABEL"), "step")
	return &CI{System: "Buildkite",
		Server:   Server{InstanceID: "buildkite:" + org, Name: "Buildkite " + org, Type: "buildkite", URL: "https://buildkite.com/" + org},
		Pipeline: org + "/" + pipe, Job: org + "/" + pipe + "/" + step, JobName: firstOf(get("BUILDKITE_LABEL"), step),
		Build: get("BUILDKITE_BUILD_NUMBER"), BuildName: "#" + get("BUILDKITE_BUILD_NUMBER"), URL: get("BUILDKITE_BUILD_URL")}
}

// teamcity reads the environment TeamCity gives a build (jetbrains.com/help/teamcity/predefined-build-parameters).
// TeamCity sets no server address in the environment: its builds share one CI server.
func teamcity(get func(string) string) *CI {
	if get("TEAMCITY_VERSION") == "" {
		return nil
	}
	project, conf := get("TEAMCITY_PROJECT_NAME"), get("TEAMCITY_BUILDCONF_NAME")
	return &CI{System: "TeamCity",
		Server:   Server{InstanceID: "teamcity", Name: "TeamCity", Type: "teamcity"},
		Pipeline: project, Job: project + "/" + conf, JobName: conf,
		Build: get("BUILD_NUMBER"), BuildName: "#" + get("BUILD_NUMBER")}
}

// bitbucket reads Bitbucket Pipelines' default variables
// (support.atlassian.com/bitbucket-cloud/docs/variables-and-secrets).
func bitbucket(get func(string) string) *CI {
	if get("BITBUCKET_BUILD_NUMBER") == "" || get("BITBUCKET_REPO_SLUG") == "" {
		return nil
	}
	ws, repo, n := get("BITBUCKET_WORKSPACE"), get("BITBUCKET_REPO_SLUG"), get("BITBUCKET_BUILD_NUMBER")
	return &CI{System: "Bitbucket Pipelines",
		Server:   Server{InstanceID: "bitbucket:" + ws, Name: "Bitbucket " + ws, Type: "bitbucket", URL: "https://bitbucket.org/" + ws},
		Pipeline: ws + "/" + repo, Job: ws + "/" + repo, JobName: repo,
		Build: n, BuildName: "#" + n, URL: "https://bitbucket.org/" + ws + "/" + repo + "/pipelines/results/" + n}
}

// bamboo reads Bamboo's build variables, which reach the environment as bamboo_<name>
// (confluence.atlassian.com/bamboo/bamboo-variables).
func bamboo(get func(string) string) *CI {
	if get("bamboo_buildKey") == "" || get("bamboo_buildNumber") == "" {
		return nil
	}
	results := get("bamboo_resultsUrl")
	return &CI{System: "Bamboo",
		Server:   Server{InstanceID: "bamboo:" + host(results), Name: "Bamboo " + host(results), Type: "bamboo", URL: scheme(results) + host(results)},
		Pipeline: firstOf(get("bamboo_planName"), get("bamboo_planKey")), Job: get("bamboo_buildKey"), JobName: firstOf(get("bamboo_shortJobName"), get("bamboo_buildKey")),
		Build: get("bamboo_buildNumber"), BuildName: firstOf(get("bamboo_buildResultKey"), "#"+get("bamboo_buildNumber")), URL: results}
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func host(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Host
}

func urlPath(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Path
}

func scheme(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return ""
	}
	return p.Scheme + "://"
}
