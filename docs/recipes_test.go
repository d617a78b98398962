// Package docs_test runs what the documentation tells users to run: the recipes of
// docs/recipes/ (CI steps, cron, systemd, container), the layouts of the mapping cookbook
// (docs/cookbook.md) and the command lines of the Markdown pages, against a binary built
// once and a stand-in Octane (`octane-import sandbox`) started as a process.
//
// A recipe marks the lines it wants run between two comments:
//
//	# octane-import:recipe begin
//	octane-import scan ...
//	# octane-import:recipe end
//
// The tests extract those lines, replace the paths of a real machine by temporary ones
// (see machinePaths), run them with bash and check exit codes and output.
package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestMain removes the binary the tests built (testkit.Binary) and the PostgreSQL server
// of the tests that started one, once they are done.
func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m))
}

// ---------------------------------------------------------------------------------------
// Helpers

const (
	beginMarker = "# octane-import:recipe begin"
	endMarker   = "# octane-import:recipe end"
)

// markedBlocks returns the text between each pair of markers, with the common indentation
// removed. It fails the test on an unpaired marker.
func markedBlocks(t *testing.T, name, text string) []string {
	t.Helper()
	var blocks []string
	var cur []string
	in := false
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch trimmed {
		case beginMarker:
			if in {
				t.Fatalf("%s:%d: %q inside a marked block", name, i+1, beginMarker)
			}
			in, cur = true, nil
		case endMarker:
			if !in {
				t.Fatalf("%s:%d: %q without a begin", name, i+1, endMarker)
			}
			in = false
			blocks = append(blocks, dedent(cur))
		default:
			if in {
				cur = append(cur, line)
			}
		}
	}
	if in {
		t.Fatalf("%s: %q without an end", name, beginMarker)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no marked block (%q ... %q)", name, beginMarker, endMarker)
	}
	return blocks
}

func dedent(lines []string) string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func readRecipe(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("recipes", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// machine is a temporary stand-in for the paths of a server the recipes name.
type machine struct {
	root    string
	bin     string // the octane-import binary under test, for /usr/local/bin/octane-import
	sandbox *sandbox
}

// machinePaths are the absolute paths the recipes use, in the order they are replaced.
var machinePaths = []string{"/usr/local/bin/octane-import", "/etc/octane-import", "/srv/ci-drops", "/var/lib/octane-import"}

// newMachine lays out etc, srv/ci-drops (a copy of testdata/builds) and var/lib under a
// temporary root, with docs/recipes/octane-import.yaml as the configuration, pointed at a
// fresh sandbox.
func newMachine(t *testing.T) *machine {
	t.Helper()
	m := &machine{root: t.TempDir(), bin: testkit.Binary(t), sandbox: startSandbox(t)}
	for _, d := range []string{"etc/octane-import", "var/lib/octane-import"} {
		if err := os.MkdirAll(filepath.Join(m.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testkit.CopyTreeTo(t, filepath.Join("..", "testdata", "builds"), filepath.Join(m.root, "srv", "ci-drops"))
	cfg := m.subst(readRecipe(t, "octane-import.yaml"))
	cfg = strings.Replace(cfg, "client_id: octane-import", "client_id: "+sandboxClientID, 1)
	cfg = strings.Replace(cfg, "https://octane.example.com", m.sandbox.url, 1)
	testkit.WriteFile(t, filepath.Join(m.root, "etc", "octane-import", "octane-import.yaml"), cfg)
	testkit.WriteFile(t, filepath.Join(m.root, "etc", "octane-import", "client-secret"), sandboxSecret+"\n")
	return m
}

// subst replaces the machine paths of a recipe by the temporary ones.
func (m *machine) subst(s string) string {
	for _, p := range machinePaths {
		local := filepath.Join(m.root, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if p == "/usr/local/bin/octane-import" {
			local = m.bin
		}
		s = strings.ReplaceAll(s, p, local)
	}
	return s
}

func (m *machine) config() string {
	return filepath.Join(m.root, "etc", "octane-import", "octane-import.yaml")
}

// Credentials of the sandbox (the sandbox's defaults, printed by `octane-import sandbox`).
const (
	sandboxClientID = "sandbox-client"
	sandboxSecret   = "sandbox-secret"
)

type sandbox struct {
	url string
}

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// startSandbox runs `octane-import sandbox --listen 127.0.0.1:0` as a process and reads its
// address from the first line it prints. It stops with the test, and must exit 0 on SIGTERM.
func startSandbox(t *testing.T) *sandbox {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), "sandbox", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("sandbox did not stop cleanly on SIGTERM: %v\n%s", err, stderr.String())
		}
	})
	select {
	case line := <-lines:
		m := listenLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("sandbox printed %q, want %q", line, "... listening on http://...")
		}
		return &sandbox{url: m[1]}
	case <-time.After(15 * time.Second):
		t.Fatalf("sandbox printed nothing in 15s; stderr: %s", stderr.String())
	}
	return nil
}

// page is the sandbox's read-only HTML page: what it holds.
func (s *sandbox) page(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

type result struct {
	stdout, stderr string
	code           int
}

// cleanEnv is a minimal environment (as cron or a CI runner gives) with the binary on PATH:
// no variable of the machine running the tests leaks into a recipe.
func cleanEnv(t *testing.T, extra map[string]string) []string {
	t.Helper()
	env := []string{
		"PATH=" + filepath.Dir(testkit.Binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8",
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// runBash runs a script with bash -eu -o pipefail in dir.
func runBash(t *testing.T, dir string, env map[string]string, script string, args ...string) result {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, append([]string{"-euo", "pipefail", "-c", script, "recipe"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(t, env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %q: %v", script, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

func expectOK(t *testing.T, r result, wants ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, wants...)
}

// ---------------------------------------------------------------------------------------
// Every recipe has a test.

// recipeTests names the test that covers each file of docs/recipes/.
var recipeTests = map[string]string{
	"README.md":                   "(index)",
	"ci-octane-import.yaml":       "TestRecipeJenkins, TestRecipeGitLab, TestRecipeGitHubActions",
	"octane-import.yaml":          "TestRecipeCron, TestRecipeBackfill, TestRecipeSystemd, TestRecipeContainerfile",
	"Jenkinsfile":                 "TestRecipeJenkins",
	"gitlab-ci.yml":               "TestRecipeGitLab",
	"github-actions.yml":          "TestRecipeGitHubActions",
	"crontab":                     "TestRecipeCron",
	"backfill.sh":                 "TestRecipeBackfill",
	"octane-import-watch.service": "TestRecipeSystemd",
	"Containerfile":               "TestRecipeContainerfile",
}

func TestEveryRecipeIsTested(t *testing.T) {
	entries, err := os.ReadDir("recipes")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Name()] = true
		if _, ok := recipeTests[e.Name()]; !ok {
			t.Errorf("docs/recipes/%s has no test: add one to docs/recipes_test.go and to recipeTests", e.Name())
		}
	}
	for name := range recipeTests {
		if !seen[name] {
			t.Errorf("recipeTests names docs/recipes/%s, which does not exist", name)
		}
	}
}

// ---------------------------------------------------------------------------------------
// CI recipes

// ciWorkspace is a checkout after the tests ran: the repository's ci/octane-import.yaml
// (docs/recipes/ci-octane-import.yaml pointed at the sandbox) and three Surefire reports
// without a manifest in target/surefire-reports.
func ciWorkspace(t *testing.T, sb *sandbox) string {
	t.Helper()
	ws := t.TempDir()
	cfg := strings.Replace(readRecipe(t, "ci-octane-import.yaml"), "https://octane.example.com", sb.url, 1)
	testkit.WriteFile(t, filepath.Join(ws, "ci", "octane-import.yaml"), cfg)
	testkit.CopyTreeTo(t, filepath.Join("..", "testdata", "builds", "payments", "unit", "1041", "surefire-reports"),
		filepath.Join(ws, "target", "surefire-reports"))
	return ws
}

func ciCredentials(env map[string]string) map[string]string {
	env["OCTANE_CLIENT_ID"] = sandboxClientID
	env["OCTANE_CLIENT_SECRET"] = sandboxSecret
	return env
}

func TestRecipeJenkins(t *testing.T) {
	text := readRecipe(t, "Jenkinsfile")
	checkGroovy(t, text)
	for _, want := range []string{"post {", "always {", "credentialsId: 'octane-api-key'", "usernameVariable: 'OCTANE_CLIENT_ID'", "passwordVariable: 'OCTANE_CLIENT_SECRET'"} {
		mustContain(t, "Jenkinsfile", text, want)
	}
	blocks := markedBlocks(t, "Jenkinsfile", text)
	sb := startSandbox(t)
	ws := ciWorkspace(t, sb)
	env := ciCredentials(map[string]string{
		"JENKINS_URL":  "https://jenkins.example.com/",
		"JOB_NAME":     "payments/unit",
		"BUILD_NUMBER": "57",
		"WORKSPACE":    ws,
	})
	// The sh step of a Groovy ''' string: a backslash-newline is a shell line continuation.
	script := strings.Join(blocks, "\n")
	expectOK(t, runBash(t, ws, env, script), "jenkins-acme/payments-unit#57", "Files: 3 imported.")
	mustContain(t, "sandbox page", sb.page(t), "jenkins-acme", "payments-unit")
	// Jenkins re-runs post steps (replay, a retried stage): the ledger in the workspace
	// makes the second run send nothing.
	expectOK(t, runBash(t, ws, env, script), "Files: 3 unchanged.")
	if _, err := os.Stat(filepath.Join(ws, ".octane-import.state")); err != nil {
		t.Errorf("the ledger is not in the workspace: %v", err)
	}
}

// checkGroovy is what can be checked of a Groovy file without Groovy: balanced braces,
// brackets and parentheses outside strings and comments, and closed ”' strings.
func checkGroovy(t *testing.T, text string) {
	t.Helper()
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	line := 1
	for i := 0; i < len(text); i++ {
		c := rune(text[i])
		switch {
		case c == '\n':
			line++
		case strings.HasPrefix(text[i:], "//"):
			for i < len(text) && text[i] != '\n' {
				i++
			}
			line++
		case strings.HasPrefix(text[i:], "'''"):
			end := strings.Index(text[i+3:], "'''")
			if end < 0 {
				t.Fatalf("Jenkinsfile:%d: ''' string not closed", line)
			}
			line += strings.Count(text[i:i+3+end+3], "\n")
			i += 3 + end + 2
		case c == '\'' || c == '"':
			end := strings.IndexByte(text[i+1:], byte(c))
			if end < 0 || strings.Contains(text[i+1:i+1+end], "\n") {
				t.Fatalf("Jenkinsfile:%d: string not closed on its line", line)
			}
			i += end + 1
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case pairs[c] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				t.Fatalf("Jenkinsfile:%d: unbalanced %q", line, c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		t.Fatalf("Jenkinsfile: %d brackets not closed", len(stack))
	}
	if groovy, err := exec.LookPath("groovy"); err == nil {
		t.Logf("groovy at %s is not used: a Jenkinsfile needs Jenkins' pipeline DSL to compile", groovy)
	}
}

// yamlStrings collects every string value of a YAML document, depth first.
func yamlStrings(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			yamlStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			yamlStrings(e, out)
		}
	}
}

func parseYAML(t *testing.T, name string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(readRecipe(t, name)), &doc); err != nil {
		t.Fatalf("docs/recipes/%s: %v", name, err)
	}
	return doc
}

// markedFromYAML returns the marked blocks inside the string values of a YAML node: the
// markers are shell comments inside a `script` or `run` block.
func markedFromYAML(t *testing.T, name string, node any) []string {
	t.Helper()
	var strs []string
	yamlStrings(node, &strs)
	var blocks []string
	for _, s := range strs {
		if strings.Contains(s, beginMarker) {
			blocks = append(blocks, markedBlocks(t, name, s)...)
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no marked block in a script", name)
	}
	return blocks
}

func TestRecipeGitLab(t *testing.T) {
	doc := parseYAML(t, "gitlab-ci.yml")
	job, ok := doc["octane-import"].(map[string]any)
	if !ok {
		t.Fatal("gitlab-ci.yml: no job octane-import")
	}
	if job["when"] != "always" {
		t.Errorf("the import job runs when %v, want always (it must run when tests fail)", job["when"])
	}
	needs := fmt.Sprint(job["needs"])
	mustContain(t, "needs", needs, "job:test", "artifacts:true")
	test, _ := doc["test"].(map[string]any)
	mustContain(t, "test job's artifacts", fmt.Sprint(test["artifacts"]), "when:always", "target/surefire-reports")

	sb := startSandbox(t)
	ws := ciWorkspace(t, sb)
	env := ciCredentials(map[string]string{
		"GITLAB_CI":       "true",
		"CI_SERVER_HOST":  "gitlab.example.com",
		"CI_SERVER_URL":   "https://gitlab.example.com",
		"CI_PROJECT_PATH": "acme/payments",
		"CI_PIPELINE_IID": "311",
		"CI_PROJECT_DIR":  ws,
	})
	script := strings.Join(markedFromYAML(t, "gitlab-ci.yml", job["script"]), "\n")
	expectOK(t, runBash(t, ws, env, script))
	// The job keeps the JSON lines as an artifact: the last one is the summary.
	data, err := os.ReadFile(filepath.Join(ws, "octane-import.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var sum struct {
		Type     string         `json:"type"`
		Outcomes map[string]int `json:"outcomes"`
		Exit     int            `json:"exit_code"`
		Builds   []struct {
			Build struct{ Server, Job, Build string } `json:"build"`
		} `json:"builds"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line of octane-import.jsonl: %v\n%s", err, data)
	}
	if sum.Type != "summary" || sum.Outcomes["imported"] != 3 || sum.Exit != 0 {
		t.Errorf("summary %+v, want 3 imported, exit 0", sum)
	}
	if len(sum.Builds) != 1 || sum.Builds[0].Build.Server != "gitlab.example.com" || sum.Builds[0].Build.Job != "acme-payments" || sum.Builds[0].Build.Build != "311" {
		t.Errorf("builds %+v, want gitlab.example.com/acme-payments#311", sum.Builds)
	}
	mustContain(t, "sandbox page", sb.page(t), "gitlab.example.com", "acme-payments")
}

func TestRecipeGitHubActions(t *testing.T) {
	doc := parseYAML(t, "github-actions.yml")
	jobs, _ := doc["jobs"].(map[string]any)
	job, _ := jobs["test"].(map[string]any)
	steps, _ := job["steps"].([]any)
	var step map[string]any
	for _, s := range steps {
		m, _ := s.(map[string]any)
		if run, _ := m["run"].(string); strings.Contains(run, beginMarker) {
			step = m
		}
	}
	if step == nil {
		t.Fatal("github-actions.yml: no step runs a marked block")
	}
	if cond, _ := step["if"].(string); !strings.Contains(cond, "!cancelled()") {
		t.Errorf("the import step runs if %q, want !cancelled() (it must run when tests fail)", cond)
	}
	stepEnv, _ := step["env"].(map[string]any)
	for _, k := range []string{"OCTANE_CLIENT_ID", "OCTANE_CLIENT_SECRET"} {
		if v, _ := stepEnv[k].(string); !strings.Contains(v, "secrets."+k) {
			t.Errorf("step env %s = %q, want it from secrets.%s", k, v, k)
		}
	}

	sb := startSandbox(t)
	ws := ciWorkspace(t, sb)
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	env := ciCredentials(map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_REPOSITORY":   "acme/payments",
		"GITHUB_JOB":          "test",
		"GITHUB_RUN_NUMBER":   "12",
		"GITHUB_RUN_ATTEMPT":  "2",
		"GITHUB_WORKSPACE":    ws,
		"GITHUB_STEP_SUMMARY": summary,
	})
	script := strings.Join(markedFromYAML(t, "github-actions.yml", step["run"]), "\n")
	expectOK(t, runBash(t, ws, env, script), "github-acme-payments/acme-payments-test#12.2", "Files: 3 imported.")
	data, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "step summary", string(data), "Files: 3 imported.")
	mustContain(t, "sandbox page", sb.page(t), "github-acme-payments")
}

// TestRecipeCIFailsWithoutTests checks the promise of --fail-on-no-tests in the CI recipes:
// a build whose tests did not run (no reports) fails its import step.
func TestRecipeCIFailsWithoutTests(t *testing.T) {
	sb := startSandbox(t)
	ws := ciWorkspace(t, sb)
	if err := os.RemoveAll(filepath.Join(ws, "target", "surefire-reports")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ws, "target", "surefire-reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := ciCredentials(map[string]string{"JENKINS_URL": "https://jenkins.example.com/", "JOB_NAME": "j", "BUILD_NUMBER": "1", "WORKSPACE": ws})
	r := runBash(t, ws, env, strings.Join(markedBlocks(t, "Jenkinsfile", readRecipe(t, "Jenkinsfile")), "\n"))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (no tests)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "no test runs found")
}

// ---------------------------------------------------------------------------------------
// Cron, backfill

var cronField = regexp.MustCompile(`^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$`)

func TestRecipeCron(t *testing.T) {
	m := newMachine(t)
	blocks := markedBlocks(t, "crontab", readRecipe(t, "crontab"))
	var commands []string
	for _, b := range blocks {
		for _, line := range strings.Split(strings.TrimSpace(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 7 {
				t.Fatalf("crontab line %q: want minute hour dom month dow user command", line)
			}
			limits := [][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
			for i, field := range f[:5] {
				if !cronField.MatchString(field) {
					t.Errorf("crontab line %q: field %d %q is not a cron field", line, i+1, field)
				}
				for _, n := range regexp.MustCompile(`\d+`).FindAllString(strings.SplitN(field, "/", 2)[0], -1) {
					if v, _ := strconv.Atoi(n); v < limits[i][0] || v > limits[i][1] {
						t.Errorf("crontab line %q: %d out of range in field %d", line, v, i+1)
					}
				}
			}
			if f[5] != "octane-import" {
				t.Errorf("crontab line %q runs as %q, want the octane-import user", line, f[5])
			}
			if !strings.HasPrefix(f[6], "/") {
				t.Errorf("crontab line %q: cron's PATH is short, call the binary by its absolute path", line)
			}
			commands = append(commands, strings.Join(f[6:], " "))
		}
	}
	for _, c := range commands {
		script := m.subst(c)
		// First night: everything is new. Second night: nothing is sent twice. Both nights
		// all goes well, so --quiet prints nothing at all: cron mails nothing.
		for night := 1; night <= 2; night++ {
			r := runBash(t, m.root, nil, script)
			expectOK(t, r)
			if r.stdout != "" || r.stderr != "" {
				t.Errorf("night %d: a --quiet run that went well wrote %d bytes (cron would mail them):\n%s%s",
					night, len(r.stdout)+len(r.stderr), r.stdout, r.stderr)
			}
		}
		st := runBash(t, m.root, nil, strings.Replace(script, " scan ", " status ", 1))
		expectOK(t, st, "accepted  8")
	}
	if _, err := os.Stat(filepath.Join(m.root, "var", "lib", "octane-import", "state.db")); err != nil {
		t.Errorf("the ledger is not at settings.state: %v", err)
	}
}

func TestRecipeBackfill(t *testing.T) {
	if out, err := exec.Command("date", "-u", "-d", "2026-01-01 +1 month", "+%Y-%m-%d").Output(); err != nil || strings.TrimSpace(string(out)) != "2026-02-01" {
		t.Skip("backfill.sh needs GNU date")
	}
	m := newMachine(t)
	script, err := filepath.Abs(filepath.Join("recipes", "backfill.sh"))
	if err != nil {
		t.Fatal(err)
	}
	markedBlocks(t, "backfill.sh", readRecipe(t, "backfill.sh")) // the markers are in place
	// The example builds all started on 2026-11-20: October imports nothing, November all.
	r := runBash(t, m.root, nil, `exec "$@"`, script, m.config(), "2026-10", "2026-11")
	expectOK(t, r, "== 2026-10", "== 2026-11", "Files: 8 imported.")
	if i, j := strings.Index(r.stdout, "== 2026-10"), strings.Index(r.stdout, "== 2026-11"); i > j {
		t.Errorf("months out of order:\n%s", r.stdout)
	}
	// Started again: nothing is sent twice.
	r = runBash(t, m.root, nil, `exec "$@"`, script, m.config(), "2026-11", "2026-11")
	expectOK(t, r)
	if strings.Contains(r.stdout, "imported") {
		t.Errorf("second backfill imported again:\n%s", r.stdout)
	}
	r = runBash(t, m.root, nil, `octane-import status --config "$1" --output json`, m.config())
	expectOK(t, r, `"accepted":8`)
}

// ---------------------------------------------------------------------------------------
// Services: systemd, container

// runWatch starts a watch command line, waits until its /metrics show imported files,
// sends SIGTERM and expects exit 0 and JSON logs on stderr.
func runWatch(t *testing.T, dir string, argv []string, health string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(t, env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	// The seven reports with a manifest import after --settle; the nightly smoke report has
	// no manifest and waits manifest_wait (30 s) for one: it is not waited for here.
	deadline := time.Now().Add(30 * time.Second)
	imported := -1.0
	for time.Now().Before(deadline) && imported < 7 {
		time.Sleep(200 * time.Millisecond)
		imported = metric(health, "octane_import_files_imported_total")
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("watch exited early: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
	}
	if imported < 7 {
		t.Errorf("after 30 s, %v files imported, want 7\nstderr:\n%s", imported, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("watch after SIGTERM: %v, want exit 0\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("watch did not stop within 20 s of SIGTERM\nstderr:\n%s", stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !json.Valid([]byte(line)) {
			t.Errorf("--log-format json wrote a line that is not JSON: %q", line)
		}
	}
	mustContain(t, "logs", stderr.String(), `"msg":"watch stopped"`)
}

// metric reads one value from the Prometheus text of /metrics (-1 when unreachable).
func metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// unitFile is a systemd unit: section → key → values (in order).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("octane-import-watch.service:%d: %q is not key=value in a section", i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func TestRecipeSystemd(t *testing.T) {
	text := readRecipe(t, "octane-import-watch.service")
	u := parseUnit(t, text)
	svc := u["Service"]
	for k, want := range map[string]string{"Type": "simple", "KillSignal": "SIGTERM", "User": "octane-import", "StateDirectory": "octane-import"} {
		if got := svc[k]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %v, want %s", k, got, want)
		}
	}
	if u["Install"]["WantedBy"] == nil {
		t.Error("[Install] has no WantedBy: `systemctl enable` would do nothing")
	}
	block := strings.TrimSpace(markedBlocks(t, "octane-import-watch.service", text)[0])
	exec0, ok := strings.CutPrefix(block, "ExecStart=")
	if !ok || len(svc["ExecStart"]) != 1 || svc["ExecStart"][0] != exec0 {
		t.Fatalf("the marked block is %q, want the one ExecStart= line of [Service]", block)
	}
	if strings.ContainsAny(exec0, `"'$%\`) {
		t.Fatalf("ExecStart %q uses quoting or specifiers: split it like systemd before running it", exec0)
	}

	m := newMachine(t)
	health := testkit.FreeAddr(t)
	line := strings.Replace(m.subst(exec0), "127.0.0.1:9090", health, 1)
	argv := strings.Fields(line)
	if argv[0] != m.bin {
		t.Fatalf("ExecStart runs %q, want /usr/local/bin/octane-import", argv[0])
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		verifyUnit(t, sa, m, text, line)
	} else {
		t.Log("systemd-analyze is not installed: the unit is not verified by systemd")
	}
	// systemd starts the service in / with the service user's environment.
	runWatch(t, "/", argv, health, nil)
}

// verifyUnit runs `systemd-analyze verify` on the unit with the machine's paths. Unknown
// users and a missing system manager are the machine's, not the unit's: only lines naming
// the unit file and a problem of its own fail the test.
func verifyUnit(t *testing.T, sa string, m *machine, text, execLine string) {
	t.Helper()
	dir := t.TempDir()
	unit := m.subst(text)
	unit = regexp.MustCompile(`(?m)^ExecStart=.*$`).ReplaceAllLiteralString(unit, "ExecStart="+execLine)
	path := filepath.Join(dir, "octane-import-watch.service")
	testkit.WriteFile(t, path, unit)
	out, _ := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(l, "octane-import-watch.service:") {
			continue
		}
		if strings.Contains(l, "Unknown key") || strings.Contains(l, "Unknown section") || strings.Contains(l, "Invalid") ||
			strings.Contains(l, "Failed to parse") || strings.Contains(l, "is not executable") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	t.Logf("systemd-analyze verify:\n%s", out)
}

// containerfile is the instructions of a Containerfile: keyword and arguments, with line
// continuations joined.
type instruction struct{ keyword, args string }

func parseContainerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		kw, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(kw), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The image itself cannot be built here (no container engine in the test environment):
// this test runs the Containerfile's build command and the command line its final stage
// starts (ENTRYPOINT + CMD), outside a container.
func TestRecipeContainerfile(t *testing.T) {
	text := readRecipe(t, "Containerfile")
	ins := parseContainerfile(t, text)
	known := map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ARG": true, "ENV": true,
		"VOLUME": true, "EXPOSE": true, "USER": true, "ENTRYPOINT": true, "CMD": true, "LABEL": true}
	var build string
	var entrypoint, cmdArgs []string
	args := map[string]string{}
	stages := 0
	for _, in := range ins {
		if !known[in.keyword] {
			t.Errorf("Containerfile: unknown instruction %s", in.keyword)
		}
		switch in.keyword {
		case "FROM":
			stages++
		case "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case "RUN":
			if strings.Contains(in.args, "go build") {
				build = in.args
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: want the exec (JSON) form, so that octane-import is PID 1 and gets SIGTERM: %v", in.args, err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in.args), &cmdArgs); err != nil {
				t.Fatalf("CMD %s: want the exec (JSON) form: %v", in.args, err)
			}
		}
	}
	if stages != 2 || build == "" || len(entrypoint) == 0 {
		t.Fatalf("Containerfile: %d stages, build %q, entrypoint %v: want a build stage running go build and a final stage with ENTRYPOINT", stages, build, entrypoint)
	}
	blocks := markedBlocks(t, "Containerfile", text)
	mustContain(t, "marked blocks", strings.Join(blocks, ""), "RUN "+build, "ENTRYPOINT", "CMD")

	// The build command, as the RUN runs it (sh -c in /src = the repository), into /out.
	out := t.TempDir()
	src, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VERSION": "v9.9.9", "COMMIT": "feedface", "DATE": "2026-11-27"}
	for k := range args {
		if _, ok := env[k]; !ok {
			t.Errorf("ARG %s is not given by the test", k)
		}
	}
	env["GOCACHE"] = goEnv(t, "GOCACHE")
	env["GOMODCACHE"] = goEnv(t, "GOMODCACHE")
	env["GOFLAGS"] = "-mod=mod"
	env["GOTOOLCHAIN"] = "local"
	r := runBash(t, src, env, strings.ReplaceAll(build, "/out/", out+"/"))
	if r.code != 0 {
		t.Fatalf("the Containerfile's build command: exit %d\n%s", r.code, r.stderr)
	}
	built := filepath.Join(out, "octane-import")
	v, err := exec.Command(built, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(v)), "octane-import v9.9.9 (commit feedface, built 2026-11-27)"; got != want {
		t.Errorf("--version of the image's binary = %q, want %q", got, want)
	}

	// The final stage's command line: ENTRYPOINT + CMD, with the mounted paths.
	m := newMachine(t)
	health := testkit.FreeAddr(t)
	argv := append(append([]string{}, entrypoint...), cmdArgs...)
	for i := range argv {
		argv[i] = strings.Replace(m.subst(argv[i]), "0.0.0.0:9090", health, 1)
	}
	if argv[0] != m.bin {
		t.Fatalf("ENTRYPOINT runs %q, want /usr/local/bin/octane-import", argv[0])
	}
	argv[0] = built
	runWatch(t, "/", argv, health, nil)
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
