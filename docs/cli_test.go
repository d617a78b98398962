package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestReadmeWalkthrough runs the README's five-minute walk through: its configuration
// pointed at a sandbox process instead of 127.0.0.1:8080, then each of its commands.
func TestReadmeWalkthrough(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	block := func(marker string) string {
		i := strings.Index(readme, marker)
		if i < 0 {
			t.Fatalf("README.md: no %s", marker)
		}
		rest := readme[i:]
		start := strings.Index(rest, "```")
		body := rest[start:]
		body = body[strings.Index(body, "\n")+1:]
		return body[:strings.Index(body, "```")]
	}
	sb := startSandbox(t)
	dir := t.TempDir()
	testkit.CopyTreeTo(t, filepath.Join("..", "testdata", "builds"), filepath.Join(dir, "testdata", "builds"))
	testkit.WriteFile(t, filepath.Join(dir, "octane-import.yaml"), strings.ReplaceAll(block("<!-- walkthrough:config -->"), "http://127.0.0.1:8080", sb.url))

	commands := strings.Split(strings.TrimSpace(block("<!-- walkthrough:commands -->")), "\n")
	env := map[string]string{}
	wants := map[int][]string{ // by the command's position among the octane-import lines
		0: {"octane-import.yaml: ok (1 target, no sources, 1 rule)"},
		1: {"rule:          team-job-build", "job:           payments-unit"},
		2: {"Dry run: nothing was sent.", "4 builds, 56 test runs"},
		3: {"Files: 8 imported.", "Test runs: 53 passed, 1 failed, 2 skipped in 4 builds"},
		4: {"Files: 8 unchanged."},
		5: {"Ledger octane-import.state", "Test runs imported: 53 passed, 1 failed, 2 skipped."},
	}
	n := 0
	for _, c := range commands {
		c = strings.TrimSpace(strings.SplitN(c, "#", 2)[0])
		if k, v, ok := strings.Cut(strings.TrimPrefix(c, "export "), "="); ok && strings.HasPrefix(c, "export ") {
			env[k] = v
			continue
		}
		if !strings.HasPrefix(c, "octane-import ") {
			t.Fatalf("walk-through line %q: want export or octane-import", c)
		}
		r := runBash(t, dir, env, c)
		expectOK(t, r, wants[n]...)
		n++
	}
	if n != len(wants) {
		t.Errorf("the walk-through has %d octane-import commands, the test expects %d", n, len(wants))
	}
	mustContain(t, "sandbox page", sb.page(t), "my-laptop", "payments-unit", "web-e2e", "nightly-smoke")
}

var (
	commandLine = regexp.MustCompile(`(?:^|[\s(|;&` + "`" + `])octane-import((?: +[^\s|;&#>` + "`" + `)]+)*)`)
	flagWord    = regexp.MustCompile(`^(--?[a-zA-Z][a-zA-Z0-9-]*)`)
)

// TestDocumentedCommandLines checks every octane-import command line in the Markdown pages
// this documentation owns and in the recipes: the command exists and each flag is one it takes.
func TestDocumentedCommandLines(t *testing.T) {
	help := map[string]string{}
	helpOf := func(cmd string) string {
		if h, ok := help[cmd]; ok {
			return h
		}
		args := append(strings.Fields(cmd), "--help")
		out, err := exec.Command(testkit.Binary(t), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("octane-import %s --help: %v\n%s", cmd, err, out)
		}
		help[cmd] = string(out)
		return help[cmd]
	}
	root := helpOf("")
	commands := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) {2,}`).FindAllStringSubmatch(root, -1) {
		commands[m[1]] = true
	}
	files := []string{"../README.md", "cookbook.md", "cli.md", "operations.md", "troubleshooting.md", "recipes/README.md"}
	recipes, _ := filepath.Glob("recipes/*")
	files = append(files, recipes...)
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "\\\n", " ")
		for i, line := range strings.Split(text, "\n") {
			for _, m := range commandLine.FindAllStringSubmatch(line, -1) {
				words := strings.Fields(m[1])
				if len(words) == 0 || strings.HasPrefix(words[0], "-") && words[0] != "--version" && words[0] != "--help" {
					continue
				}
				cmd := ""
				if !strings.HasPrefix(words[0], "-") {
					cmd = words[0]
					if !commands[cmd] {
						// Prose ("octane-import puts ...") rather than a command line.
						if regexp.MustCompile(`^[a-z]+$`).MatchString(cmd) && strings.Contains(line, "`octane-import "+cmd) {
							t.Errorf("%s:%d: `octane-import %s`: no such command", f, i+1, cmd)
						}
						continue
					}
					words = words[1:]
					// A command's own commands (ledger copy): the flags are the subcommand's.
					if len(words) > 0 && regexp.MustCompile(`(?m)^  `+regexp.QuoteMeta(words[0])+` {2,}`).MatchString(helpOf(cmd)) {
						cmd += " " + words[0]
						words = words[1:]
					}
				}
				h := helpOf(cmd)
				for _, w := range words {
					fm := flagWord.FindStringSubmatch(w)
					if fm == nil {
						continue
					}
					flag := fm[1]
					if strings.HasPrefix(flag, "--") {
						if !strings.Contains(h, "  "+flag+" ") && !strings.Contains(h, ", "+flag+" ") && !strings.Contains(h, "  "+flag+"\n") {
							t.Errorf("%s:%d: octane-import %s does not take %s", f, i+1, cmd, flag)
						}
					} else if len(flag) == 2 || regexp.MustCompile(`^-v+$`).MatchString(flag) {
						if !strings.Contains(h, "  "+flag[:2]+", ") {
							t.Errorf("%s:%d: octane-import %s does not take %s", f, i+1, cmd, flag)
						}
					}
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d command lines found: is the pattern still right?", checked)
	}
}

// TestEveryFlagIsInCLIDoc is the other direction: every flag of every command, as its --help
// lists it, is named in cli.md, so that a flag added to a command is not left out of the doc.
func TestEveryFlagIsInCLIDoc(t *testing.T) {
	doc, err := os.ReadFile("cli.md")
	if err != nil {
		t.Fatal(err)
	}
	helpOf := func(cmd string) string {
		out, err := exec.Command(testkit.Binary(t), append(strings.Fields(cmd), "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("octane-import %s --help: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	commandsIn := func(help string) []string {
		var cmds []string
		if _, list, ok := strings.Cut(help, "Available Commands:\n"); ok {
			list, _, _ = strings.Cut(list, "\n\n")
			for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) {2,}`).FindAllStringSubmatch(list, -1) {
				if m[1] != "help" && m[1] != "completion" {
					cmds = append(cmds, m[1])
				}
			}
		}
		return cmds
	}
	flagLine := regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?(--[a-z0-9-]+)`)
	queue, seen := []string{""}, 0
	for len(queue) > 0 {
		cmd := queue[0]
		queue = queue[1:]
		help := helpOf(cmd)
		for _, sub := range commandsIn(help) {
			queue = append(queue, strings.TrimSpace(cmd+" "+sub))
		}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			if flag := m[1]; flag != "--help" && !strings.Contains(string(doc), "`"+flag) && !strings.Contains(string(doc), " "+flag) {
				t.Errorf("octane-import %s %s: not in docs/cli.md", cmd, flag)
			}
			seen++
		}
	}
	if seen < 30 {
		t.Errorf("only %d flags found in the --help texts: is the pattern still right?", seen)
	}
}
