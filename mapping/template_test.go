package mapping

import (
	"strings"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

func testContext() *evalContext {
	env := map[string]string{"CI_REGION": "eu-west", "EMPTY": ""}
	return &evalContext{
		captures: map[string]string{"team": "Team_A", "job": "API", "build": "build-17", "x": "  padded  "},
		manifest: map[string]string{"job": "nightly", "server.instance_id": "jenkins-1"},
		props:    map[string]string{"browser": "Chrome", "os.name": "Linux"},
		env:      testkit.LookupEnv(env),
		file:     fileValues("/drops/teamA/api/17/TEST-a.b.xml", "teamA/api/17/TEST-a.b.xml", "/drops"),
	}
}

func TestTemplateEval(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"plain text", "plain text"},
		{"", ""},
		{"#{build}", "#build-17"},
		{"{team}-{job}", "Team_A-API"},
		{"{manifest.job}", "nightly"},
		{"{manifest.server.instance_id}", "jenkins-1"},
		{"{manifest.missing}", ""},
		{"{property.browser}", "Chrome"},
		{"{property.os.name}", "Linux"},
		{"{env.CI_REGION}", "eu-west"},
		{"{env.NOT_SET}", ""},
		{"{file.name}", "TEST-a.b.xml"},
		{"{file.stem}", "TEST-a.b"},
		{"{file.ext}", "xml"},
		{"{file.dir}", "teamA/api/17"},
		{"{file.parent}", "17"},
		{"{file.rel}", "teamA/api/17/TEST-a.b.xml"},
		{"{file.path}", "/drops/teamA/api/17/TEST-a.b.xml"},
		{"{file.root}", "drops"},
		{"{job|lower}", "api"},
		{"{team|upper}", "TEAM_A"},
		{"{x|trim}", "padded"},
		{"{build|trimprefix:build-}", "17"},
		{"{build|trimprefix:nope}", "build-17"},
		{"{file.name|trimsuffix:.xml}", "TEST-a.b"},
		{"{team|replace:_:-}", "Team-A"},
		{"{team|replace::-}", "Team_A"}, // replacing "" is a no-op, not an insertion everywhere
		{"{team|replace:_:}", "TeamA"},
		{"{env.EMPTY|default:none}", "none"},
		{"{job|default:none}", "API"},
		{"{team|replace:_:-|lower}", "team-a"},
		{"{job | lower}", "api"},
		{`{build|replace:-:\:}`, "build:17"},
		{`{team|replace:_:\|}`, "Team|A"},
		{`{team|replace:_:\}}`, "Team}A"},
		{"{{literal}}", "{literal}"},
		{"a{{b}}c-{job}", "a{b}c-API"},
	}
	ctx := testContext()
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			tp, err := parseTemplate(tc.tmpl)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := tp.eval(ctx); got != tc.want {
				t.Errorf("eval = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTemplateFileValuesAtRoot(t *testing.T) {
	f := fileValues("/drops/r.xml", "r.xml", "/drops")
	if f["dir"] != "." || f["parent"] != "drops" || f["root"] != "drops" || f["stem"] != "r" {
		t.Errorf("file values at the root: %v", f)
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"{job", "unclosed {"},
		{"job}", "unexpected }"},
		{"{}", "empty {}"},
		{"{ }", "empty {}"},
		{"{job|shout}", `unknown function "shout"`},
		{"{job|lower:x}", "lower takes 0 argument(s), got 1"},
		{"{job|replace:a}", "replace takes 2 argument(s), got 1"},
		{"{job|trimprefix}", "trimprefix takes 1 argument(s), got 0"},
		{"{job:x}", "unexpected : in the variable name"},
		{"{a{b}}", "{ inside {...}"},
		{"{file.size}", "is not a file value"},
		{"{manifest.}", "names no manifest value"},
		{"{props.x}", `unknown prefix "props"`},
		{"{1job}", "not a valid capture name"},
		{`{job\`, "lone backslash"},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			_, err := parseTemplate(tc.tmpl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestTemplateCaptureRefs(t *testing.T) {
	tp, err := parseTemplate("{team}-{manifest.job}-{build|lower}-{file.name}-{env.X}")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tp.captureRefs(), ",")
	if got != "team,build" {
		t.Errorf("captureRefs = %q, want team,build", got)
	}
	if tp.isLiteral() {
		t.Error("isLiteral true for a template with references")
	}
	lit, _ := parseTemplate("a{{b}}")
	if !lit.isLiteral() {
		t.Error("isLiteral false for a literal")
	}
}
