package mapping

import (
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// Each CI's documented environment, as a post-build step sees it (issue 14, item 2).
func TestDetectCI(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want CI
	}{
		{"GitHub Actions", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop",
			"GITHUB_REPOSITORY_OWNER": "acme", "GITHUB_WORKFLOW": "CI", "GITHUB_JOB": "test", "GITHUB_RUN_ID": "9001", "GITHUB_RUN_NUMBER": "42", "GITHUB_RUN_ATTEMPT": "2"},
			CI{System: "GitHub Actions", Server: Server{"github-actions:github.com/acme", "GitHub Actions acme", "github_actions", "https://github.com/acme"},
				Pipeline: "acme/shop CI", Job: "acme/shop/CI/test", JobName: "CI / test", Build: "9001-2", BuildName: "#42", URL: "https://github.com/acme/shop/actions/runs/9001"}},
		{"GitLab CI", map[string]string{"GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com", "CI_SERVER_HOST": "gitlab.example.com",
			"CI_PROJECT_PATH": "team/app", "CI_JOB_NAME": "unit", "CI_JOB_ID": "777", "CI_PIPELINE_IID": "12",
			"CI_JOB_STARTED_AT": "2026-11-20T10:00:00Z", "CI_JOB_URL": "https://gitlab.example.com/team/app/-/jobs/777"},
			CI{System: "GitLab CI", Server: Server{"gitlab:gitlab.example.com", "GitLab gitlab.example.com", "gitlab", "https://gitlab.example.com"},
				Pipeline: "team/app", Job: "team/app/unit", JobName: "unit", Build: "777", BuildName: "#777 (pipeline #12)",
				Start: "2026-11-20T10:00:00Z", URL: "https://gitlab.example.com/team/app/-/jobs/777"}},
		{"Jenkins", map[string]string{"JENKINS_URL": "https://ci.example.com/jenkins/", "JOB_NAME": "shop/main", "JOB_BASE_NAME": "main",
			"BUILD_NUMBER": "58", "BUILD_DISPLAY_NAME": "#58", "BUILD_URL": "https://ci.example.com/jenkins/job/shop/job/main/58/"},
			CI{System: "Jenkins", Server: Server{"jenkins:ci.example.com/jenkins", "Jenkins ci.example.com", "jenkins", "https://ci.example.com/jenkins/"},
				Pipeline: "shop", Job: "shop/main", JobName: "main", Build: "58", BuildName: "#58", URL: "https://ci.example.com/jenkins/job/shop/job/main/58/"}},
		{"Azure Pipelines", map[string]string{"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/", "SYSTEM_TEAMPROJECT": "Shop",
			"BUILD_DEFINITIONNAME": "shop-ci", "SYSTEM_JOBNAME": "Job", "SYSTEM_JOBDISPLAYNAME": "Unit tests", "BUILD_BUILDID": "314", "BUILD_BUILDNUMBER": "20261120.3"},
			CI{System: "Azure Pipelines", Server: Server{"azure-devops:dev.azure.com/acme", "Azure DevOps dev.azure.com/acme", "azure_devops", "https://dev.azure.com/acme/"},
				Pipeline: "Shop/shop-ci", Job: "Shop/shop-ci/Job", JobName: "shop-ci / Unit tests", Build: "314", BuildName: "20261120.3",
				URL: "https://dev.azure.com/acme/Shop/_build/results?buildId=314"}},
		{"CircleCI", map[string]string{"CIRCLECI": "true", "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "shop", "CIRCLE_JOB": "test",
			"CIRCLE_BUILD_NUM": "88", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/88"},
			CI{System: "CircleCI", Server: Server{"circleci:acme", "CircleCI acme", "circleci", "https://app.circleci.com/pipelines/acme"},
				Pipeline: "acme/shop", Job: "acme/shop/test", JobName: "test", Build: "88", BuildName: "#88", URL: "https://circleci.com/gh/acme/shop/88"}},
		{"Buildkite", map[string]string{"BUILDKITE": "true", "BUILDKITE_ORGANIZATION_SLUG": "acme", "BUILDKITE_PIPELINE_SLUG": "shop",
			"BUILDKITE_STEP_KEY": "unit", "BUILDKITE_LABEL": ":go: unit", "BUILDKITE_BUILD_NUMBER": "7", "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/shop/builds/7"},
			CI{System: "Buildkite", Server: Server{"buildkite:acme", "Buildkite acme", "buildkite", "https://buildkite.com/acme"},
				Pipeline: "acme/shop", Job: "acme/shop/unit", JobName: ":go: unit", Build: "7", BuildName: "#7", URL: "https://buildkite.com/acme/shop/builds/7"}},
		{"TeamCity", map[string]string{"TEAMCITY_VERSION": "2025.07", "TEAMCITY_PROJECT_NAME": "Shop", "TEAMCITY_BUILDCONF_NAME": "Unit", "BUILD_NUMBER": "101"},
			CI{System: "TeamCity", Server: Server{"teamcity", "TeamCity", "teamcity", ""},
				Pipeline: "Shop", Job: "Shop/Unit", JobName: "Unit", Build: "101", BuildName: "#101"}},
		{"Bitbucket Pipelines", map[string]string{"BITBUCKET_BUILD_NUMBER": "15", "BITBUCKET_WORKSPACE": "acme", "BITBUCKET_REPO_SLUG": "shop"},
			CI{System: "Bitbucket Pipelines", Server: Server{"bitbucket:acme", "Bitbucket acme", "bitbucket", "https://bitbucket.org/acme"},
				Pipeline: "acme/shop", Job: "acme/shop", JobName: "shop", Build: "15", BuildName: "#15", URL: "https://bitbucket.org/acme/shop/pipelines/results/15"}},
		{"Bamboo", map[string]string{"bamboo_buildKey": "SHOP-CI-JOB1", "bamboo_buildNumber": "23", "bamboo_planName": "Shop - CI",
			"bamboo_shortJobName": "Unit", "bamboo_buildResultKey": "SHOP-CI-JOB1-23", "bamboo_resultsUrl": "https://bamboo.example.com/browse/SHOP-CI-JOB1-23"},
			CI{System: "Bamboo", Server: Server{"bamboo:bamboo.example.com", "Bamboo bamboo.example.com", "bamboo", "https://bamboo.example.com"},
				Pipeline: "Shop - CI", Job: "SHOP-CI-JOB1", JobName: "Unit", Build: "23", BuildName: "SHOP-CI-JOB1-23", URL: "https://bamboo.example.com/browse/SHOP-CI-JOB1-23"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DetectCI(testkit.LookupEnv(tc.env))
			if !ok {
				t.Fatal("not detected")
			}
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
	for _, env := range []map[string]string{nil, {"CI": "true"}, {"GITHUB_ACTIONS": "true"}, {"JENKINS_URL": "https://j"}} {
		if ci, ok := DetectCI(testkit.LookupEnv(env)); ok {
			t.Errorf("%v: detected %+v from too little", env, ci)
		}
	}
}

// In a CI job, the built-in rule takes the build from the CI whatever the folders say.
func TestDefaultForACIJob(t *testing.T) {
	env := testkit.LookupEnv(map[string]string{"GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com", "CI_SERVER_HOST": "gitlab.example.com",
		"CI_PROJECT_PATH": "team/app", "CI_JOB_NAME": "unit", "CI_JOB_ID": "777", "CI_PIPELINE_IID": "12",
		"CI_JOB_STARTED_AT": "2026-11-20T10:00:00Z", "CI_JOB_URL": "https://gitlab.example.com/team/app/-/jobs/777"})
	cfg := DefaultFor("host", env)
	d, err := cfg.Decide(Input{Path: "/builds/team/app/build/test-results/test/TEST-a.xml", Root: "/builds/team/app/build/test-results", Env: env,
		Report: ReportFacts{Start: time.Date(2026, 11, 20, 10, 3, 0, 0, time.UTC), Runs: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rule != "default (GitLab CI)" || d.Server.InstanceID != "gitlab:gitlab.example.com" || d.Server.Type != "gitlab" || d.Pipeline != "team/app" ||
		d.Job != "team/app/unit" || d.Build != "777" || d.BuildName != "#777 (pipeline #12)" || !d.Start.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) ||
		d.From["start"] != "rule" || !strings.HasSuffix(d.BuildURL, "/jobs/777") {
		t.Errorf("%+v", d)
	}
	if rules := DefaultFor("host", testkit.LookupEnv(nil)); rules[0].Name != "default" || rules[0].CI != nil {
		t.Errorf("outside a CI: %+v", rules[0])
	}
}
